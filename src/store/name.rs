//! The name of a body's file under `--output-dir`: `DIR/HOST/HASH`.
//!
//! - `HOST` is the URL's host as the URL parser leaves it (lower case,
//!   IDNA A-labels for international names: `xn--…`), with `_PORT` when the
//!   port is not the scheme's default (`127.0.0.1_8080`). An IPv6 address is
//!   written `ipv6-` and the address with `:` as `-` (`[::1]:8080` gives
//!   `ipv6---1_8080`). Any byte outside `a-z 0-9 . - _` and a leading `.`
//!   are written `%XX`, so `HOST` is never `.`, `..` or a hidden name.
//! - `HASH` is the SHA-256 (lower-case hex) of the URL as parsed (the
//!   normalised form: scheme and host in lower case, dot segments resolved,
//!   default port dropped), without `user:password@` and `#fragment`.
//!
//! Nothing of the URL's path reaches the file system, so no URL can name a
//! file outside `DIR`. The same URL always gets the same name (the last
//! body fetched wins); different URLs get different names.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use url::{Host, Url};

/// The file for the body of `url` under `dir`, as `dir` was given.
pub(crate) fn body_path(dir: &Path, url: &Url) -> PathBuf {
    let mut plain = url.clone();
    let _ = plain.set_username("");
    let _ = plain.set_password(None);
    plain.set_fragment(None);
    let hash = data_encoding::HEXLOWER.encode(&Sha256::digest(plain.as_str().as_bytes()));
    dir.join(host_dir(url)).join(hash)
}

/// The directory name for the URL's host and port (see the module doc).
fn host_dir(url: &Url) -> String {
    let host = match url.host() {
        Some(Host::Ipv6(a)) => format!("ipv6-{}", a.to_string().replace(':', "-")),
        Some(Host::Ipv4(a)) => a.to_string(),
        Some(Host::Domain(d)) => d.to_owned(),
        None => String::new(),
    };
    let mut dir = safe_name(&host);
    if let Some(port) = url.port() {
        let _ = write!(dir, "_{port}");
    }
    dir
}

/// `name` with each byte outside `a-z 0-9 . - _`, and a leading `.`,
/// written `%XX`; `%00` for an empty name.
fn safe_name(name: &str) -> String {
    let mut safe = String::with_capacity(name.len() + 6);
    for (i, b) in name.bytes().enumerate() {
        let plain = matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_') || (b == b'.' && i > 0);
        if plain {
            safe.push(char::from(b));
        } else {
            let _ = write!(safe, "%{b:02X}");
        }
    }
    if safe.is_empty() {
        safe.push_str("%00");
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(url: &str) -> String {
        host_dir(&Url::parse(url).unwrap())
    }

    #[test]
    fn hosts_become_safe_directory_names() {
        assert_eq!(dir("http://Example.COM/"), "example.com");
        assert_eq!(dir("http://example.com:80/"), "example.com");
        assert_eq!(dir("https://example.com:8443/"), "example.com_8443");
        assert_eq!(dir("http://127.0.0.1:8080/x"), "127.0.0.1_8080");
        assert_eq!(dir("http://[::1]:8080/"), "ipv6---1_8080");
        assert_eq!(dir("http://[2001:db8::1]/"), "ipv6-2001-db8--1");
        assert_eq!(dir("http://bücher.example/"), "xn--bcher-kva.example");
        assert_eq!(dir("http://a~b.example/"), "a%7Eb.example");
    }

    /// The URL parser may or may not let such hosts through; the naming
    /// does not rely on it.
    #[test]
    fn dot_names_and_separators_are_escaped() {
        assert_eq!(safe_name(".."), "%2E.");
        assert_eq!(safe_name("."), "%2E");
        assert_eq!(safe_name(".hidden"), "%2Ehidden");
        assert_eq!(safe_name("a/b\\c"), "a%2Fb%5Cc");
        assert_eq!(safe_name(""), "%00");
    }

    #[test]
    fn names_come_from_the_url_not_its_path() {
        let d = Path::new("out");
        let p = body_path(d, &Url::parse("http://u:p@h:1/../../etc/passwd#x").unwrap());
        let same = body_path(d, &Url::parse("http://h:1/etc/passwd").unwrap());
        assert_eq!(p, same);
        let parts: Vec<_> = p.iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[..2], ["out", "h_1"]);
        assert_eq!(
            parts[2],
            data_encoding::HEXLOWER.encode(&Sha256::digest(b"http://h:1/etc/passwd"))
        );
    }
}
