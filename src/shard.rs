//! `--shard K/N`: keep only the input lines whose host belongs to shard K of
//! N, so that N machines can each read the same list and every host is
//! fetched by exactly one of them (per-host caps and rates then hold over the
//! whole fleet).
//!
//! A line's shard is a function of its host key alone, the string
//! `scheme://host:port` built by [`host_key`] from the URL the line is
//! fetched as (the URL rules of [`crate::target`]: default scheme for a line
//! without one, lower case, IDNA A-labels, one trailing dot of a domain name
//! dropped, the port always written, its scheme's default when the URL has
//! none). The hash is SHA-256 (FIPS 180-4)
//! of that string's UTF-8 bytes; its first 8 bytes, read as a big-endian
//! unsigned 64-bit number `h`, give the shard `1 + h mod N`. Any tool with
//! SHA-256 can compute it:
//!
//! ```text
//! printf %s 'https://example.com:443' | sha256sum | cut -c1-16   # h in hex
//! ```
//!
//! A line that cannot be fetched (not a URL, an unsupported scheme, not
//! UTF-8, over the length limit, an invalid `--input jsonl` spec) has no
//! host: it belongs to shard 1, so that across the fleet it still gets
//! exactly one record. With `--input jsonl` the spec's `url` decides.
//!
//! [`Shard::filter`] is the stream adapter the binary applies to the input
//! lines before the scheduler; the lines it drops are counted, for the
//! summary's `other_shard`.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::stream::{Stream, StreamExt};
use url::{Host, Url};

use crate::input::InputLine;
use crate::result::line_key;
use crate::target::{parse_url, DefaultScheme};

/// One shard of a run split over several machines (`--shard K/N`): shard
/// `index` of `count`, both 1-based, `1 <= index <= count`.
///
/// # Example
/// ```
/// use fetcher_stream::{DefaultScheme, InputLine, Shard};
///
/// let shard: Shard = "2/3".parse().unwrap();
/// assert_eq!(Shard::of_key("http://127.0.0.1:80", 3), 2);
/// assert!(shard.keeps(&InputLine::from("http://127.0.0.1/x"), DefaultScheme::Https));
/// // No host: shard 1.
/// assert!(!shard.keeps(&InputLine::from("not a url"), DefaultScheme::Https));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`, or `None` unless `1 <= index <= count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (1..=count)
            .contains(&index)
            .then_some(Shard { index, count })
    }

    /// K, from 1.
    pub fn index(self) -> u64 {
        self.index
    }

    /// N, the number of shards.
    pub fn count(self) -> u64 {
        self.count
    }

    /// The shard (1 to `count`) of the host key `key` (`scheme://host:port`,
    /// see [`host_key`]): `1 + h mod count`, where `h` is the first 8 bytes
    /// of the SHA-256 of `key` as a big-endian `u64`.
    ///
    /// # Panics
    /// When `count` is 0.
    pub fn of_key(key: &str, count: u64) -> u64 {
        1 + line_key(key.as_bytes()) % count
    }

    /// The shard (1 to `count`) of an input line: that of its URL's host key
    /// under `default_scheme`, or 1 for a line that cannot be fetched.
    pub fn of_line(line: &InputLine, default_scheme: DefaultScheme, count: u64) -> u64 {
        if line.problem.is_some() {
            return 1;
        }
        match parse_url(&line.text, default_scheme) {
            Ok(url) => Shard::of_key(&host_key(&url), count),
            Err(_) => 1,
        }
    }

    /// Whether `line` belongs to this shard.
    pub fn keeps(self, line: &InputLine, default_scheme: DefaultScheme) -> bool {
        Shard::of_line(line, default_scheme, self.count) == self.index
    }

    /// The lines of `lines` that belong to this shard, in order; each other
    /// line adds 1 to `other`.
    pub fn filter<S>(
        self,
        lines: S,
        default_scheme: DefaultScheme,
        other: Arc<AtomicU64>,
    ) -> impl Stream<Item = InputLine> + Send + 'static
    where
        S: Stream<Item = InputLine> + Send + 'static,
    {
        lines.filter(move |line| {
            let keep = self.keeps(line, default_scheme);
            if !keep {
                other.fetch_add(1, Ordering::Relaxed);
            }
            futures::future::ready(keep)
        })
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, two whole numbers with `1 <= K <= N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let shape = || format!("must be K/N with 1 <= K <= N (as 2/3), got '{s}'");
        let (k, n) = s.split_once('/').ok_or_else(shape)?;
        let number = |t: &str| {
            t.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| t.parse::<u64>().ok())
                .flatten()
        };
        let (k, n) = number(k).zip(number(n)).ok_or_else(shape)?;
        Shard::new(k, n).ok_or_else(shape)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The host key a shard is computed from: `scheme://host:port`, with the
/// URL's scheme, its host as the URL Standard serialises it (lower case,
/// IDNA A-labels, an IPv6 address in brackets) without one trailing dot of
/// a domain name (`example.com.`, the fully qualified form, names the same
/// server as `example.com`, so both go to one shard), and its port, the
/// scheme's default when the URL gives none (80 for http, 443 for https).
pub fn host_key(url: &Url) -> String {
    let host = match url.host() {
        Some(Host::Domain(name)) => name.strip_suffix('.').unwrap_or(name),
        _ => url.host_str().unwrap_or_default(),
    };
    format!(
        "{}://{}:{}",
        url.scheme(),
        host,
        url.port_or_known_default().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use sha2::{Digest as _, Sha256};

    /// The test vectors of the man page: key, the first 8 bytes of its
    /// SHA-256 in hex, its shard of 3 and its shard of 1000 (3 divides
    /// 256 - 1, so shards of 3 do not depend on the byte order; shards of
    /// 1000 do).
    const VECTORS: [(&str, &str, u64, u64); 5] = [
        ("https://example.com:443", "3276d403185d4a1a", 1, 611),
        ("http://127.0.0.1:80", "e79d0b65276c07c7", 2, 944),
        ("http://[::1]:8080", "23f440d84221348c", 2, 821),
        (
            "https://xn--bcher-kva.example:443",
            "35ece561c72f4c93",
            2,
            620,
        ),
        ("http://localhost:8080", "a76d8c3e94eba61f", 3, 264),
    ];

    #[test]
    fn vectors() {
        for (key, hex, of_3, of_1000) in VECTORS {
            let digest = Sha256::digest(key.as_bytes());
            let first: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(first, hex, "{key}");
            assert_eq!(Shard::of_key(key, 3), of_3, "{key}");
            assert_eq!(Shard::of_key(key, 1000), of_1000, "{key}");
            assert_eq!(Shard::of_key(key, 1), 1, "{key}");
        }
    }

    #[test]
    fn keys_follow_the_url_rules() {
        let key = |line: &str, scheme| host_key(&parse_url(line, scheme).unwrap());
        let https = DefaultScheme::Https;
        assert_eq!(key("EXAMPLE.com/x", https), "https://example.com:443");
        assert_eq!(
            key("example.com:80", DefaultScheme::Http),
            "http://example.com:80"
        );
        assert_eq!(
            key("HTTP://Example.COM:8080/a?b", https),
            "http://example.com:8080"
        );
        assert_eq!(
            key("http://bücher.example/", https),
            "http://xn--bcher-kva.example:80"
        );
        assert_eq!(key("http://[::1]/", https), "http://[::1]:80");
        assert_eq!(
            key("https://u:p@127.0.0.1:443/#f", https),
            "https://127.0.0.1:443"
        );
        // A fully qualified name (trailing dot) is the same host: one dot goes.
        assert_eq!(
            key("https://Example.Com.:443/", https),
            "https://example.com:443"
        );
        assert_eq!(key("example.com./a", https), "https://example.com:443");
        assert_eq!(
            key("http://bücher.example./", https),
            "http://xn--bcher-kva.example:80"
        );
        assert_eq!(key("http://127.0.0.1./", https), "http://127.0.0.1:80");
        assert_eq!(
            key("http://a.localhost.:81/", https),
            "http://a.localhost:81"
        );
    }

    #[test]
    fn lines_of_one_host_share_a_shard() {
        for n in 1..=7 {
            let of = |t: &str| Shard::of_line(&InputLine::from(t), DefaultScheme::Https, n);
            assert_eq!(of("example.com/a"), of("https://EXAMPLE.com:443/b?c"));
            assert_eq!(of("http://a.localhost:81/"), of("HTTP://A.localhost:81/z"));
            assert_eq!(of("example.com"), of("https://Example.Com.:443/"));
        }
    }

    #[test]
    fn unusable_lines_belong_to_shard_1() {
        let scheme = DefaultScheme::Https;
        for text in ["not a url", "ftp://example.com/", "http://", "mailto:a@b.c"] {
            assert_eq!(
                Shard::of_line(&InputLine::from(text), scheme, 5),
                1,
                "{text}"
            );
        }
        // A line rejected while reading, whatever its text.
        let rejected = InputLine {
            problem: Some(FetchError::InvalidInput("line 1: not JSON".into())),
            ..InputLine::from("http://localhost:8080/")
        };
        assert_eq!(
            Shard::of_line(&InputLine::from("http://localhost:8080/"), scheme, 3),
            3
        );
        assert_eq!(Shard::of_line(&rejected, scheme, 3), 1);
    }

    #[test]
    fn parse() {
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, count: 1 }));
        assert_eq!("3/10".parse::<Shard>().unwrap().to_string(), "3/10");
        for bad in [
            "0/3",
            "4/3",
            "1/0",
            "0/0",
            "3",
            "/3",
            "1/",
            "a/b",
            "-1/3",
            "+1/3",
            " 1/3",
            "1/3/4",
            "1.0/3",
            "99999999999999999999/1",
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("K/N") && e.contains(bad), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn filter_keeps_one_shard_and_counts_the_rest() {
        let lines = [
            "http://127.0.0.1/a",
            "not a url",
            "http://127.0.0.1/b",
            "https://example.com/",
        ];
        let mut seen = Vec::new();
        let mut others = 0;
        for k in 1..=3 {
            let other = Arc::new(AtomicU64::new(0));
            let shard = Shard::new(k, 3).unwrap();
            let kept: Vec<String> = shard
                .filter(
                    futures::stream::iter(lines.map(InputLine::from)),
                    DefaultScheme::Https,
                    other.clone(),
                )
                .map(|l| l.text)
                .collect()
                .await;
            assert_eq!(kept.len() as u64 + other.load(Ordering::Relaxed), 4);
            others += other.load(Ordering::Relaxed);
            seen.extend(kept);
        }
        seen.sort();
        let mut want = lines.map(String::from).to_vec();
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(others, 8);
    }
}
