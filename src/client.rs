//! Building the one pooled HTTP client every request shares.
//!
//! The stack, inside out:
//! 1. [`Resolver`]: hyper-util's `GaiResolver` (getaddrinfo on a blocking
//!    thread) behind a wrapper that marks failures with [`DnsError`], answers
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

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Uri;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::error::{ConnectError, DnsError};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The request body type: fetcher-stream sends no bodies.
pub type RequestBody = Empty<Bytes>;

/// The shared, cheaply cloneable client type.
pub type HttpClient = Client<HttpsConnector<MarkConnect>, RequestBody>;

/// Most response header fields accepted per response (hyper's default is 100;
/// curl accepts far more).
const MAX_RESPONSE_HEADERS: usize = 2_000;

/// Name resolution with RFC 6761 special cases and a [`DnsError`] marker.
#[derive(Clone, Debug)]
pub struct Resolver {
    gai: GaiResolver,
}

impl Resolver {
    fn new() -> Self {
        Resolver {
            gai: GaiResolver::new(),
        }
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        self.gai.poll_ready(cx).map_err(|e| DnsError(Box::new(e)))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(answer) = special_name(name.as_str()) {
            return Box::pin(async move { answer.map(Vec::into_iter) });
        }
        let lookup = self.gai.call(name);
        Box::pin(async move {
            match lookup.await {
                Ok(addrs) => Ok(addrs.collect::<Vec<_>>().into_iter()),
                Err(e) => Err(DnsError(Box::new(e))),
            }
        })
    }
}

/// `HttpConnector` whose TCP errors are wrapped in [`ConnectError`]
/// (resolution errors keep their [`DnsError`] marker and are not wrapped).
#[derive(Clone, Debug)]
pub struct MarkConnect(HttpConnector<Resolver>);

fn has_dns_marker(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<DnsError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

fn mark(err: BoxError) -> BoxError {
    if has_dns_marker(&*err) {
        err
    } else {
        Box::new(ConnectError(err))
    }
}

impl Service<Uri> for MarkConnect {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(|e| mark(e.into()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connect = self.0.call(uri);
        Box::pin(async move { connect.await.map_err(|e| mark(e.into())) })
    }
}

/// Builds the TLS configuration: *ring* provider, safe protocol versions,
/// Mozilla's root certificates.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Builds the shared client. `pool_max_idle_per_host` is the number of idle
/// keep-alive connections kept per origin (set it to the concurrency).
///
/// Must be called inside a tokio runtime (the pool spawns its idle reaper there).
pub fn build_client(pool_max_idle_per_host: usize) -> HttpClient {
    let mut http = HttpConnector::new_with_resolver(Resolver::new());
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(MarkConnect(http));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(pool_max_idle_per_host)
        .http1_max_headers(MAX_RESPONSE_HEADERS)
        .build(https)
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
}
