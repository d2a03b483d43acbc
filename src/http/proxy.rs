//! Proxies: which proxy a request goes through, chosen by
//! curl's rules, and the handshakes that open a connection through one.
//!
//! # Choosing
//! [`Proxies`] holds a proxy for `http://` targets, one for `https://`
//! targets and a [`NoProxy`] list of hosts reached directly. The connector in
//! `http::connect` asks [`Proxies::route`] for every new connection, so each
//! redirect hop chooses its own proxy. The library default is no proxy at
//! all; the command line fills [`Proxies`] from `--proxy`, `--noproxy` and the
//! environment ([`Proxies::from_lookup`]) with curl's rules:
//!
//! - `http://` targets use `http_proxy` (lower case only: an upper-case
//!   `HTTP_PROXY` can be set by a CGI request's `Proxy:` field, the "httpoxy"
//!   problem), else `all_proxy`/`ALL_PROXY`;
//! - `https://` targets use `https_proxy`/`HTTPS_PROXY`, else
//!   `all_proxy`/`ALL_PROXY`;
//! - `no_proxy`/`NO_PROXY` lists hosts to reach directly, also when a proxy
//!   comes from `--proxy`; `--noproxy` replaces it.
//!
//! Lower case wins where both cases are set, and an empty variable counts as
//! unset. A proxy URL is `[scheme://][user[:password]@]host[:port]`: no scheme
//! means `http://`, no port means 1080 (curl's default), and the user name and
//! password are percent-decoded.
//!
//! hyper-util's `client::proxy::matcher::Matcher` does this job too, but
//! differs from curl in ways users would see, so it is not used here: it reads
//! upper-case `HTTP_PROXY` (and prefers upper case), turns every proxy off
//! when `REQUEST_METHOD` is set, takes `*` anywhere in `no_proxy` as "no
//! proxy at all" (curl: only when it is the whole value), does not ignore
//! trailing dots, keeps no default port (so a port-less proxy would be reached
//! on port 80), and silently ignores a proxy URL with a scheme it does not
//! know instead of reporting it.
//!
//! # Connecting
//! - HTTP proxy, `http://` target: the connection goes to the proxy and is
//!   marked proxied, so hyper-util's client sends absolute-form requests
//!   (RFC 9112 sec. 3.2.2); [`crate::http::HttpClient`] adds
//!   `Proxy-Authorization: Basic` from the proxy URL's user name and password.
//! - HTTP proxy, `https://` target: a `CONNECT host:port` tunnel (RFC 9110
//!   sec. 9.3.6, with `Proxy-Authorization`), then TLS to the target through
//!   it. `connect_tunnel` is our own: hyper-util's `Tunnel` reports no status
//!   code except for 407, and takes only 200 as success where RFC 9110 says any
//!   2xx.
//! - SOCKS5 (RFC 1928, with RFC 1929 user name and password): hyper-util's
//!   `SocksV5`. `socks5://` resolves the target here (with `--resolve` and the
//!   RFC 6761 rules) and sends the address; `socks5h://` sends the host name
//!   and the proxy resolves it.
//!
//! Names under `.invalid` fail as `dns` at once even with a proxy (they can
//! resolve nowhere, RFC 6761 sec. 6.4), so such a request never reaches the
//! proxy. `--resolve` applies to what is resolved here: the proxy's own host
//! and, for `socks5://`, the target; with an HTTP proxy or `socks5h://` the
//! target name goes to the proxy unchanged.
//!
//! A proxy that is reached but refuses (a non-2xx answer to `CONNECT`, a
//! SOCKS5 error reply or refused credentials) gives a [`ProxyError`], reported
//! as the `proxy` error kind; a proxy that cannot be reached is `connect` (or
//! `dns` for its host name). An HTTP proxy's own answer to an absolute-form
//! request (say a 407 or a 502) is the response, as with curl.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::task::{Context, Poll};

use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::proxy::SocksV5;
use ipnet::IpNet;
use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower_service::Service;

use super::classify::ProxyError;

/// The port of a proxy URL that names none (curl's default for `--proxy`).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// Longest `CONNECT` response head read from a proxy, in bytes.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// Most header fields in a proxy's `CONNECT` response.
const MAX_CONNECT_HEADERS: usize = 100;

/// The proxy protocols supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// `http://`: an HTTP proxy (absolute-form requests, `CONNECT` for https).
    Http,
    /// `socks5://`: SOCKS5, the target's address resolved locally.
    Socks5,
    /// `socks5h://`: SOCKS5, the target's host name resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }
}

/// A proxy, parsed from `[scheme://][user[:password]@]host[:port]` as curl's
/// `--proxy` takes it.
///
/// The scheme is `http` (the default), `socks5` or `socks5h`; `https`,
/// `socks4` and `socks4a` proxies are not supported and fail to parse. The
/// port defaults to 1080. A path after the host is
/// ignored. The user name and password are percent-decoded (they must be
/// UTF-8 then). For SOCKS5 each may be at most 255 bytes (RFC 1929), and
/// together at most 256 bytes (the send buffer of hyper-util's `SocksV5`).
///
/// `Display` shows `scheme://host:port`, never the credentials; `Debug` hides
/// the password.
///
/// # Example
/// ```
/// use fetcher_stream::{ProxyScheme, ProxyUrl};
/// let p: ProxyUrl = "user:p%40ss@proxy.example".parse().unwrap();
/// assert_eq!(p.scheme(), ProxyScheme::Http);
/// assert_eq!(p.port(), 1080);
/// assert_eq!(p.credentials(), Some(("user", "p@ss")));
/// assert_eq!(p.to_string(), "http://proxy.example:1080");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    /// Lower case; an IPv6 address without brackets.
    host: String,
    port: u16,
    /// Percent-decoded; `None` when the URL has no user information.
    credentials: Option<(String, String)>,
}

impl ProxyUrl {
    /// The proxy protocol.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port (1080 when the URL gives none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The decoded user name and password (empty when the URL has a user
    /// name only).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `Basic` credentials for `Proxy-Authorization` (RFC 7617, RFC 9110
    /// sec. 11.7.2), marked sensitive; `None` without credentials.
    pub fn basic_auth(&self) -> Option<HeaderValue> {
        let (user, password) = self.credentials()?;
        Some(super::basic_auth(user.as_bytes(), password.as_bytes()))
    }

    /// `host:port`, with brackets around an IPv6 address.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URI the TCP connector dials to reach the proxy.
    pub(crate) fn connect_uri(&self) -> Uri {
        format!("http://{}/", self.authority())
            .parse()
            .expect("a parsed proxy host and port form a valid URI")
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl FromStr for ProxyUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((name, rest)) => (parse_scheme(name)?, rest),
            None => (ProxyScheme::Http, s),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) =
            split_host_port(host_port).map_err(|e| format!("'{}': {e}", redact(s)))?;
        let credentials = userinfo
            .map(|u| decode_userinfo(u, scheme))
            .transpose()
            .map_err(|e| format!("'{}': {e}", redact(s)))?;
        let url = ProxyUrl {
            scheme,
            host,
            port,
            credentials,
        };
        // The host must also be a valid URI host for the connector.
        format!("http://{}/", url.authority())
            .parse::<Uri>()
            .map_err(|_| format!("'{}': '{}' is not a valid host", redact(s), url.host))?;
        Ok(url)
    }
}

fn parse_scheme(name: &str) -> Result<ProxyScheme, String> {
    match name.to_ascii_lowercase().as_str() {
        "http" => Ok(ProxyScheme::Http),
        "socks5" => Ok(ProxyScheme::Socks5),
        "socks5h" => Ok(ProxyScheme::Socks5h),
        other => Err(format!(
            "unsupported proxy scheme '{other}://' (supported: http://, socks5://, socks5h://)"
        )),
    }
}

/// Splits `host[:port]` (`[v6]:port` for IPv6); the port defaults to 1080.
fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("unclosed '[' in the proxy host")?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| format!("'{v6}' is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after ']'")?),
        };
        (v6, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("an IPv6 proxy address needs brackets: [ADDR]:PORT".into())
            }
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("no proxy host".into());
    }
    let port = match port {
        None => DEFAULT_PROXY_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("'{p}' is not a port"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn decode_userinfo(userinfo: &str, scheme: ProxyScheme) -> Result<(String, String), String> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |part: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "the proxy user name or password is not UTF-8 once decoded".to_string())
    };
    let (user, password) = (decode(user)?, decode(password)?);
    if scheme != ProxyScheme::Http {
        if user.len() > 255 || password.len() > 255 {
            return Err("a SOCKS5 user name or password is longer than 255 bytes".into());
        }
        if user.len() + password.len() > 256 {
            return Err(
                "a SOCKS5 user name and password together are longer than 256 bytes".into(),
            );
        }
    }
    Ok((user, password))
}

/// A proxy URL for messages: the user information replaced by `***`.
fn redact(s: &str) -> String {
    let start = s.find("://").map_or(0, |i| i + 3);
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    match s[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &s[start + at..]),
        None => s.to_owned(),
    }
}

/// Hosts reached without a proxy: curl's `no_proxy` / `--noproxy` list.
///
/// The list is comma-separated (blanks around entries are ignored). `*` alone
/// matches every host. An IP address entry, optionally with a CIDR prefix
/// length (`10.0.0.0/8`, `::1`, `fd00::/8`), matches target IP addresses in
/// it. Any other entry is a host name that matches itself and its subdomains,
/// case-insensitively; a leading dot changes nothing (`.example.com` and
/// `example.com` both match `example.com` and `www.example.com`, not
/// `notexample.com`), and a trailing dot on the entry or the host is ignored.
/// Names are never resolved to compare with addresses.
///
/// # Example
/// ```
/// use fetcher_stream::NoProxy;
/// let list: NoProxy = "example.com, 10.0.0.0/8".parse().unwrap();
/// assert!(list.matches("www.EXAMPLE.com."));
/// assert!(list.matches("10.1.2.3"));
/// assert!(!list.matches("notexample.com"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    /// `*`: no host uses a proxy.
    all: bool,
    /// Host name entries, lower case, without leading or trailing dots.
    names: Vec<String>,
    /// Address entries.
    nets: Vec<IpNet>,
}

impl FromStr for NoProxy {
    type Err = std::convert::Infallible;

    /// Parses a list; every entry is accepted (one that is not an address is a
    /// name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut list = NoProxy {
            all: s.trim() == "*",
            ..NoProxy::default()
        };
        for entry in s.split([',', ' ', '\t']).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                list.nets.push(net);
            } else if let Ok(ip) = super::unbracket(entry).parse::<IpAddr>() {
                list.nets.push(IpNet::from(ip));
            } else {
                let name = entry.trim_start_matches('.').trim_end_matches('.');
                if !name.is_empty() {
                    list.names.push(name.to_ascii_lowercase());
                }
            }
        }
        Ok(list)
    }
}

impl NoProxy {
    /// Whether `host` (a name, an IPv4 address, or an IPv6 address with or
    /// without brackets) is to be reached directly.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let bare = super::unbracket(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.nets.iter().any(|net| net.contains(&ip));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|name| {
            host == *name
                || (host.len() > name.len()
                    && host.ends_with(name.as_str())
                    && host.as_bytes()[host.len() - name.len() - 1] == b'.')
        })
    }

    /// Whether the list is empty (matches nothing).
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.nets.is_empty()
    }
}

/// Which proxy each request uses. The default, [`Proxies::none`], uses none.
///
/// See [`Proxies::from_lookup`] for curl's rules, which
/// [`Proxies::from_lookup`] follows.
///
/// # Example
/// ```
/// use fetcher_stream::Proxies;
/// use fetcher_stream::Config;
///
/// let mut config = Config::default();
/// // Everything through a local SOCKS5 proxy that resolves the names,
/// // except hosts under .internal.
/// config.client.proxies = Proxies {
///     no_proxy: ".internal".parse().unwrap(),
///     ..Proxies::all("socks5h://127.0.0.1:1080".parse().unwrap())
/// };
/// let uri = "https://db.internal/".parse().unwrap();
/// assert!(config.client.proxies.route(&uri).is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    /// The proxy for `http://` targets. Default: none.
    pub http: Option<ProxyUrl>,
    /// The proxy for `https://` targets. Default: none.
    pub https: Option<ProxyUrl>,
    /// Hosts reached directly whatever the two fields above say. Default:
    /// empty.
    pub no_proxy: NoProxy,
    /// Why the environment's proxy for `http://` targets cannot be used (an
    /// `https://` or `socks4://` proxy, a bad port…), e.g. `all_proxy:
    /// unsupported proxy scheme 'socks4://' …`. As with curl, such a variable
    /// matters only to a URL that would go through it: that URL fails as
    /// `proxy` with this message, never silently direct, and other URLs are
    /// not affected. Default: none.
    pub http_unusable: Option<String>,
    /// The same for `https://` targets.
    pub https_unusable: Option<String>,
}

impl Proxies {
    /// No proxy for any target (the library default).
    pub fn none() -> Proxies {
        Proxies::default()
    }

    /// `proxy` for every target, as curl's `--proxy`; `no_proxy` empty.
    pub fn all(proxy: ProxyUrl) -> Proxies {
        Proxies {
            http: Some(proxy.clone()),
            https: Some(proxy),
            ..Proxies::default()
        }
    }

    /// The proxies an environment asks for, by curl's rules, with `get`
    /// reading a variable (`None`: not set): `http_proxy` (lower case only),
    /// `https_proxy`/`HTTPS_PROXY`, `all_proxy`/`ALL_PROXY`, and
    /// `no_proxy`/`NO_PROXY`; lower case wins, an empty variable counts as
    /// unset. A variable that is not a supported proxy URL fails the URLs
    /// that would go through it (kind `proxy`), as with curl. For the
    /// process environment, `get` is `|k| std::env::var(k).ok()`.
    ///
    /// # Example
    /// ```
    /// use fetcher_stream::Proxies;
    /// let env = |name: &str| match name {
    ///     "HTTP_PROXY" => Some("http://ignored:1".to_string()),
    ///     "ALL_PROXY" => Some("socks5h://127.0.0.1:1080".to_string()),
    ///     _ => None,
    /// };
    /// let p = Proxies::from_lookup(env);
    /// assert_eq!(p.http.unwrap().to_string(), "socks5h://127.0.0.1:1080");
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Proxies {
        let get = non_empty(get);
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|&name| get(name).map(|value| (name, value)))
        };
        // The proxy a variable names, or why it cannot be used.
        let parse = |found: Option<(&str, String)>| match found {
            None => (None, None),
            Some((name, value)) => match value.parse::<ProxyUrl>() {
                Ok(proxy) => (Some(proxy), None),
                Err(e) => (None, Some(format!("{name}: {e}"))),
            },
        };
        let all = || first(&["all_proxy", "ALL_PROXY"]);
        // No upper-case HTTP_PROXY: a CGI request's `Proxy:` field sets it.
        let (http, http_unusable) = parse(first(&["http_proxy"]).or_else(all));
        let (https, https_unusable) = parse(first(&["https_proxy", "HTTPS_PROXY"]).or_else(all));
        Proxies {
            http,
            https,
            no_proxy: NoProxy::from_lookup(get),
            http_unusable,
            https_unusable,
        }
    }

    /// Why the proxy for a request to `uri` cannot be used, when the
    /// environment named one this tool does not support and `uri`'s host is
    /// not in [`Proxies::no_proxy`]; `None` otherwise.
    pub fn unusable(&self, uri: &Uri) -> Option<&str> {
        self.for_target(uri, &self.http_unusable, &self.https_unusable)
            .map(String::as_str)
    }

    /// The proxy for a request to `uri`, if any: by its scheme, unless its
    /// host is in [`Proxies::no_proxy`].
    pub fn route(&self, uri: &Uri) -> Option<&ProxyUrl> {
        self.for_target(uri, &self.http, &self.https)
    }

    /// The entry for `uri`'s scheme (`http` or `https`), unless its host is in
    /// [`Proxies::no_proxy`].
    fn for_target<'a, T>(
        &self,
        uri: &Uri,
        http: &'a Option<T>,
        https: &'a Option<T>,
    ) -> Option<&'a T> {
        let entry = match uri.scheme_str() {
            Some("http") => http.as_ref(),
            Some("https") => https.as_ref(),
            _ => None,
        }?;
        if self.no_proxy.matches(uri.host()?) {
            return None;
        }
        Some(entry)
    }

    /// Whether no target ever uses a proxy.
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The `Proxy-Authorization` value for a request to `uri` that goes to an
    /// HTTP proxy in absolute form (an `http://` target), if it has
    /// credentials.
    pub(crate) fn absolute_form_auth(&self, uri: &Uri) -> Option<HeaderValue> {
        if self.is_empty() || uri.scheme_str() != Some("http") {
            return None;
        }
        self.route(uri)
            .filter(|p| p.scheme == ProxyScheme::Http)
            .and_then(ProxyUrl::basic_auth)
    }
}

impl NoProxy {
    /// `no_proxy`, else `NO_PROXY`, with `get` standing in for the
    /// environment (`None`: not set; an empty value counts as not set). Empty
    /// when neither is set.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> NoProxy {
        let get = non_empty(get);
        get("no_proxy")
            .or_else(|| get("NO_PROXY"))
            .map(|v| v.parse().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// A variable of the process environment, read lossily if it is not UTF-8.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// `get`, with an empty value read as unset (as curl's `curl_getenv` does).
fn non_empty(get: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name| get(name).filter(|v| !v.is_empty())
}

/// Adds which proxy was involved to an error from reaching it (its name did
/// not resolve, the TCP connection failed), keeping the cause as the source so
/// that the `dns`/`connect` markers stay in the chain.
#[derive(Debug)]
pub(crate) struct ProxyUnreachable {
    proxy: String,
    source: super::BoxError,
}

impl ProxyUnreachable {
    pub(crate) fn new(proxy: &ProxyUrl, source: super::BoxError) -> ProxyUnreachable {
        ProxyUnreachable {
            proxy: proxy.to_string(),
            source,
        }
    }
}

impl fmt::Display for ProxyUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot reach proxy {}", self.proxy)
    }
}

impl std::error::Error for ProxyUnreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Opens a tunnel to `host:port` (`host` as in a URI: an IPv6 address in
/// brackets) through the HTTP proxy at the other end of `io`: sends
/// `CONNECT` (RFC 9110 sec. 9.3.6) with `Proxy-Authorization` when the proxy
/// URL has credentials, and reads the response head. Any 2xx opens the
/// tunnel.
///
/// # Errors
/// A [`ProxyError`] for a non-2xx status (with the status and reason in the
/// message), a response that is not HTTP or too long, bytes after the head
/// (the target speaks first only after our TLS hello), or an I/O error or
/// end of stream before the head is complete.
pub(crate) async fn connect_tunnel<S>(
    io: &mut S,
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = format!("{host}:{port}");
    let failed = |what: String, source: Option<io::Error>| ProxyError {
        message: format!("proxy {proxy}: CONNECT {target}: {what}"),
        source: source.map(|e| Box::new(e) as _),
    };
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = proxy.basic_auth() {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth.to_str().unwrap_or_default());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes())
        .await
        .map_err(|e| failed("sending the request failed".into(), Some(e)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| failed("reading the response failed".into(), Some(e)))?;
        if n == 0 {
            return Err(failed(
                "the proxy closed the connection before a response".into(),
                None,
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut fields = [httparse::EMPTY_HEADER; MAX_CONNECT_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let code = response.code.unwrap_or_default();
                if !(200..300).contains(&code) {
                    let reason = response.reason.unwrap_or_default();
                    return Err(failed(
                        format!("refused with {code} {reason}")
                            .trim_end()
                            .to_owned(),
                        None,
                    ));
                }
                if len < buf.len() {
                    return Err(failed("data after the 2xx response".into(), None));
                }
                return Ok(());
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_CONNECT_RESPONSE => {}
            Ok(httparse::Status::Partial) => {
                return Err(failed("response head too long".into(), None));
            }
            Err(e) => return Err(failed(format!("not an HTTP response ({e})"), None)),
        }
    }
}

/// Runs the SOCKS5 handshake (RFC 1928, user name and password by RFC 1929
/// when the proxy URL has them) on `io`, already connected to the proxy, for
/// a connection to `host:port`. `host` is an IP address (sent as one) or a
/// name (sent for the proxy to resolve). Uses hyper-util's `SocksV5`, handed
/// the open connection so that connecting to the proxy stays ours (with its
/// `dns`/`connect` markers and socket counting).
///
/// # Errors
/// A [`ProxyError`] when the proxy refuses the credentials or the connection
/// (its reply code in the message) or breaks the protocol.
pub(crate) async fn socks5_handshake<T>(
    io: T,
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
) -> Result<T, ProxyError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut socks = SocksV5::new(proxy.connect_uri(), OpenedConnection(Some(io))).local_dns(false);
    if let Some((user, password)) = proxy.credentials() {
        socks = socks.with_auth(user.to_owned(), password.to_owned());
    }
    let host_in_uri = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let target: Uri = format!("http://{host_in_uri}:{port}/")
        .parse()
        .map_err(|_| ProxyError {
            message: format!("proxy {proxy}: '{host}' cannot be sent to a SOCKS5 proxy"),
            source: None,
        })?;
    socks.call(target).await.map_err(|e| ProxyError {
        message: format!("proxy {proxy}: connection to {host_in_uri}:{port} failed: {e}"),
        source: None,
    })
}

/// A connector that hands out one connection that is already open: lets
/// hyper-util's `SocksV5` run its handshake on a connection we made.
struct OpenedConnection<T>(Option<T>);

impl<T> Service<Uri> for OpenedConnection<T> {
    type Response = T;
    type Error = io::Error;
    type Future = std::future::Ready<Result<T, io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| io::Error::other("the proxy connection was already used")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn route(p: &Proxies, url: &str) -> Option<String> {
        p.route(&url.parse().unwrap()).map(ToString::to_string)
    }

    #[test]
    fn proxy_urls_follow_curl() {
        let p: ProxyUrl = "proxy.example".parse().unwrap();
        assert_eq!(p.to_string(), "http://proxy.example:1080");
        let p: ProxyUrl = "HTTP://Proxy.Example:3128/ignored".parse().unwrap();
        assert_eq!(p.to_string(), "http://proxy.example:3128");
        assert!(p.credentials().is_none());
        let p: ProxyUrl = "socks5h://u%3Ax:p%40ss@[::1]:9050".parse().unwrap();
        assert_eq!(p.scheme(), ProxyScheme::Socks5h);
        assert_eq!(p.host(), "::1");
        assert_eq!(p.credentials(), Some(("u:x", "p@ss")));
        assert_eq!(p.to_string(), "socks5h://[::1]:9050");
        assert_eq!(p.connect_uri().to_string(), "http://[::1]:9050/");
        let p: ProxyUrl = "http://Aladdin:open%20sesame@h:8".parse().unwrap();
        assert_eq!(
            p.basic_auth().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let p: ProxyUrl = "http://user@h:8".parse().unwrap();
        assert_eq!(p.basic_auth().unwrap(), "Basic dXNlcjo=");
        assert!(!format!("{p:?}").contains("dXNl"));
    }

    #[test]
    fn bad_proxy_urls_are_refused_clearly() {
        for (url, says) in [
            ("socks4://h:1", "unsupported proxy scheme 'socks4://'"),
            ("socks4a://h:1", "unsupported proxy scheme"),
            ("https://h:443", "unsupported proxy scheme 'https://'"),
            ("http://h:0", "'0' is not a port"),
            ("http://h:99999", "not a port"),
            ("http://:8080", "no proxy host"),
            ("http://::1:8080", "needs brackets"),
            ("http://[::1", "unclosed"),
            ("http://h st:1", "not a valid host"),
        ] {
            let err = url.parse::<ProxyUrl>().unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
        let long = format!("socks5://{}:x@h", "u".repeat(256));
        assert!(long.parse::<ProxyUrl>().unwrap_err().contains("255"));
        let pair = format!("socks5://{}:{}@h", "u".repeat(200), "p".repeat(57));
        let err = pair.parse::<ProxyUrl>().unwrap_err();
        assert!(err.contains("256") && err.contains("***@h"), "{err}");
        let ok = format!("socks5://{}:{}@h", "u".repeat(128), "p".repeat(128));
        assert!(ok.parse::<ProxyUrl>().is_ok());
        // HTTP proxies have no such limit.
        assert!(format!("http://{}@h", "u".repeat(300))
            .parse::<ProxyUrl>()
            .is_ok());
        assert!("http://%ff@h".parse::<ProxyUrl>().is_err());
    }

    #[test]
    fn no_proxy_follows_curl() {
        let list: NoProxy = ".example.com, other.test.,10.0.0.0/8 ::1,[fd00::1]"
            .parse()
            .unwrap();
        for host in [
            "example.com",
            "www.example.com",
            "WWW.Example.COM.",
            "other.test",
            "a.other.test",
            "10.9.8.7",
            "[::1]",
            "::1",
            "[fd00::1]",
        ] {
            assert!(list.matches(host), "{host}");
        }
        for host in [
            "notexample.com",
            "example.com.evil",
            "11.0.0.1",
            "[::2]",
            "test",
        ] {
            assert!(!list.matches(host), "{host}");
        }
        let star: NoProxy = "*".parse().unwrap();
        assert!(star.matches("anything.at.all") && star.matches("127.0.0.1"));
        // Only a lone `*` is the wildcard (curl's rule).
        let not_star: NoProxy = "*,a.test".parse().unwrap();
        assert!(!not_star.matches("b.test"));
        assert!(NoProxy::from_str("").unwrap().is_empty());
    }

    #[test]
    fn environment_follows_curl() {
        // Upper-case HTTP_PROXY is ignored (httpoxy); all_proxy fills in.
        let p = Proxies::from_lookup(env(&[
            ("HTTP_PROXY", "http://upper:1"),
            ("ALL_PROXY", "http://all:2"),
        ]));
        assert_eq!(route(&p, "http://t/").as_deref(), Some("http://all:2"));
        let p = Proxies::from_lookup(env(&[("http_proxy", "lower:1")]));
        assert_eq!(route(&p, "http://t/").as_deref(), Some("http://lower:1"));
        assert_eq!(route(&p, "https://t/"), None);
        // Lower case wins; upper case is read for the others.
        let p = Proxies::from_lookup(env(&[
            ("HTTPS_PROXY", "upper:1"),
            ("https_proxy", "lower:2"),
            ("NO_PROXY", "skip.test"),
        ]));
        assert_eq!(route(&p, "https://t/").as_deref(), Some("http://lower:2"));
        assert_eq!(route(&p, "https://a.skip.test/"), None);
        let p = Proxies::from_lookup(env(&[("HTTPS_PROXY", "socks5://upper:1")]));
        assert_eq!(route(&p, "https://t/").as_deref(), Some("socks5://upper:1"));
        // Specific beats all; empty counts as unset; no_proxy beats NO_PROXY.
        let p = Proxies::from_lookup(env(&[
            ("all_proxy", "all:1"),
            ("https_proxy", ""),
            ("http_proxy", "web:2"),
            ("no_proxy", "a.test"),
            ("NO_PROXY", "*"),
        ]));
        assert_eq!(route(&p, "http://t/").as_deref(), Some("http://web:2"));
        assert_eq!(route(&p, "https://t/").as_deref(), Some("http://all:1"));
        assert_eq!(route(&p, "https://a.test/"), None);
        // A bad value names its variable, and matters only to the URLs that
        // would use it (curl's behaviour): never to no_proxy hosts or to the
        // other scheme. Credentials never appear in the message.
        let p = Proxies::from_lookup(env(&[
            ("ALL_PROXY", "socks4://h"),
            ("https_proxy", "http://u:secret@h:99999"),
            ("no_proxy", "direct.test"),
        ]));
        let http = p.unusable(&"http://t/".parse().unwrap()).unwrap();
        assert!(http.starts_with("ALL_PROXY: unsupported"), "{http}");
        let https = p.unusable(&"https://t/".parse().unwrap()).unwrap();
        assert!(https.starts_with("https_proxy: "), "{https}");
        assert!(!https.contains("secret"), "{https}");
        assert_eq!(p.unusable(&"https://direct.test/".parse().unwrap()), None);
        assert_eq!(route(&p, "http://t/"), None);
        let p = Proxies::from_lookup(env(&[("http_proxy", "socks4://h")]));
        assert_eq!(p.unusable(&"https://t/".parse().unwrap()), None);
        assert!(Proxies::from_lookup(env(&[])).is_empty());
    }

    #[test]
    fn absolute_form_credentials_only_for_http_proxies_and_targets() {
        let p = Proxies::all("http://u:p@h:1".parse().unwrap());
        assert!(p
            .absolute_form_auth(&"http://t/".parse().unwrap())
            .is_some());
        assert!(p
            .absolute_form_auth(&"https://t/".parse().unwrap())
            .is_none());
        let s = Proxies::all("socks5://u:p@h:1".parse().unwrap());
        assert!(s
            .absolute_form_auth(&"http://t/".parse().unwrap())
            .is_none());
    }

    async fn tunnel_answer(answer: &'static [u8]) -> (Result<(), ProxyError>, String) {
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        let proxy: ProxyUrl = "http://u:p@h:1".parse().unwrap();
        let peer = tokio::spawn(async move {
            let mut seen = vec![0u8; 4096];
            let mut n = 0;
            while !seen[..n].ends_with(b"\r\n\r\n") {
                n += theirs.read(&mut seen[n..]).await.unwrap();
            }
            theirs.write_all(answer).await.unwrap();
            String::from_utf8(seen[..n].to_vec()).unwrap()
        });
        let r = connect_tunnel(&mut ours, &proxy, "[::1]", 8443).await;
        (r, peer.await.unwrap())
    }

    #[tokio::test]
    async fn connect_tunnel_statuses() {
        let (ok, sent) = tunnel_answer(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        assert!(ok.is_ok());
        assert_eq!(
            sent,
            "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        );
        assert!(tunnel_answer(b"HTTP/1.0 204 No Content\r\n\r\n")
            .await
            .0
            .is_ok());
        let (err, _) = tunnel_answer(b"HTTP/1.1 403 Forbidden\r\nX: y\r\n\r\n").await;
        let err = err.unwrap_err().to_string();
        assert_eq!(
            err,
            "proxy http://h:1: CONNECT [::1]:8443: refused with 403 Forbidden"
        );
        let (err, _) = tunnel_answer(b"HTTP/1.1 200 OK\r\n\r\nearly").await;
        assert!(err.unwrap_err().to_string().contains("data after"));
        let (err, _) = tunnel_answer(b"SSH-2.0-nope\r\n\r\n").await;
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("not an HTTP response"));
    }
}
