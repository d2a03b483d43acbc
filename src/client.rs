//! Building the one pooled HTTP client every request shares.
//!
//! The stack, inside out:
//! 1. [`Resolver`]: getaddrinfo on a blocking thread (as hyper-util's
//!    `GaiResolver`, but through dns-lookup, which keeps the error code so a
//!    temporary failure is marked [`TemporaryDns`]); failures are marked with
//!    [`DnsError`]; it answers
//!    `localhost` and `*.localhost` with loopback addresses and fails `.invalid`
//!    names at once, without a query, as RFC 6761 sec. 6.3 and 6.4 ask.
//! 2. hyper-util's `HttpConnector` (TCP, `TCP_NODELAY`, Happy Eyeballs), wrapped
//!    in [`MarkConnect`] so TCP failures carry a [`ConnectError`] marker.
//! 3. hyper-rustls's `HttpsConnector` (rustls with the *ring* provider, which
//!    builds with a C compiler alone; Mozilla's roots from `webpki-roots`, so no
//!    system store is read at start-up) offering `h2` and `http/1.1` by ALPN.
//! 4. hyper-util's legacy `Client`: keep-alive pooling per origin, HTTP/1.1, and
//!    HTTP/2 when ALPN selects it.
//!
//! The markers let `error.rs` tell `dns` from `connect` from `tls` by type,
//! since hyper-util's own connect error type is private.
//!
//! [`ClientOptions`] adds curl's `--cacert`, `--insecure` and `--resolve`, and
//! the proxies: [`MarkConnect`] asks [`Proxies::route`] for each new
//! connection and then dials the proxy instead of the target, opening a
//! `CONNECT` tunnel or a SOCKS5 connection when needed (see `proxy.rs`), so
//! TLS runs end to end through the tunnel. [`HttpClient`] adds
//! `Proxy-Authorization` to requests sent in absolute form to an HTTP proxy.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

use crate::connect_timeout::ConnectTimeout;
use crate::error::{ConnectError, DnsError, TemporaryDns};
use crate::proxy::{Proxies, ProxyScheme, ProxyUrl, Via};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The request body type: the bytes of `-d` / `--data-binary` or of a
/// `--input jsonl` spec's `body`, in one `Bytes` shared by every URL (cloning
/// it copies no data); empty for requests without a body.
pub type RequestBody = Full<Bytes>;

/// The shared, cheaply cloneable client: hyper-util's legacy `Client` over
/// our connector, plus the proxy settings it needs to add
/// `Proxy-Authorization` to absolute-form requests.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<ConnectTimeout<HttpsConnector<MarkConnect>>, RequestBody>,
    proxies: Arc<Proxies>,
}

impl HttpClient {
    /// Sends `req` (as hyper-util's `Client::request`). A request that goes
    /// to an HTTP proxy in absolute form (an `http://` target) gets
    /// `Proxy-Authorization: Basic` from the proxy URL's credentials, unless
    /// it already has that field (`-H`).
    pub fn request(
        &self,
        mut req: http::Request<RequestBody>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        if let Some(auth) = self.proxies.absolute_form_auth(req.uri()) {
            req.headers_mut()
                .entry(http::header::PROXY_AUTHORIZATION)
                .or_insert(auth);
        }
        self.inner.request(req)
    }
}

/// Most response header fields accepted per response (hyper's default is 100;
/// curl accepts far more).
const MAX_RESPONSE_HEADERS: usize = 2_000;

/// Name resolution with RFC 6761 special cases and a [`DnsError`] marker:
/// `getaddrinfo` on a blocking thread (as hyper-util's `GaiResolver`), through
/// dns-lookup so that its error code is kept: a temporary failure
/// (`EAI_AGAIN`) is also marked [`TemporaryDns`], which `--retries` retries.
#[derive(Clone, Debug, Default)]
pub struct Resolver;

impl Resolver {
    fn new() -> Self {
        Resolver
    }
}

/// `getaddrinfo(host)` for stream sockets; the port is set by the connector.
fn lookup(host: &str) -> Result<Vec<SocketAddr>, DnsError> {
    let hints = dns_lookup::AddrInfoHints {
        socktype: dns_lookup::SockType::Stream.into(),
        ..Default::default()
    };
    match dns_lookup::getaddrinfo(Some(host), None, Some(hints)) {
        Ok(found) => found
            .map(|a| a.map(|a| a.sockaddr))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DnsError(Box::new(e))),
        Err(e) if matches!(e.kind(), dns_lookup::LookupErrorKind::Again) => {
            Err(DnsError(Box::new(TemporaryDns(e.into()))))
        }
        Err(e) => Err(DnsError(Box::new(std::io::Error::from(e)))),
    }
}

fn special_name(host: &str) -> Option<Result<Vec<SocketAddr>, DnsError>> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "invalid" || host.ends_with(".invalid") {
        return Some(Err(DnsError(
            format!("{host}: names under .invalid never resolve (RFC 6761 sec. 6.4)").into(),
        )));
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        ]));
    }
    None
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = BoxFuture<Result<Self::Response, DnsError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(answer) = special_name(name.as_str()) {
            return Box::pin(async move { answer.map(Vec::into_iter) });
        }
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || lookup(&host)).await {
                Ok(found) => found.map(Vec::into_iter),
                Err(e) => Err(DnsError(Box::new(e))),
            }
        })
    }
}

/// `HttpConnector` whose TCP errors are wrapped in [`ConnectError`]
/// (resolution errors keep their [`DnsError`] marker and are not wrapped).
///
/// It also applies `--resolve` overrides: a request to a listed `host:port`
/// connects to the given address instead, while TLS still uses the host name.
///
/// With [`ClientOptions::proxies`], a connection whose target has a proxy
/// goes to the proxy instead (see [`MarkConnect::call`]).
#[derive(Clone, Debug)]
pub struct MarkConnect {
    inner: HttpConnector<Resolver>,
    resolve: Arc<[ResolveOverride]>,
    /// Counts open sockets when an idle budget is set.
    sockets: Option<Arc<SocketCount>>,
    /// Which proxy each target uses (none by default).
    proxies: Arc<Proxies>,
    /// The resolver `inner` uses, for `socks5://` targets resolved here.
    resolver: Resolver,
}

/// Open sockets, and how many may stay open once their requests are done.
///
/// The pool keeps idle keep-alive connections per origin, with no total cap,
/// so a long list of distinct hosts could fill the open-file limit with idle
/// sockets. A connection opened while `open` is at or above `keep_idle_below`
/// is poisoned (hyper-util's `Connected::poison`): it serves its request and
/// is closed instead of being pooled. Idle plus in-flight sockets thus stay
/// within the budget.
#[derive(Debug)]
pub struct SocketCount {
    open: AtomicUsize,
    keep_idle_below: usize,
    /// One permit per socket that fits: the idle budget plus the concurrency.
    /// A connection takes one before its socket is opened and gives it back
    /// when the socket is closed. A poisoned connection is closed by its
    /// connection task, which may run only after the request's slot went to
    /// the next URL; without the wait, that URL's new socket could be one
    /// more than the open-file limit allows ("Too many open files").
    room: Arc<Semaphore>,
}

impl SocketCount {
    /// Waits until one more socket fits, when counting.
    async fn room(sockets: &Option<Arc<SocketCount>>) -> Option<OwnedSemaphorePermit> {
        let s = sockets.as_ref()?;
        // The semaphore is never closed.
        s.room.clone().acquire_owned().await.ok()
    }
}

/// A counted TCP stream: decrements the count when closed, and reports itself
/// poisoned (not to be pooled) when it was opened over the idle budget.
#[derive(Debug)]
pub struct CountedIo {
    inner: TokioIo<TcpStream>,
    sockets: Option<Arc<SocketCount>>,
    /// This socket's place in [`SocketCount::room`], given back on drop.
    _room: Option<OwnedSemaphorePermit>,
    one_shot: bool,
    /// Connected to an HTTP proxy for an `http://` target: requests go in
    /// absolute form (hyper-util's `Connected::proxy`).
    proxied: bool,
    /// Reads in a row that found data ready; see [`READS_BEFORE_YIELD`].
    ready_reads: u8,
    /// Set once a response came back on this connection.
    used: ConnectionUse,
}

impl CountedIo {
    /// Counts a newly opened socket (when counting) and wraps it.
    fn new(
        inner: TokioIo<TcpStream>,
        sockets: Option<Arc<SocketCount>>,
        room: Option<OwnedSemaphorePermit>,
    ) -> CountedIo {
        let one_shot = sockets
            .as_ref()
            .is_some_and(|s| s.open.fetch_add(1, Ordering::Relaxed) >= s.keep_idle_below);
        CountedIo {
            inner,
            sockets,
            _room: room,
            one_shot,
            proxied: false,
            ready_reads: 0,
            used: ConnectionUse::new(),
        }
    }
}

/// After this many reads in a row that return data at once, a read yields to
/// the scheduler once. A peer that floods a connection (endless `103 Early
/// Hints` heads, which hyper parses in a loop) would otherwise keep the worker
/// busy for up to tokio's whole cooperative budget per turn, and other
/// requests' deadlines would fire late (seen: 1.16 s at `-t 0.5`).
const READS_BEFORE_YIELD: u8 = 4;

impl Drop for CountedIo {
    fn drop(&mut self) {
        if let Some(s) = &self.sockets {
            s.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Whether a connection has carried a response yet, and when it was opened,
/// shared between the connection (as hyper-util's `Connected::extra`, which
/// also puts it in each response's extensions) and the requests on it:
/// `fetch.rs` marks it when a response head arrives, and a request that fails
/// on a connection opened for it is not taken for a stale kept-alive one
/// (`FetchError::is_stale_connection`).
#[derive(Clone, Debug)]
pub struct ConnectionUse {
    answered: Arc<std::sync::atomic::AtomicBool>,
    opened: std::time::Instant,
}

impl ConnectionUse {
    fn new() -> ConnectionUse {
        ConnectionUse {
            answered: Arc::default(),
            opened: std::time::Instant::now(),
        }
    }

    /// Records that a response came back on the connection.
    pub fn answered(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }

    /// Whether the connection was kept alive for a request sent at `sent`:
    /// it had answered before, or it was opened before the request and
    /// waited idle in the pool (the pool also opens connections that a
    /// request started but did not need, when another came free first).
    pub fn was_kept_alive(&self, sent: std::time::Instant) -> bool {
        self.answered.load(Ordering::Relaxed) || self.opened < sent
    }
}

impl Connection for CountedIo {
    fn connected(&self) -> Connected {
        let connected = self
            .inner
            .connected()
            .proxy(self.proxied)
            .extra(self.used.clone());
        if self.one_shot {
            connected.poison();
        }
        connected
    }
}

impl hyper::rt::Read for CountedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.ready_reads >= READS_BEFORE_YIELD {
            self.ready_reads = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.ready_reads = if polled.is_ready() {
            self.ready_reads + 1
        } else {
            0
        };
        polled
    }
}

impl hyper::rt::Write for CountedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}

fn mark(err: BoxError) -> BoxError {
    if crate::error::chain(&*err).any(|e| e.is::<DnsError>()) {
        err
    } else {
        Box::new(ConnectError(err))
    }
}

impl Service<Uri> for MarkConnect {
    type Response = CountedIo;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(|e| mark(e.into()))
    }

    /// Connects to `uri`'s host, or to its proxy when [`Proxies::route`]
    /// names one (see `MarkConnect::call_proxied`).
    fn call(&mut self, uri: Uri) -> Self::Future {
        // The environment named a proxy for this URL that cannot be used:
        // fail rather than connect directly behind the user's back.
        if let Some(why) = self.proxies.unusable(&uri) {
            let err: BoxError = Box::new(crate::error::ProxyError {
                message: format!("cannot use the proxy from {why}"),
                source: None,
            });
            return Box::pin(async move { Err(err) });
        }
        if let Some(proxy) = self.proxies.route(&uri) {
            let proxy = proxy.clone();
            return self.call_proxied(proxy, uri);
        }
        let uri = apply_resolve(&self.resolve, uri);
        let connect = self.inner.call(uri);
        let sockets = self.sockets.clone();
        Box::pin(async move {
            let room = SocketCount::room(&sockets).await;
            let inner = connect.await.map_err(|e| mark(e.into()))?;
            Ok(CountedIo::new(inner, sockets, room))
        })
    }
}

impl MarkConnect {
    /// Connects to `target` through `proxy`: fails `.invalid` targets at once
    /// (`dns`), resolves the target here for `socks5://`, dials the proxy
    /// (its host goes through `--resolve` and the resolver; failures keep the
    /// `dns`/`connect` markers, with the proxy named), then for an HTTP proxy
    /// marks the connection proxied (`http://` target) or opens a `CONNECT`
    /// tunnel (`https://`), and for SOCKS5 runs its handshake. Handshake
    /// failures are [`crate::error::ProxyError`]s.
    fn call_proxied(
        &mut self,
        proxy: ProxyUrl,
        target: Uri,
    ) -> BoxFuture<Result<CountedIo, BoxError>> {
        let connect = self
            .inner
            .call(apply_resolve(&self.resolve, proxy.connect_uri()));
        let sockets = self.sockets.clone();
        let resolve = self.resolve.clone();
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let https = target.scheme_str() == Some("https");
            let host = target.host().unwrap_or_default();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let port = target.port_u16().unwrap_or(if https { 443 } else { 80 });
            if let Some(Err(e)) = special_name(bare) {
                return Err(e.into());
            }
            let socks_host = match proxy.scheme() {
                ProxyScheme::Socks5 => lookup_one(&resolve, resolver, bare, port)
                    .await?
                    .to_string(),
                _ => bare.to_owned(),
            };
            let room = SocketCount::room(&sockets).await;
            let tcp = connect
                .await
                .map_err(|e| mark(Box::new(Via::new(&proxy, e.into()))))?;
            let mut io = CountedIo::new(tcp, sockets, room);
            match proxy.scheme() {
                ProxyScheme::Http if !https => {
                    io.proxied = true;
                    Ok(io)
                }
                ProxyScheme::Http => {
                    crate::proxy::connect_tunnel(io.inner.inner_mut(), &proxy, host, port).await?;
                    Ok(io)
                }
                ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                    Ok(crate::proxy::socks5_handshake(io, &proxy, &socks_host, port).await?)
                }
            }
        })
    }
}

/// Resolves `host` (a name or an IP address) to one address, for a
/// `socks5://` proxy: `--resolve` first, then the RFC 6761 names, then the
/// resolver; the first address wins, as with curl.
async fn lookup_one(
    resolve: &[ResolveOverride],
    mut resolver: Resolver,
    host: &str,
    port: u16,
) -> Result<IpAddr, DnsError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Some(o) = resolve
        .iter()
        .find(|o| o.port == port && o.host.eq_ignore_ascii_case(host))
    {
        return Ok(o.addr);
    }
    let name = Name::from_str(host).map_err(|e| DnsError(Box::new(e)))?;
    let mut addrs = resolver.call(name).await?;
    addrs
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| DnsError(format!("{host}: no address").into()))
}

/// Rewrites the connect target of a request whose `host:port` has a
/// `--resolve` override. The https connector has already taken the server name
/// for TLS from the original URI.
fn apply_resolve(resolve: &[ResolveOverride], uri: Uri) -> Uri {
    if resolve.is_empty() {
        return uri;
    }
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let Some(o) = resolve
        .iter()
        .find(|o| o.port == port && o.host.eq_ignore_ascii_case(host))
    else {
        return uri;
    };
    let addr = SocketAddr::new(o.addr, port);
    let scheme = uri.scheme_str().unwrap_or("http");
    format!("{scheme}://{addr}/").parse().unwrap_or(uri)
}

/// One `--resolve HOST:PORT:ADDR` entry (curl's option): connections to
/// `HOST:PORT` go to `ADDR` without a DNS lookup. `ADDR` may be an IPv4
/// address or an IPv6 address with or without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    /// The host name as it appears in URLs (compared case-insensitively).
    pub host: String,
    /// The port as it appears in URLs (80/443 when the URL has none).
    pub port: u16,
    /// The address to connect to.
    pub addr: IpAddr,
}

impl FromStr for ResolveOverride {
    type Err = String;

    /// Parses `HOST:PORT:ADDR`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("'{s}' is not HOST:PORT:ADDR"));
        };
        if host.is_empty() {
            return Err(format!("'{s}': empty host"));
        }
        let port = port
            .parse()
            .map_err(|_| format!("'{s}': '{port}' is not a port"))?;
        let addr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("'{s}': '{addr}' is not an IP address"))?;
        Ok(ResolveOverride {
            host: host.to_owned(),
            port,
            addr,
        })
    }
}

/// Reads every certificate from a PEM file (curl's `--cacert`).
///
/// # Errors
/// A message naming the file when it cannot be read or holds no certificate.
pub fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{name}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{name}: no PEM certificate found"));
    }
    Ok(certs)
}

/// Connection options beyond the defaults. `ClientOptions::default()` verifies
/// against Mozilla's roots only and resolves every name with the system resolver.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Extra trusted root certificates (`--cacert`), added to the built-in ones.
    /// Default: none.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Skip server certificate verification (`--insecure`). Dangerous: anyone on
    /// the path can impersonate the server. Default `false`.
    pub insecure: bool,
    /// `--resolve` overrides. Default: none.
    pub resolve: Vec<ResolveOverride>,
    /// Most sockets kept open once their requests are done (idle keep-alive
    /// connections, all origins together, counting those in use when the
    /// connection was opened). Set it to the open-file budget minus the
    /// concurrency so that idle and in-flight sockets together fit the limit;
    /// a new connection waits while that many sockets are still open.
    /// Default `None`: no limit beyond the pool's per-origin one.
    pub idle_socket_budget: Option<usize>,
    /// Which proxy each request goes through (`--proxy`, `--noproxy` and the
    /// proxy environment variables, by curl's rules; see [`crate::proxy`]).
    /// Default [`Proxies::none`]: the library never reads the environment;
    /// the command line does ([`Proxies::from_env`]).
    pub proxies: Proxies,
    /// Which HTTP versions to speak (`--http1.1`, `--http2-prior-knowledge`).
    /// Default [`HttpVersions::Negotiate`].
    pub http_versions: HttpVersions,
    /// Most time to establish one connection: name resolution, TCP connect and
    /// the TLS handshake (`--connect-timeout`, as curl's). Expiry is a
    /// `connect` failure. Default `None`: only the per-URL deadline applies.
    pub connect_timeout: Option<Duration>,
}

/// The HTTP versions the client may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersions {
    /// HTTP/1.1 on http://; on https://, HTTP/2 or HTTP/1.1 as the server
    /// selects by ALPN (`h2`, `http/1.1`). The default.
    #[default]
    Negotiate,
    /// HTTP/1.1 only; https offers only `http/1.1` by ALPN (curl's `--http1.1`).
    Http1Only,
    /// HTTP/2 only, without upgrade (curl's `--http2-prior-knowledge`): h2c
    /// with the connection preface on http:// (RFC 9113 sec. 3.3), and only
    /// `h2` offered by ALPN on https://.
    Http2PriorKnowledge,
}

/// Accepts any server certificate, but still checks handshake signatures so
/// the connection is at least internally consistent. Only for `--insecure`.
#[derive(Debug)]
struct NoCertificateVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Builds the TLS configuration: *ring* provider, safe protocol versions,
/// Mozilla's root certificates plus `extra_roots` (or no verification).
fn tls_config(options: &ClientOptions) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions");
    if options.insecure {
        return builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateVerification(provider)))
            .with_no_client_auth();
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    roots.add_parsable_certificates(options.extra_roots.iter().cloned());
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// The shared socket count for `options.idle_socket_budget`, if one is set,
/// with room for that many idle sockets plus `concurrency` in use.
pub fn socket_count(options: &ClientOptions, concurrency: usize) -> Option<Arc<SocketCount>> {
    options.idle_socket_budget.map(|keep_idle_below| {
        Arc::new(SocketCount {
            open: AtomicUsize::new(0),
            keep_idle_below,
            room: Arc::new(Semaphore::new(
                keep_idle_below
                    .saturating_add(concurrency)
                    .min(Semaphore::MAX_PERMITS),
            )),
        })
    })
}

/// Builds the shared client. `pool_max_idle_per_host` is the number of idle
/// keep-alive connections kept per origin (set it to the concurrency).
///
/// Must be called inside a tokio runtime (the pool spawns its idle reaper there).
///
/// `sockets` is the shared open-socket count for
/// [`ClientOptions::idle_socket_budget`] (see [`socket_count`]).
pub fn build_client(
    pool_max_idle_per_host: usize,
    options: &ClientOptions,
    sockets: Option<Arc<SocketCount>>,
) -> HttpClient {
    let proxies = Arc::new(options.proxies.clone());
    let resolver = Resolver::new();
    let mut http = HttpConnector::new_with_resolver(resolver.clone());
    http.enforce_http(false);
    http.set_nodelay(true);
    let tcp = MarkConnect {
        inner: http,
        resolve: options.resolve.clone().into(),
        sockets,
        proxies: proxies.clone(),
        resolver,
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(options))
        .https_or_http();
    // The ALPN protocols offered follow the enabled versions.
    let https = match options.http_versions {
        HttpVersions::Negotiate => builder.enable_http1().enable_http2().wrap_connector(tcp),
        HttpVersions::Http1Only => builder.enable_http1().wrap_connector(tcp),
        HttpVersions::Http2PriorKnowledge => builder.enable_http2().wrap_connector(tcp),
    };
    let inner = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(pool_max_idle_per_host)
        .http1_max_headers(MAX_RESPONSE_HEADERS)
        .http2_only(options.http_versions == HttpVersions::Http2PriorKnowledge)
        .build(ConnectTimeout::new(https, options.connect_timeout));
    HttpClient { inner, proxies }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6761_names() {
        assert!(matches!(
            special_name("this-host-does-not-exist.invalid"),
            Some(Err(_))
        ));
        assert!(matches!(special_name("INVALID."), Some(Err(_))));
        assert_eq!(special_name("a.localhost").unwrap().unwrap().len(), 2);
        assert!(special_name("example.com").is_none());
    }

    #[test]
    fn resolve_overrides() {
        let o: ResolveOverride = "example.test:8443:127.0.0.1".parse().unwrap();
        assert_eq!(o.port, 8443);
        let v6: ResolveOverride = "h:443:[::1]".parse().unwrap();
        assert_eq!(v6.addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert!("h:x:127.0.0.1".parse::<ResolveOverride>().is_err());
        assert!("h:80".parse::<ResolveOverride>().is_err());
        let list = [o, v6];
        let uri = apply_resolve(&list, "https://EXAMPLE.test:8443/p?q".parse().unwrap());
        assert_eq!(uri.to_string(), "https://127.0.0.1:8443/");
        let uri = apply_resolve(&list, "https://h/".parse().unwrap());
        assert_eq!(uri.to_string(), "https://[::1]:443/");
        let untouched = apply_resolve(&list, "http://h/".parse().unwrap());
        assert_eq!(untouched.to_string(), "http://h/");
    }
}
