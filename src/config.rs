//! [`Config`]: the settings of a run, with their defaults; [`Rate`], the
//! value of `--rate` and `--rate-per-host`; [`StatusSet`], the value of
//! `--accept`; and [`RunStats`], the counters a caller reads while a run
//! goes and after it ends.
//!
//! A `Config` is plain data: the binary builds one from its flags
//! (`cli.rs`), a library user with struct update syntax from
//! `Config::default()`.

use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::Method;
use tokio_util::sync::CancellationToken;

use crate::http::{ClientOptions, ClientStats};
use crate::retry::RetryPolicy;
use crate::store::Warc;
use crate::target::DefaultScheme;

/// Settings for a run. `Config::default()` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most requests in flight at once (>= 1). Default 5. Values below 1 are
    /// treated as 1.
    pub max_concurrency: usize,
    /// Deadline for each attempt of a URL, covering DNS, connect, TLS, the
    /// request, the response head, every redirect hop and the whole body
    /// (with `retries`, each attempt has its own). Default 5 s.
    pub timeout: Duration,
    /// Most redirects followed per URL (301, 302, 303, 307, 308; RFC 9110
    /// sec. 15.4). 0 means none: the 3xx response is the result. Default 10.
    pub max_redirects: u32,
    /// Emit records in input order instead of completion order; the
    /// concurrency is the same. Finished records wait in the look-ahead
    /// window until the ones before them are out, so at most `lookahead` lines lie between the oldest
    /// record not yet yielded and the newest line read. Default `false`.
    pub keep_order: bool,
    /// The request method (`-X`): any RFC 9110 token, sent as given. Default
    /// `None`: `GET`, or `POST` for a request with a body (curl's rule for
    /// `-d`). A `--input jsonl` spec's `method` replaces it for its line.
    pub method: Option<Method>,
    /// The request body sent with every URL (`-d`, `--data-binary`), one
    /// `Bytes` shared by all requests. A `--input jsonl` spec's `body`
    /// replaces it for its line. Sent with `Content-Length` and, unless a
    /// header field gives one, `Content-Type: application/x-www-form-urlencoded`
    /// (curl's `-d`). Default `None`: no body.
    pub body: Option<bytes::Bytes>,
    /// Send `Accept-Encoding: gzip, br, zstd, deflate` and decode responses
    /// by their `Content-Encoding`; records then carry `wire_size`
    /// (`--compressed`). Default `false`.
    pub compressed: bool,
    /// Most body bytes read per response (decoded ones with `compressed`);
    /// past it the URL is a `body_too_large` failure (`--max-size`). Default
    /// `None`: no limit.
    pub max_size: Option<u64>,
    /// Extra request header fields, sent in order after the defaults (they
    /// replace a default of the same name). `Authorization`, `Cookie` and
    /// `Proxy-Authorization` are not sent to another origin after a redirect
    /// (curl's rule, CVE-2018-1000007). Default: none.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The `User-Agent` field. Default `fetcher-stream/<version>`.
    pub user_agent: String,
    /// Scheme for lines without one (`host[:port][/path]`). Default `https`.
    pub default_scheme: DefaultScheme,
    /// TLS roots, `--insecure` and `--resolve`. Default: Mozilla's roots,
    /// verification on, system resolver.
    pub client: ClientOptions,
    /// Fires to interrupt the run: no new lines are taken, and unfinished
    /// requests end as `cancelled` failures. Default: a fresh token nobody fires.
    pub cancel: CancellationToken,
    /// Most requests in flight to one host (scheme + host + port;
    /// `--max-per-host`): a fixed number, or one that adapts to each host
    /// ([`HostCap::Auto`]). A URL whose host is at its cap waits in the
    /// look-ahead window, holding no slot. Default `None`: no per-host cap
    /// (the binary's default is `Fixed(10)`).
    pub max_per_host: Option<HostCap>,
    /// Called at most once per run, the first time the per-host cap holds
    /// the run back: after the scheduler has started what it can, a URL
    /// still waits for its host's cap while global slots stand free. The
    /// binary sets it only when the cap is its default, not one the user
    /// chose, to say so on stderr. Default `None`.
    pub on_cap_held: Option<CapHook>,
    /// User name and password sent as `Authorization: Basic` (RFC 7617;
    /// `-u/--user`) to the origin (scheme, host, port) of each input URL,
    /// redirect hops to that origin included, never to another origin. A
    /// URL's own `user:password@` and an `Authorization` header field take
    /// precedence. Default `None`.
    pub user: Option<Credentials>,
    /// Lines the scheduler reads ahead to find URLs of hosts that can take a
    /// request (`--lookahead`); at least `max_concurrency`. Used only when a
    /// URL may have to wait (`max_per_host`, `rate`, `rate_per_host`,
    /// `retries`); otherwise no line is read before it can start. Default
    /// `None`: 4 x `max_concurrency`.
    pub lookahead: Option<usize>,
    /// Request attempts per time unit over the whole run (`--rate`), evenly
    /// spaced (a `Retry-After` then pauses its host). The scheduler takes
    /// the tokens in input order before a URL gets
    /// its slot. Default `None`: unlimited.
    pub rate: Option<Rate>,
    /// Request attempts per time unit to one host (`--rate-per-host`), evenly
    /// spaced. A URL whose host has no token yet waits in the window. Default `None`.
    pub rate_per_host: Option<Rate>,
    /// Attempts after the first for transient failures (`--retries`; see
    /// the retry rules). A URL waiting for its next attempt goes back into the window at its input position,
    /// holding no slot. Default 0.
    pub retries: u32,
    /// Backoff base (`--retry-delay`): the wait after attempt k is random in
    /// `[0, min(retry_max_delay, retry_delay * 2^(k-1))]`. Default 1 s.
    pub retry_delay: Duration,
    /// Backoff cap (`--retry-max-delay`). Default 30 s.
    pub retry_max_delay: Duration,
    /// Retry non-idempotent methods too (`--retry-all`). Default `false`.
    pub retry_all: bool,
    /// Longest `Retry-After` honoured (`--max-retry-after`): longer ones are
    /// cut to this. Default 60 s.
    pub max_retry_after: Duration,
    /// The final statuses that count as a success (`--accept`): a response
    /// whose status (after redirects, of the last attempt) is not in the
    /// set gives a `status` failure that keeps the status. Default `None`:
    /// every status is a success, 404 and 500 included.
    pub accept: Option<StatusSet>,
    /// Response header fields whose values go into a record's `headers`
    /// (`--include-header`), when the final response has them. Default:
    /// none (no `headers` key).
    pub include_headers: Vec<HeaderName>,
    /// Digest of each final response's body (the bytes counted in `size`)
    /// written into its record (`--hash`). Default `None`: no digest.
    pub hash: Option<BodyHash>,
    /// Keep each final body (the bytes counted in `size`) in a file of its
    /// own under this directory (`--output-dir`), named
    /// `DIR/HOST[_PORT]/SHA256-OF-URL`; the record's `body_path` says
    /// where. Directories are made as needed. Default `None`: bodies are
    /// counted, not kept.
    pub output_dir: Option<PathBuf>,
    /// Write each URL's exchanges (request and response records, redirect
    /// hops included) to this WARC file (`--warc`); the caller calls
    /// [`Warc::finish`] after the run. Default `None`.
    pub warc: Option<Warc>,
    /// Counters the run keeps up to date: lines read, attempts in flight,
    /// connections opened, name lookups. Keep a clone to read them while
    /// the stream runs and after it ends. Default: a fresh set at zero.
    pub stats: RunStats,
}

/// Live counters of a run: the gauges of the pipeline (lines read, attempts
/// in flight) and the client's counts (connections opened, name lookups).
///
/// Clones share the counters, so a caller keeps a clone of
/// [`Config::stats`] and reads it while the stream of records runs (the
/// binary's progress line) or after it ends (the summary). Reads are
/// relaxed atomic loads, cheap enough for every redraw; while records are
/// still coming a value may lag the stream by a few. Counts add up over
/// every run given the same `RunStats`; the gauges describe the last one.
///
/// # Example
/// ```no_run
/// use futures::StreamExt;
/// use fetcher_stream::{fetch_stream, Config};
///
/// # #[tokio::main] async fn main() {
/// let config = Config::default();
/// let stats = config.stats.clone();
/// let urls = futures::stream::iter(vec!["https://example.com/".to_string()]);
/// let records: Vec<_> = fetch_stream(urls, config).collect().await;
/// println!("{} records, {} connections", records.len(), stats.connections_opened());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    gauges: Arc<Gauges>,
    client: ClientStats,
}

/// The pipeline's gauges, set by the scheduler after each step.
#[derive(Debug, Default)]
struct Gauges {
    lines_read: AtomicU64,
    in_flight: AtomicU64,
}

impl RunStats {
    /// Input lines taken so far (blank and comment lines are not lines here:
    /// each line counted gets one record).
    pub fn lines_read(&self) -> u64 {
        self.gauges.lines_read.load(Ordering::Relaxed)
    }

    /// Attempts started and not yet finished: at most
    /// [`Config::max_concurrency`]. A URL waiting in the look-ahead window
    /// (for its host, a rate token or its next retry) is not in flight.
    pub fn in_flight(&self) -> u64 {
        self.gauges.in_flight.load(Ordering::Relaxed)
    }

    /// Connections opened (see [`ClientStats::connections_opened`]).
    pub fn connections_opened(&self) -> u64 {
        self.client.connections_opened()
    }

    /// Name lookups sent to the system resolver (see
    /// [`ClientStats::dns_lookups`]).
    pub fn dns_lookups(&self) -> u64 {
        self.client.dns_lookups()
    }

    /// The client's counters, for the client to count into.
    pub(crate) fn client(&self) -> &ClientStats {
        &self.client
    }

    /// Sets the pipeline's gauges (by the scheduler).
    pub(crate) fn set_gauges(&self, lines_read: u64, in_flight: usize) {
        self.gauges.lines_read.store(lines_read, Ordering::Relaxed);
        self.gauges
            .in_flight
            .store(in_flight as u64, Ordering::Relaxed);
    }
}

/// A digest of response bodies (`--hash`), written into records as a key
/// named after the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BodyHash {
    /// SHA-256 (FIPS 180-4), as `sha256`: 64 lower-case hex digits.
    Sha256,
}

impl Config {
    /// Whether a control that can make a URL wait is on (`max_per_host`,
    /// `rate_per_host`, `rate`, `retries` > 0). Only then does the scheduler
    /// read ahead (`lookahead`) and a `429`/`503` response's `Retry-After`
    /// pause its host; otherwise every line read can start at once, so the
    /// window is `max_concurrency` lines (as `buffer_unordered`), and one
    /// server's `Retry-After` holds up nothing.
    pub(crate) fn urls_may_wait(&self) -> bool {
        self.retries > 0
            || self.max_per_host.is_some()
            || self.rate.is_some()
            || self.rate_per_host.is_some()
    }

    /// The retry settings as one [`RetryPolicy`].
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries,
            base: self.retry_delay,
            max_delay: self.retry_max_delay,
            retry_all: self.retry_all,
            max_retry_after: self.max_retry_after,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrency: 5,
            timeout: Duration::from_secs(5),
            max_redirects: 10,
            keep_order: false,
            method: None,
            body: None,
            compressed: false,
            max_size: None,
            headers: Vec::new(),
            user_agent: concat!("fetcher-stream/", env!("CARGO_PKG_VERSION")).to_owned(),
            default_scheme: DefaultScheme::Https,
            client: ClientOptions::default(),
            cancel: CancellationToken::new(),
            max_per_host: None,
            on_cap_held: None,
            user: None,
            lookahead: None,
            rate: None,
            rate_per_host: None,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            retry_all: false,
            max_retry_after: Duration::from_secs(60),
            accept: None,
            include_headers: Vec::new(),
            hash: None,
            output_dir: None,
            warc: None,
            stats: RunStats::default(),
        }
    }
}

/// The per-host cap holding a run back (see [`Config::on_cap_held`]): a URL
/// of `host` waits because `cap` requests to it are in flight, while `free`
/// of the `slots` global slots (`max_concurrency`) are free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapHeld {
    /// The host as scheme, host and port (`http://127.0.0.1:8080`).
    pub host: String,
    /// The host's cap then (`max_per_host`; with [`HostCap::Auto`], the
    /// host's cap at that moment).
    pub cap: usize,
    /// Global slots free when the URL was left waiting.
    pub free: usize,
    /// All global slots (`max_concurrency`).
    pub slots: usize,
}

/// The per-host cap of [`Config::max_per_host`] (`--max-per-host N|auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCap {
    /// At most this many requests in flight to each host (0 is taken as 1).
    Fixed(usize),
    /// A cap per host that adapts to the host's answers by additive
    /// increase and multiplicative decrease, as TCP's congestion window
    /// (RFC 5681): it starts at 2, is halved (at least 1) by a `429` or
    /// `503` response or a `timeout` failure, at most once per window of
    /// requests, and grows by one after as many answers in a row as the cap
    /// (longer runs to reach a cap that failed before), up to
    /// [`Config::max_concurrency`]. A host's cap is kept while it has URLs
    /// in the look-ahead window; one that comes back later starts at 2
    /// again. `429` and `503` responses are still records like any other
    /// (set [`Config::retries`] to try them again).
    Auto,
}

/// A callback for [`CapHeld`], shared by clones of a [`Config`]. It runs
/// on the scheduler's task, so it should be quick (write a line, set a flag).
#[derive(Clone)]
pub struct CapHook(pub Arc<dyn Fn(&CapHeld) + Send + Sync>);

impl std::fmt::Debug for CapHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CapHook(..)")
    }
}

/// A user name and password for `Authorization: Basic` (RFC 7617), as
/// given to `-u user:password`. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (before the first `:`).
    pub user: String,
    /// The password (after the first `:`; may be empty or hold `:`).
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl FromStr for Credentials {
    type Err = String;

    /// `user:password`, split at the first `:` (curl's `-u`).
    ///
    /// # Errors
    /// No `:` (curl would prompt for the password; there is no prompt
    /// here). The message does not repeat the value, which is a secret.
    fn from_str(s: &str) -> Result<Credentials, String> {
        let (user, password) = s.split_once(':').ok_or_else(|| {
            "must be USER:PASSWORD (there is no password prompt; give the password after a colon)"
                .to_string()
        })?;
        Ok(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// A request rate, `N` requests per `per`, as given to `--rate` and
/// `--rate-per-host`: `N`, `N/s`, `N/m`, `N/h` or `N/d` (curl's `--rate`
/// syntax; a bare number is per second). Requests are spaced evenly
/// (one every `per / N`, no bursts), as curl spaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per `per` (at least 1).
    pub count: NonZeroU32,
    /// The time unit: 1 s, 1 min, 1 h or 1 day.
    pub per: Duration,
}

impl Rate {
    /// The time between two requests: `per / count` (at least 1 ns).
    pub fn interval(&self) -> Duration {
        (self.per / self.count.get()).max(Duration::from_nanos(1))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let (n, unit) = s.trim().split_once('/').unwrap_or((s.trim(), "s"));
        let per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("'{s}': the unit must be /s, /m, /h or /d")),
        };
        let count: u32 = n.parse().map_err(|e: std::num::ParseIntError| {
            if *e.kind() == std::num::IntErrorKind::PosOverflow {
                format!("'{s}': N is too large (at most {})", u32::MAX)
            } else {
                format!("'{s}' is not N[/s|/m|/h|/d] with N a whole number")
            }
        })?;
        let count = NonZeroU32::new(count).ok_or_else(|| format!("'{s}': N must be at least 1"))?;
        Ok(Rate {
            count,
            per: Duration::from_secs(per),
        })
    }
}

/// Smallest status a [`StatusSet`] can name (a status has three digits).
const MIN_STATUS: u16 = 100;
/// Largest status a [`StatusSet`] can name.
const MAX_STATUS: u16 = 999;

/// A set of HTTP statuses, the value of `--accept`, in lychee's syntax: a
/// comma-separated list of single statuses (`403`) and ranges, each
/// `A..=B` (inclusive), `A..B` (B excluded), `A..` (up to 999), `..=B` and
/// `..B` (from 100), or `..` (every status). White space around an item is
/// allowed; every status must lie in 100..=999.
///
/// # Example
/// ```
/// let ok: fetcher_stream::StatusSet = "200..=299,403".parse().unwrap();
/// assert!(ok.contains(204) && ok.contains(403));
/// assert!(!ok.contains(404) && !ok.contains(300));
/// let ok: fetcher_stream::StatusSet = "200..300".parse().unwrap();
/// assert!(ok.contains(299) && !ok.contains(300));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    /// The items as given, each as an inclusive range (never empty).
    ranges: Vec<RangeInclusive<u16>>,
}

impl StatusSet {
    /// Whether `status` is in the set.
    pub fn contains(&self, status: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

impl FromStr for StatusSet {
    type Err = String;

    /// # Errors
    /// A message naming the item that is not a status or range, has a
    /// status outside 100..=999, or is an empty range (`300..=200`,
    /// `200..200`); an empty list is refused too.
    fn from_str(s: &str) -> Result<StatusSet, String> {
        if s.trim().is_empty() {
            return Err("no status given (example: 200..=299,403)".into());
        }
        let ranges = s
            .split(',')
            .map(|item| status_range(item.trim()))
            .collect::<Result<_, _>>()?;
        Ok(StatusSet { ranges })
    }
}

/// One item of a [`StatusSet`] as an inclusive range.
fn status_range(item: &str) -> Result<RangeInclusive<u16>, String> {
    let shape = || format!("'{item}' is not a status or a range (N, A..=B, A..B, A.., ..=B, ..B)");
    // Digits only: no sign, no space, no empty string (`u16::from_str`
    // would take a `+`).
    let number = |digits: &str| -> Result<u16, String> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        // Overlong digit strings are out of range, like 1000.
        Ok(digits.parse().unwrap_or(u16::MAX))
    };
    let (start, end) = match item.split_once("..") {
        None => {
            let n = number(item)?;
            (n, n)
        }
        Some((from, to)) => {
            let start = if from.is_empty() {
                MIN_STATUS
            } else {
                number(from)?
            };
            let end = if to.is_empty() {
                MAX_STATUS
            } else if let Some(last) = to.strip_prefix('=') {
                number(last)?
            } else {
                // `A..B` excludes B (`..1000` ends at 999).
                match number(to)?.checked_sub(1) {
                    Some(end) => end,
                    None => return Err(format!("'{item}' is an empty range")),
                }
            };
            (start, end)
        }
    };
    if !(MIN_STATUS..=MAX_STATUS).contains(&start) || end > MAX_STATUS {
        return Err(format!(
            "'{item}': a status is a number from {MIN_STATUS} to {MAX_STATUS}"
        ));
    }
    if start > end {
        return Err(format!("'{item}' is an empty range"));
    }
    Ok(start..=end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::default();
        assert_eq!(c.max_concurrency, 5);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.max_redirects, 10);
        assert_eq!(c.method, None);
        assert!(c.body.is_none() && !c.compressed && c.max_size.is_none());
        assert!(c.user_agent.starts_with("fetcher-stream/"));
        assert_eq!(
            (c.max_per_host, c.lookahead, c.rate, c.rate_per_host),
            (None, None, None, None)
        );
        assert_eq!((c.retries, c.retry_all), (0, false));
        assert_eq!(c.retry_delay, Duration::from_secs(1));
        assert_eq!(c.retry_max_delay, Duration::from_secs(30));
        assert_eq!(c.max_retry_after, Duration::from_secs(60));
        assert_eq!(c.accept, None);
        assert!(!c.urls_may_wait());
    }

    #[test]
    fn urls_may_wait_with_any_control_that_holds_them() {
        let rate = Some("5/s".parse().unwrap());
        for c in [
            Config {
                max_per_host: Some(HostCap::Fixed(2)),
                ..Config::default()
            },
            Config {
                max_per_host: Some(HostCap::Auto),
                ..Config::default()
            },
            Config {
                rate_per_host: rate,
                ..Config::default()
            },
            Config {
                rate,
                ..Config::default()
            },
            Config {
                retries: 1,
                ..Config::default()
            },
        ] {
            assert!(c.urls_may_wait(), "{c:?}");
        }
        let plain = Config {
            lookahead: Some(50),
            max_concurrency: 50,
            keep_order: true,
            ..Config::default()
        };
        assert!(!plain.urls_may_wait());
    }

    /// `user:password` splits at the first colon; without one it is refused
    /// with a message that does not repeat the value; `Debug` hides the
    /// password.
    #[test]
    fn credentials_parse_and_hide_the_password() {
        let c: Credentials = "al:pa:ss".parse().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("al", "pa:ss"));
        let shown = format!("{c:?}");
        assert!(shown.contains("al") && !shown.contains("pa:ss"), "{shown}");
        let c: Credentials = "al:".parse().unwrap();
        assert_eq!(c.password, "");
        let e = "s3cret".parse::<Credentials>().unwrap_err();
        assert!(!e.contains("s3cret") && e.contains("USER:PASSWORD"), "{e}");
    }

    /// lychee's forms of `--accept`, and what each lets in.
    #[test]
    fn status_set_syntax() {
        let set = |s: &str| s.parse::<StatusSet>().unwrap();
        let cases: &[(&str, &[u16], &[u16])] = &[
            ("200..=299,403", &[200, 250, 299, 403], &[199, 300, 404]),
            ("200..300", &[200, 299], &[199, 300]),
            ("404", &[404], &[403, 405]),
            (" 200 , 301..=302 ", &[200, 301, 302], &[303]),
            ("500..", &[500, 999], &[499]),
            ("..=101", &[100, 101], &[102]),
            ("..101", &[100], &[101]),
            ("..", &[100, 200, 999], &[99, 1000]),
            ("..1000", &[999], &[1000]),
            ("404,200..=299,404", &[404, 200], &[500]),
        ];
        for (text, inside, outside) in cases {
            let s = set(text);
            for n in *inside {
                assert!(s.contains(*n), "{text} should hold {n}");
            }
            for n in *outside {
                assert!(!s.contains(*n), "{text} should not hold {n}");
            }
        }
        let err = |s: &str| s.parse::<StatusSet>().unwrap_err();
        for bad in [
            "abc",
            "-1",
            "+200",
            "2xx",
            "200-299",
            "..=",
            "100..=",
            "100...200",
            "200..=2a",
        ] {
            assert!(
                err(bad).contains("is not a status or a range"),
                "{bad}: {}",
                err(bad)
            );
        }
        for bad in [
            "0",
            "99",
            "1000",
            "99..102",
            "999..=1000",
            "..2000",
            "70000",
        ] {
            assert!(err(bad).contains("from 100 to 999"), "{bad}: {}", err(bad));
        }
        for bad in ["300..=200", "200..200", "..100", "..0"] {
            assert!(err(bad).contains("empty range"), "{bad}: {}", err(bad));
        }
        for bad in ["", " ", "200,", ",200", "200,,300"] {
            assert!(bad.parse::<StatusSet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rate_syntax() {
        let r: Rate = "10/m".parse().unwrap();
        assert_eq!((r.count.get(), r.per), (10, Duration::from_secs(60)));
        assert_eq!(r.interval(), Duration::from_secs(6));
        let r: Rate = "4".parse().unwrap();
        assert_eq!(r.interval(), Duration::from_millis(250));
        assert_eq!(
            "2/h".parse::<Rate>().unwrap().per,
            Duration::from_secs(3600)
        );
        assert_eq!(
            "1/d".parse::<Rate>().unwrap().per,
            Duration::from_secs(86_400)
        );
        for bad in ["0", "0/s", "-1/s", "x/s", "5/y", "", "1.5/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        let e = "4294967296/s".parse::<Rate>().unwrap_err();
        assert!(e.contains("too large"), "{e}");
    }
}
