//! Opening the byte stream for a new connection: TCP to the origin (or to its
//! proxy), marked so that `error.rs` can tell the failure's phase by type.
//!
//! [`TcpConnector`] wraps hyper-util's `HttpConnector` (TCP, `TCP_NODELAY`,
//! Happy Eyeballs per RFC 8305, our [`Resolver`]): it applies `--resolve`,
//! asks [`Proxies::route`] whether the target goes through a proxy (then dials
//! the proxy and opens a `CONNECT` tunnel or a SOCKS5 connection, see
//! `proxy.rs`), and wraps TCP failures in [`ConnectError`] (resolution errors
//! keep their [`DnsError`] marker). hyper-rustls's `HttpsConnector` then runs
//! TLS over the stream, end to end through a tunnel.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::classify::{ConnectError, DnsError};
use super::conn_info::{time_lookups, Established};
use super::dns::{special_name, Resolver};
use super::proxy::{Proxies, ProxyScheme, ProxyUnreachable, ProxyUrl};
use super::BoxError;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// `HttpConnector` whose TCP errors are wrapped in [`ConnectError`]
/// (resolution errors keep their [`DnsError`] marker and are not wrapped).
///
/// It also applies `--resolve` overrides: a request to a listed `host:port`
/// connects to the given address instead, while TLS still uses the host name.
///
/// With [`super::ClientOptions::proxies`], a connection whose target has a proxy
/// goes to the proxy instead (see [`TcpConnector::call`]).
#[derive(Clone, Debug)]
pub struct TcpConnector {
    pub(crate) inner: HttpConnector<Resolver>,
    pub(crate) resolve: Arc<[ResolveOverride]>,
    /// Which proxy each target uses (none by default).
    pub(crate) proxies: Arc<Proxies>,
    /// The resolver `inner` uses, for `socks5://` targets resolved here.
    pub(crate) resolver: Resolver,
}

/// A TCP stream of ours: it says whether it goes to an HTTP proxy, and it
/// yields to the scheduler after a run of ready reads.
#[derive(Debug)]
pub struct TcpIo {
    inner: TokioIo<TcpStream>,
    /// Connected to an HTTP proxy for an `http://` target: requests go in
    /// absolute form (hyper-util's `Connected::proxy`).
    proxied: bool,
    /// Reads in a row that found data ready; see [`READS_BEFORE_YIELD`].
    ready_reads: u8,
    /// The peer and the set-up's timing, reported to the pool.
    established: Option<Established>,
}

impl TcpIo {
    fn new(inner: TokioIo<TcpStream>) -> TcpIo {
        TcpIo {
            inner,
            proxied: false,
            ready_reads: 0,
            established: None,
        }
    }

    /// Records the peer's address and the set-up's timing: it began at
    /// `started` and spent `dns` in name lookups.
    fn set_established(&mut self, started: Instant, dns: Option<Duration>) {
        let ready = Instant::now();
        self.established = Some(Established {
            remote_addr: self.inner.inner().peer_addr().ok(),
            dns,
            connect: ready
                .duration_since(started)
                .saturating_sub(dns.unwrap_or_default()),
            ready,
        });
    }
}

/// After this many reads in a row that return data at once, a read yields to
/// the scheduler once. A peer that floods a connection (endless `103 Early
/// Hints` heads, which hyper parses in a loop) would otherwise keep the worker
/// busy for up to tokio's whole cooperative budget per turn, and other
/// requests' deadlines would fire late (seen: 1.16 s at `-t 0.5`).
const READS_BEFORE_YIELD: u8 = 4;

impl Connection for TcpIo {
    fn connected(&self) -> Connected {
        let connected = Connected::new().proxy(self.proxied);
        match self.established {
            Some(e) => connected.extra(e),
            None => connected,
        }
    }
}

impl hyper::rt::Read for TcpIo {
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

impl hyper::rt::Write for TcpIo {
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
    if super::classify::chain(&*err).any(|e| e.is::<DnsError>()) {
        err
    } else {
        Box::new(ConnectError(err))
    }
}

impl Service<Uri> for TcpConnector {
    type Response = TcpIo;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(|e| mark(e.into()))
    }

    /// Connects to `uri`'s host, or to its proxy when [`Proxies::route`]
    /// names one (see `TcpConnector::call_proxied`), and records the peer's
    /// address and how long the lookups and the rest took.
    fn call(&mut self, uri: Uri) -> Self::Future {
        let started = Instant::now();
        let setup = self.setup(uri);
        Box::pin(async move {
            let (io, dns) = time_lookups(setup).await;
            let mut io = io?;
            io.set_established(started, dns);
            Ok(io)
        })
    }
}

impl TcpConnector {
    /// The set-up of [`TcpConnector::call`], untimed.
    fn setup(&mut self, uri: Uri) -> BoxFuture<Result<TcpIo, BoxError>> {
        // The environment named a proxy for this URL that cannot be used:
        // fail rather than connect directly behind the user's back.
        if let Some(why) = self.proxies.unusable(&uri) {
            let err: BoxError = Box::new(super::classify::ProxyError {
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
        Box::pin(async move {
            let inner = connect.await.map_err(|e| mark(e.into()))?;
            Ok(TcpIo::new(inner))
        })
    }
    /// Connects to `target` through `proxy`: fails `.invalid` targets at once
    /// (`dns`), resolves the target here for `socks5://`, dials the proxy
    /// (its host goes through `--resolve` and the resolver; failures keep the
    /// `dns`/`connect` markers, with the proxy named), then for an HTTP proxy
    /// marks the connection proxied (`http://` target) or opens a `CONNECT`
    /// tunnel (`https://`), and for SOCKS5 runs its handshake. Handshake
    /// failures are [`super::classify::ProxyError`]s.
    fn call_proxied(&mut self, proxy: ProxyUrl, target: Uri) -> BoxFuture<Result<TcpIo, BoxError>> {
        let connect = self
            .inner
            .call(apply_resolve(&self.resolve, proxy.connect_uri()));
        let resolve = self.resolve.clone();
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let https = target.scheme_str() == Some("https");
            let host = target.host().unwrap_or_default();
            let bare = super::unbracket(host);
            let port = super::port_of(&target);
            if let Some(Err(e)) = special_name(bare) {
                return Err(e.into());
            }
            let socks_host = match proxy.scheme() {
                ProxyScheme::Socks5 => lookup_one(&resolve, resolver, bare, port)
                    .await?
                    .to_string(),
                _ => bare.to_owned(),
            };
            let tcp = connect
                .await
                .map_err(|e| mark(Box::new(ProxyUnreachable::new(&proxy, e.into()))))?;
            let mut io = TcpIo::new(tcp);
            match proxy.scheme() {
                ProxyScheme::Http if !https => {
                    io.proxied = true;
                    Ok(io)
                }
                ProxyScheme::Http => {
                    super::proxy::connect_tunnel(io.inner.inner_mut(), &proxy, host, port).await?;
                    Ok(io)
                }
                ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                    Ok(super::proxy::socks5_handshake(io, &proxy, &socks_host, port).await?)
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
    let host = super::unbracket(uri.host().unwrap_or_default());
    let port = super::port_of(&uri);
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
        let addr = super::unbracket(addr)
            .parse()
            .map_err(|_| format!("'{s}': '{addr}' is not an IP address"))?;
        Ok(ResolveOverride {
            host: host.to_owned(),
            port,
            addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

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
