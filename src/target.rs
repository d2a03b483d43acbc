//! Turning an input line into a request target: the URL rules.
//!
//! - A line that starts with a scheme (`http://…`, `https://…`, `ftp://…`,
//!   `mailto:…`) is parsed as it is; only `http` and `https` are fetched, any
//!   other scheme is an `unsupported_scheme` failure.
//! - A line without one is taken as `host[:port][/path]` and fetched as
//!   `<default scheme>://` + line; the default scheme is `https`
//!   (`--default-scheme http` changes it), as browsers' address bars do.
//! - Parsing follows the WHATWG URL Standard (the `url` crate): non-ASCII hosts
//!   are converted to A-labels with IDNA (UTS #46), spaces and other bytes not
//!   allowed in a path or query are percent-encoded, and a `#fragment` is kept in
//!   the URL but never sent (RFC 9110 sec. 4.2.4 / RFC 3986 sec. 3.5).

use http::Uri;
use url::Url;

use crate::error::FetchError;

/// The scheme used for lines that have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DefaultScheme {
    /// `http://`
    Http,
    /// `https://` (the default)
    #[default]
    Https,
}

impl DefaultScheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultScheme::Http => "http",
            DefaultScheme::Https => "https",
        }
    }
}

/// Whether `s` has the syntax of a URI scheme (RFC 3986 sec. 3.1).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// How a line names its scheme.
enum Scheme {
    /// The line starts with `scheme:`.
    Given,
    /// No scheme: the line is `host[:port][/path]`.
    Bare,
}

/// Finds the scheme a line starts with.
///
/// - `://` before any `/`, `?` or `#` means the text before it is meant as a
///   scheme: it must be a valid one (`1ttp://x` is an `invalid_url`, never a
///   host name to look up).
/// - Otherwise `name:rest` is a scheme (`mailto:a@b`) unless it looks like a
///   host with a port: `localhost:8080/x`, `example.com:443` (a digit after the
///   colon, or a dot in the name).
/// - Anything else is bare.
fn leading_scheme(line: &str) -> Result<Scheme, FetchError> {
    let head_end = line.find(['/', '?', '#']).unwrap_or(line.len());
    if let Some(i) = line.find("://").filter(|&i| i < head_end) {
        let scheme = &line[..i];
        return if is_scheme(scheme) {
            Ok(Scheme::Given)
        } else {
            Err(FetchError::InvalidUrl(format!(
                "'{}' is not a valid scheme",
                scheme.escape_debug()
            )))
        };
    }
    let Some(colon) = line[..head_end].find(':') else {
        return Ok(Scheme::Bare);
    };
    let (scheme, rest) = (&line[..colon], &line[colon + 1..]);
    if !is_scheme(scheme) || scheme.contains('.') || rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return Ok(Scheme::Bare);
    }
    Ok(Scheme::Given)
}

/// Parses one trimmed input line into an absolute `http`/`https` URL.
///
/// # Errors
/// - [`FetchError::InvalidUrl`] for an empty line, a line the URL parser rejects
///   (bad host, bad port, …), a URL without a host, a host that is not a valid
///   DNS name (`*`, `a;b`), a malformed scheme before `://`, or a bare line
///   whose host is a number but not a dotted-quad IPv4 address (`54` would
///   otherwise mean 0.0.0.54 under the URL Standard).
///   A URL with port 0, or one whose request target (scheme, host, port, path
///   and query, percent-encoded) is over 65,534 bytes, is an
///   `InvalidUrl` too.
/// - [`FetchError::UnsupportedScheme`] for any scheme but `http` and `https`.
pub fn parse_url(line: &str, default_scheme: DefaultScheme) -> Result<Url, FetchError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(FetchError::InvalidUrl("empty line".into()));
    }
    let bare = matches!(leading_scheme(line)?, Scheme::Bare);
    let url = if bare {
        Url::parse(&format!("{}://{line}", default_scheme.as_str()))
    } else {
        Url::parse(line)
    };
    let url = url.map_err(|e| FetchError::InvalidUrl(parse_error_message(e, line, bare)))?;
    check_scheme(&url)?;
    check_host(&url, bare.then_some(line))?;
    check_target(&url)?;
    Ok(url)
}

/// The message for a line the URL parser refused. A host the parser cannot
/// map to a DNS name (`not a url`, `http://a b/`) is named, since the
/// parser's own words ("invalid international domain name") point at IDNA
/// when the usual cause is a space or a stray character.
fn parse_error_message(e: url::ParseError, line: &str, bare: bool) -> String {
    match e {
        url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter => {
            let rest = if bare {
                line
            } else {
                line.split_once("://").map_or(line, |(_, rest)| rest)
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = match host.rsplit_once(':') {
                Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => host,
            };
            format!("'{}' is not a valid host name", host.escape_debug())
        }
        e => e.to_string(),
    }
}

/// Requires a host that can be looked up or connected to: a valid DNS name
/// (what TLS needs for SNI and certificate checks, and the resolver for a
/// query) or an IP address. For a bare line, an IPv4 host must have been
/// written as a dotted quad.
fn check_host(url: &Url, bare_line: Option<&str>) -> Result<(), FetchError> {
    match url.host() {
        None => Err(FetchError::InvalidUrl("missing host".into())),
        Some(url::Host::Domain(d)) => {
            if rustls::pki_types::DnsName::try_from(d.trim_end_matches('.')).is_err() || d == "." {
                return Err(FetchError::InvalidUrl(format!(
                    "'{}' is not a valid host name",
                    d.escape_debug()
                )));
            }
            Ok(())
        }
        Some(url::Host::Ipv4(_)) => {
            if let Some(line) = bare_line {
                let host = line.split(['/', ':', '?', '#']).next().unwrap_or("");
                if host.split('.').count() != 4 {
                    return Err(FetchError::InvalidUrl(format!(
                        "'{host}' is not a host name or a dotted-quad IPv4 address"
                    )));
                }
            }
            Ok(())
        }
        Some(url::Host::Ipv6(_)) => Ok(()),
    }
}

/// The longest request target that can be sent, in bytes, counted after
/// percent-encoding and without userinfo or fragment: the `http` crate's
/// limit for a URI (`u16::MAX - 1`).
pub(crate) const MAX_URI_BYTES: usize = 65_534;

/// The rules that make a parsed URL impossible to fetch, checked for every
/// input line and every redirect target before any name is looked up: a
/// scheme other than `http` and `https`, port 0 (no server listens there),
/// and a request target over [`MAX_URI_BYTES`] (the `http` crate would
/// refuse to build the request).
///
/// # Errors
/// [`FetchError::UnsupportedScheme`] for the scheme, else
/// [`FetchError::InvalidUrl`] saying which rule it broke.
pub(crate) fn check_target(url: &Url) -> Result<(), FetchError> {
    check_scheme(url)?;
    if url.port() == Some(0) {
        return Err(FetchError::InvalidUrl(
            "port 0 cannot be connected to".into(),
        ));
    }
    let len = request_uri_len(url);
    if len > MAX_URI_BYTES {
        return Err(FetchError::InvalidUrl(format!(
            "URL too long: {len} bytes after percent-encoding, at most {MAX_URI_BYTES}"
        )));
    }
    Ok(())
}

/// The length of what [`request_uri`] builds, without building it.
fn request_uri_len(url: &Url) -> usize {
    let port = url
        .port()
        .map_or(0, |p| 1 + itoa::Buffer::new().format(p).len());
    let query = url.query().map_or(0, |q| 1 + q.len());
    url.scheme().len()
        + "://".len()
        + url.host_str().unwrap_or_default().len()
        + port
        + url.path().len()
        + query
}

/// Accepts `http` and `https` only.
///
/// # Errors
/// [`FetchError::UnsupportedScheme`] naming the scheme.
fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(FetchError::UnsupportedScheme(other.to_owned())),
    }
}

/// The request target for hyper: scheme, host, port, path and query, with no
/// userinfo and no fragment (neither is ever sent).
///
/// # Errors
/// [`FetchError::InvalidUrl`] if `http::Uri` refuses what the URL parser accepted.
pub(crate) fn request_uri(url: &Url) -> Result<Uri, FetchError> {
    let host = url.host_str().unwrap_or_default();
    let mut s = String::with_capacity(url.as_str().len());
    s.push_str(url.scheme());
    s.push_str("://");
    s.push_str(host);
    if let Some(port) = url.port() {
        s.push(':');
        s.push_str(itoa::Buffer::new().format(port));
    }
    s.push_str(url.path());
    if let Some(q) = url.query() {
        s.push('?');
        s.push_str(q);
    }
    s.parse::<Uri>()
        .map_err(|e| FetchError::InvalidUrl(format!("{e}")))
}

/// Whether two URLs share an origin (scheme, host, port; RFC 6454), the test
/// for forwarding credentials after a redirect.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The host a URL counts against for per-host caps, rates and pauses: scheme
/// + host + port (the port made explicit), as in RFC 6454's origin.
pub(crate) type HostKey = url::Origin;

/// The host key of `url`.
pub(crate) fn host_key(url: &Url) -> HostKey {
    url.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> String {
        parse_url(line, DefaultScheme::Https).unwrap().to_string()
    }

    fn kind(line: &str) -> crate::error::ErrorKind {
        parse_url(line, DefaultScheme::Https).unwrap_err().kind()
    }

    #[test]
    fn bare_hosts_get_the_default_scheme() {
        assert_eq!(ok("example.com"), "https://example.com/");
        assert_eq!(ok("localhost:8080/x"), "https://localhost:8080/x");
        assert_eq!(ok("[::1]:81/p"), "https://[::1]:81/p");
        assert_eq!(
            parse_url("example.com:80", DefaultScheme::Http)
                .unwrap()
                .as_str(),
            "http://example.com/"
        );
    }

    #[test]
    fn a_host_the_parser_refuses_is_named() {
        for (line, host) in [
            ("not a url", "not a url"),
            ("http://a b/x", "a b"),
            ("https://u:p@bad host:8443/x?q", "bad host"),
            ("a\u{1}b.example", "a\\u{1}b.example"),
        ] {
            let e = parse_url(line, DefaultScheme::Https).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid URL: '{host}' is not a valid host name"),
                "{line:?}"
            );
        }
    }

    #[test]
    fn idna_and_spaces() {
        assert_eq!(
            ok("http://bücher.example/a b"),
            "http://xn--bcher-kva.example/a%20b"
        );
    }

    #[test]
    fn schemes() {
        assert_eq!(
            kind("ftp://example.com/"),
            crate::error::ErrorKind::UnsupportedScheme
        );
        assert_eq!(
            kind("mailto:a@b.c"),
            crate::error::ErrorKind::UnsupportedScheme
        );
        assert_eq!(
            kind("http://exa mple.com/"),
            crate::error::ErrorKind::InvalidUrl
        );
        assert_eq!(kind("http://a:99999/"), crate::error::ErrorKind::InvalidUrl);
        assert_eq!(kind("http://"), crate::error::ErrorKind::InvalidUrl);
        assert_eq!(kind("   "), crate::error::ErrorKind::InvalidUrl);
    }

    #[test]
    fn malformed_schemes_and_hosts_are_invalid_urls() {
        for line in [
            "1ttp://127.0.0.1/",
            "-http://127.0.0.1/",
            "\u{feff}http://127.0.0.1/",
            "https://*/",
            "https://a;b/",
            ".",
            "54",
            "5\u{1d}",
        ] {
            assert_eq!(kind(line), crate::error::ErrorKind::InvalidUrl, "{line:?}");
        }
        // Still fine: a dotted quad, a name with a port, `://` in the query.
        assert_eq!(ok("127.0.0.1:8080/x"), "https://127.0.0.1:8080/x");
        assert_eq!(ok("intranet:8080"), "https://intranet:8080/");
        assert_eq!(
            ok("example.com/r?to=http://x/"),
            "https://example.com/r?to=http://x/"
        );
        assert_eq!(ok("http://54/"), "http://0.0.0.54/");
    }

    #[test]
    fn port_zero_is_refused_before_any_lookup() {
        for line in [
            "name:0",
            "http://name:0/",
            "https://name:0/x",
            "127.0.0.1:0",
            "http://[::1]:0/",
        ] {
            let err = parse_url(line, DefaultScheme::Https).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidUrl, "{line}");
            assert!(err.to_string().contains("port 0"), "{line}: {err}");
        }
        assert_eq!(ok("name:1"), "https://name:1/");
    }

    #[test]
    fn request_target_length_is_counted_after_percent_encoding() {
        // `http://a/` is 9 bytes; fill the path up to the limit and one over.
        let at = |n: usize, fill: &str| format!("http://u:p@a/{}#frag", fill.repeat(n));
        let fits = at(MAX_URI_BYTES - 9, "x");
        let url = parse_url(&fits, DefaultScheme::Https).unwrap();
        let uri = request_uri(&url).unwrap();
        assert_eq!(uri.to_string().len(), MAX_URI_BYTES);
        assert_eq!(request_uri_len(&url), MAX_URI_BYTES);
        let over = at(MAX_URI_BYTES - 8, "x");
        let err = parse_url(&over, DefaultScheme::Https).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidUrl);
        assert!(err.to_string().contains("too long"), "{err}");
        // A `"` is 3 bytes once encoded (`%22`): a third as many fill the
        // limit, after the 10 bytes of `http://a/?`.
        let url = parse_url(
            &format!("http://a/?{}", "\"".repeat((MAX_URI_BYTES - 10) / 3)),
            DefaultScheme::Https,
        )
        .unwrap();
        assert!(request_uri(&url).is_ok());
        let err = parse_url(
            &format!("http://a/?{}", "\"".repeat((MAX_URI_BYTES - 10) / 3 + 1)),
            DefaultScheme::Https,
        )
        .unwrap_err();
        assert!(err.to_string().contains("after percent-encoding"), "{err}");
        // The length matches what is built for ports, queries and IPv6 too.
        for s in [
            "http://a:8080/p?q",
            "https://[::1]:1/",
            "http://h/?",
            "http://h:80/x",
        ] {
            let u = Url::parse(s).unwrap();
            assert_eq!(
                request_uri_len(&u),
                request_uri(&u).unwrap().to_string().len(),
                "{s}"
            );
        }
    }

    #[test]
    fn request_uri_drops_userinfo_and_fragment() {
        let u = Url::parse("http://u:p@h:8080/a?b=1#frag").unwrap();
        assert_eq!(request_uri(&u).unwrap().to_string(), "http://h:8080/a?b=1");
        let v6 = Url::parse("https://[::1]/").unwrap();
        assert_eq!(request_uri(&v6).unwrap().to_string(), "https://[::1]/");
    }

    #[test]
    fn origins() {
        let a = Url::parse("http://a/x").unwrap();
        assert!(same_origin(&a, &Url::parse("http://a:80/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://a/x").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://b/x").unwrap()));
    }

    #[test]
    fn host_key_is_scheme_host_port() {
        let k = |s: &str| host_key(&Url::parse(s).unwrap());
        assert_eq!(k("http://a/x"), k("http://a:80/y"));
        assert_ne!(k("http://a/"), k("https://a/"));
        assert_ne!(k("http://a/"), k("http://a:81/"));
        assert_ne!(k("http://a/"), k("http://b/"));
    }
}
