//! The HTTP stack: one shared, pooled client that every request goes through.
//!
//! Inside out:
//! - [`dns`]: name resolution: `getaddrinfo` on tokio's blocking pool, one
//!   query per name at a time (single flight), a bounded cache; the RFC 6761
//!   names `localhost` and `.invalid` answered without a query.
//! - [`connect`]: TCP to the origin or its proxy (hyper-util's `HttpConnector`
//!   with Happy Eyeballs), `--resolve`, and the `dns`/`connect` error markers;
//!   [`proxy`] chooses the proxy by curl's rules and speaks `CONNECT` and
//!   SOCKS5; [`connect_timeout`] bounds the whole set-up (`--connect-timeout`).
//! - [`tls`]: rustls settings; hyper-rustls's `HttpsConnector` runs TLS over
//!   the stream and offers `h2` and `http/1.1` by ALPN.
//! - [`conn_info`]: what a response's connection was (peer address, reused
//!   or new, the set-up's phases), reported by the connector and the pool.
//! - [`pool`]: which connection carries each request (one per HTTP/2 origin,
//!   an idle list for HTTP/1.1, a total idle cap with least-recently-used
//!   eviction), over hyper's `client::conn` handshakes.
//!
//! Dependencies run one way: `pool` knows only a `Service<Uri>` that returns a
//! byte stream; outside this folder, the HTTP stack uses only `crate::error`
//! and `crate::fdlimit`.

pub(crate) mod body;
mod classify;
pub mod conn_info;
pub mod connect;
pub mod connect_timeout;
pub mod dns;
pub mod pool;
pub mod proxy;
pub(crate) mod redirect;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;

pub use conn_info::ConnInfo;
pub use connect::ResolveOverride;
use connect::TcpConnector;
use connect_timeout::ConnectTimeout;
pub use dns::Resolver;
use pool::{Pool, PoolOptions};
pub use pool::{PoolBody, PoolError, PoolStats};
use proxy::Proxies;
pub use tls::load_pem_certs;

/// A boxed error, as hyper and tower services pass them around.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) use classify::{is_stale_connection, is_unprocessed_stream, request_error};

/// `host` without the brackets of an IPv6 literal (`[::1]` gives `::1`);
/// names and IPv4 addresses are returned as they are.
pub(crate) fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The default port of a scheme: 443 for `https`, 80 for `http` (and for
/// anything else, which never gets this far).
pub(crate) fn default_port(scheme: Option<&str>) -> u16 {
    if scheme == Some("https") {
        443
    } else {
        80
    }
}

/// The port of `uri`: its own, else its scheme's default.
pub(crate) fn port_of(uri: &http::Uri) -> u16 {
    uri.port_u16()
        .unwrap_or_else(|| default_port(uri.scheme_str()))
}

/// `Basic` credentials (RFC 7617): `user:password` in base64, for
/// `Authorization` or `Proxy-Authorization`; marked sensitive so that they
/// are never printed.
pub(crate) fn basic_auth(user: &[u8], password: &[u8]) -> http::HeaderValue {
    use base64::Engine as _;
    let mut plain = Vec::with_capacity(user.len() + 1 + password.len());
    plain.extend_from_slice(user);
    plain.push(b':');
    plain.extend_from_slice(password);
    let token = base64::engine::general_purpose::STANDARD.encode(plain);
    let mut value = http::HeaderValue::from_str(&format!("Basic {token}"))
        .expect("base64 is a valid field value");
    value.set_sensitive(true);
    value
}

/// The request body type: the bytes of `-d` / `--data-binary` or of a
/// `--input jsonl` spec's `body`, in one `Bytes` shared by every URL (cloning
/// it copies no data); empty for requests without a body.
pub type RequestBody = Full<Bytes>;

/// A response whose body holds its connection until read or dropped.
pub type PoolResponse = http::Response<PoolBody>;

/// Most response header fields accepted per response (hyper's default is 100;
/// curl accepts far more).
const MAX_RESPONSE_HEADERS: usize = 2_000;

/// Idle connections kept, all origins together, when
/// [`ClientOptions::idle_socket_budget`] is not set.
pub const DEFAULT_IDLE_CONNECTIONS: usize = crate::fdlimit::MAX_IDLE_SOCKETS;

type Connector = ConnectTimeout<hyper_rustls::HttpsConnector<TcpConnector>>;

/// The shared, cheaply cloneable client: our [`pool`] over the connector
/// stack, plus the proxy settings it needs to add `Proxy-Authorization` to
/// absolute-form requests.
#[derive(Clone, Debug)]
pub struct HttpClient {
    pool: Pool<Connector>,
    proxies: Arc<Proxies>,
    /// Connection counters, shared with the pool (read by the tests).
    #[cfg(test)]
    stats: Arc<PoolStats>,
    /// The resolver, for its cache and single-flight counters (read by the
    /// tests).
    #[cfg(test)]
    resolver: Resolver,
}

impl HttpClient {
    /// Sends `req` (its URI absolute) and returns the response head. A request
    /// that goes to an HTTP proxy in absolute form (an `http://` target) gets
    /// `Proxy-Authorization: Basic` from the proxy URL's credentials, unless
    /// it already has that field (`-H`). `fresh` skips idle HTTP/1.1
    /// connections (for a request sent again after a kept-alive connection
    /// failed).
    ///
    /// # Errors
    /// [`PoolError`], whose source chain holds the cause (`crate::error`
    /// classifies it).
    pub async fn request(
        &self,
        mut req: http::Request<RequestBody>,
        fresh: bool,
    ) -> Result<PoolResponse, PoolError> {
        if let Some(auth) = self.proxies.absolute_form_auth(req.uri()) {
            req.headers_mut()
                .entry(http::header::PROXY_AUTHORIZATION)
                .or_insert(auth);
        }
        self.pool.send(req, fresh).await
    }

    /// The pool's counters (connections opened so far).
    #[cfg(test)]
    pub(crate) fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// The resolver's counters (queries sent, answers from the cache).
    #[cfg(test)]
    pub(crate) fn dns_stats(&self) -> dns::DnsStats {
        self.resolver.stats()
    }
}

/// What a client has done so far: connections opened and name lookups
/// sent, counted as they happen (relaxed atomics, so a read while requests
/// run may lag by a few). Clones share the counts; `ClientStats::default()`
/// starts at zero. The client counts into the one of [`crate::RunStats`].
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    /// The pool's counters ([`PoolStats::connections_opened`]).
    pool: Arc<PoolStats>,
    /// Queries sent by the resolver ([`dns::DnsStats::queries`]).
    dns_queries: Arc<AtomicU64>,
}

impl ClientStats {
    /// Connections set up: TCP, then TLS for https, and the HTTP handshake
    /// all done (an HTTP/2 connection carries many requests; a kept-alive
    /// HTTP/1.1 one carries one after another). Through a proxy, the
    /// connection to the proxy.
    pub fn connections_opened(&self) -> u64 {
        self.pool.connections_opened.load(Ordering::Relaxed)
    }

    /// Name lookups sent to the system resolver (`getaddrinfo`). IP
    /// literals, `--resolve` hosts and the RFC 6761 names `localhost` and
    /// `.invalid` need none; a name asked again within a minute is answered
    /// from the cache (a failure within 5 s), and lookups of one name made
    /// at once share one query. With a `socks5h` proxy the proxy resolves
    /// the names, and none is counted here.
    pub fn dns_lookups(&self) -> u64 {
        self.dns_queries.load(Ordering::Relaxed)
    }
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
    /// Most connections kept open once their requests are done (idle
    /// keep-alive connections, all origins together); past it the least
    /// recently used is closed. Open connections are capped at the
    /// concurrency plus this. Set it to the open-file budget minus the
    /// concurrency so that idle and in-flight sockets together fit the limit.
    /// Default `None`: 256.
    pub idle_socket_budget: Option<usize>,
    /// Which proxy each request goes through (`--proxy`, `--noproxy` and the
    /// proxy environment variables, by curl's rules; see [`Proxies::from_lookup`]).
    /// Default [`Proxies::none`]: the library never reads the environment;
    /// the command line does ([`Proxies::from_lookup`]).
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

/// Builds the shared client for `concurrency` requests in flight, counting
/// its connections and lookups in `stats`.
///
/// Idle connections are capped at [`ClientOptions::idle_socket_budget`], or
/// by default at [`DEFAULT_IDLE_CONNECTIONS`]; open connections at
/// `concurrency` plus that.
pub fn build_client(
    concurrency: usize,
    options: &ClientOptions,
    stats: &ClientStats,
) -> HttpClient {
    build_client_with(concurrency, options, Arc::new(dns::getaddrinfo), stats)
}

/// [`build_client`] with a lookup function of the caller's instead of the
/// system resolver (see [`Resolver::with_lookup`]).
pub fn build_client_with(
    concurrency: usize,
    options: &ClientOptions,
    lookup: dns::LookupFn,
    stats: &ClientStats,
) -> HttpClient {
    let resolver = Resolver::for_client(concurrency, lookup, stats.dns_queries.clone());
    let proxies = Arc::new(options.proxies.clone());
    let mut http = HttpConnector::new_with_resolver(resolver.clone());
    http.enforce_http(false);
    http.set_nodelay(true);
    let tcp = TcpConnector {
        inner: http,
        resolve: options.resolve.clone().into(),
        proxies: proxies.clone(),
        resolver: resolver.clone(),
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls::tls_config(options))
        .https_or_http();
    // The ALPN protocols offered follow the enabled versions.
    let https = match options.http_versions {
        HttpVersions::Negotiate => builder.enable_http1().enable_http2().wrap_connector(tcp),
        HttpVersions::Http1Only => builder.enable_http1().wrap_connector(tcp),
        HttpVersions::Http2PriorKnowledge => builder.enable_http2().wrap_connector(tcp),
    };
    let idle_cap = options
        .idle_socket_budget
        .unwrap_or(DEFAULT_IDLE_CONNECTIONS);
    let pool = Pool::new(
        ConnectTimeout::new(https, options.connect_timeout),
        PoolOptions {
            idle_cap,
            max_headers: MAX_RESPONSE_HEADERS,
            http2_only: options.http_versions == HttpVersions::Http2PriorKnowledge,
            http1_only: options.http_versions == HttpVersions::Http1Only,
            socket_cap: concurrency.saturating_add(idle_cap),
        },
        stats.pool.clone(),
    );
    HttpClient {
        pool,
        proxies,
        #[cfg(test)]
        stats: stats.pool.clone(),
        #[cfg(test)]
        resolver,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A loopback HTTP/1.1 + h2c server answering `ok`, counting connections.
    async fn server() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(Bytes::from_static(b"ok")),
                        ))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
                });
            }
        });
        (port, accepted)
    }

    /// An h2c server that allows one stream per connection and answers only
    /// once `group` requests are in, counting connections.
    async fn one_stream_server(group: usize) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let barrier = Arc::new(tokio::sync::Barrier::new(group));
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        let barrier = barrier.clone();
                        async move {
                            barrier.wait().await;
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"ok")),
                            ))
                        }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .max_concurrent_streams(1)
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
                });
            }
        });
        (port, accepted)
    }

    /// A server that allows one stream per connection gets a connection per
    /// request in flight: with four requests held until all four have
    /// arrived, queueing them on one connection would never finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_http2_connection_makes_room_on_another() {
        let (port, accepted) = one_stream_server(4).await;
        let options = ClientOptions {
            http_versions: HttpVersions::Http2PriorKnowledge,
            ..ClientOptions::default()
        };
        let client = build_client(4, &options, &ClientStats::default());
        // The first request learns the limit from the server's SETTINGS.
        let warm = get_all(&client, vec![format!("http://127.0.0.1:{port}/warm")]);
        let rest = async {
            // Held until the warm-up request is in (a group of four).
            tokio::time::sleep(Duration::from_millis(100)).await;
            let urls = (0..3)
                .map(|i| format!("http://127.0.0.1:{port}/{i}"))
                .collect();
            get_all(&client, urls).await;
        };
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(warm, rest) })
            .await
            .expect("requests queued behind a full connection");
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    /// A relay to `port` whose first connection stops forwarding (both ways,
    /// sockets left open) once `stall` is set; counts connections.
    async fn stalling_relay(port: u16, stall: Arc<AtomicUsize>) -> (u16, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let first = count.fetch_add(1, Ordering::SeqCst) == 0;
                let server = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                for (mut from, mut to) in [
                    (
                        Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                        Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                    ),
                    (Box::new(sr), Box::new(cw)),
                ] {
                    let stall = stall.clone();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 16384];
                        loop {
                            let n = match from.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if first && stall.load(Ordering::SeqCst) > 0 {
                                // Hold both sockets open, forward nothing.
                                std::future::pending::<()>().await;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        (relay_port, accepted)
    }

    /// An HTTP/2 connection that goes silent with a stream open (its PINGs
    /// unanswered) gets no new streams after STALLED_AFTER: the next request
    /// opens another connection and succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_http2_connection_gets_no_new_streams() {
        let (port, _) = server().await;
        let stall = Arc::new(AtomicUsize::new(0));
        let (relay, accepted) = stalling_relay(port, stall.clone()).await;
        let options = ClientOptions {
            http_versions: HttpVersions::Http2PriorKnowledge,
            ..ClientOptions::default()
        };
        let client = build_client(4, &options, &ClientStats::default());
        let url = move |i: u32| format!("http://127.0.0.1:{relay}/{i}");
        get_all(&client, vec![url(1)]).await;
        stall.store(1, Ordering::SeqCst);
        let c = client.clone();
        let hung = tokio::spawn(async move {
            let req = http::Request::get(url(2))
                .body(RequestBody::default())
                .unwrap();
            c.request(req, false).await.map(|_| ())
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        tokio::time::timeout(Duration::from_secs(5), get_all(&client, vec![url(3)]))
            .await
            .expect("the next request went to a new connection");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        hung.abort();
    }

    /// A lookup that answers 127.0.0.1 for every name and counts its calls.
    fn counting_lookup() -> (dns::LookupFn, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let lookup: dns::LookupFn = Arc::new(move |_host: &str| {
            c.fetch_add(1, Ordering::SeqCst);
            // Slow enough that every request below asks while it runs.
            std::thread::sleep(Duration::from_millis(50));
            Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
        });
        (lookup, calls)
    }

    /// Waits until the pool holds `n` idle connections: an HTTP/1.1
    /// connection goes back once hyper has seen the end of its response,
    /// which may be just after the body's last byte reached the caller.
    async fn idle(client: &HttpClient, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while client.pool.idle_connections() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} idle connections, expected {n}",
                client.pool.idle_connections()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn get_all(client: &HttpClient, urls: Vec<String>) {
        let tasks: Vec<_> = urls
            .into_iter()
            .map(|url| {
                let client = client.clone();
                tokio::spawn(async move {
                    let req = http::Request::get(url)
                        .body(RequestBody::default())
                        .unwrap();
                    let resp = client.request(req, false).await.expect("response");
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&body[..], b"ok");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// 100 concurrent requests to one new name: one lookup, and over HTTP/2
    /// one connection (every request waits for the first one's set-up).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_to_a_new_name_share_one_lookup_and_one_http2_connection() {
        let (port, accepted) = server().await;
        let (lookup, calls) = counting_lookup();
        let options = ClientOptions {
            http_versions: HttpVersions::Http2PriorKnowledge,
            ..ClientOptions::default()
        };
        let stats = ClientStats::default();
        let client = build_client_with(100, &options, lookup, &stats);
        let urls = (0..100)
            .map(|i| format!("http://origin.test:{port}/{i}"))
            .collect();
        get_all(&client, urls).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(client.dns_stats().queries, 1);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(client.stats().connections_opened.load(Ordering::SeqCst), 1);
        // The caller's counters saw the same.
        assert_eq!((stats.dns_lookups(), stats.connections_opened()), (1, 1));
    }

    /// Sends one GET and returns what its response says of its connection.
    async fn conn_of(client: &HttpClient, url: String) -> ConnInfo {
        let req = http::Request::get(url)
            .body(RequestBody::default())
            .unwrap();
        let resp = client.request(req, false).await.expect("response");
        let info = resp.body().conn_info();
        resp.into_body().collect().await.unwrap();
        info
    }

    /// A name the resolver looks up gives `dns`, an IP address none; a
    /// request on an idle connection is `reused` with no phases.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_connections_report_their_phases_reused_ones_none() {
        let (port, _) = server().await;
        let (lookup, calls) = counting_lookup();
        let client = build_client_with(
            1,
            &ClientOptions::default(),
            lookup,
            &ClientStats::default(),
        );
        let named = conn_of(&client, format!("http://origin.test:{port}/")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let phases = named.phases.expect("a new connection");
        // The resolver above sleeps 50 ms.
        assert!(
            phases.dns.unwrap() >= Duration::from_millis(50),
            "{phases:?}"
        );
        assert_eq!(phases.tls, None);
        assert!(!named.reused);
        assert_eq!(named.remote_addr, Some(([127, 0, 0, 1], port).into()));
        idle(&client, 1).await;
        let again = conn_of(&client, format!("http://origin.test:{port}/")).await;
        assert!(again.reused && again.phases.is_none(), "{again:?}");
        assert_eq!(again.remote_addr, named.remote_addr);
        let literal = conn_of(&client, format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(literal.phases.unwrap().dns, None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Over HTTP/1.1 each request in flight needs a connection of its own,
    /// but the name is still looked up once; the connections are then reused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http1_requests_share_the_lookup_and_reuse_connections() {
        let (port, accepted) = server().await;
        let (lookup, calls) = counting_lookup();
        let client = build_client_with(
            10,
            &ClientOptions::default(),
            lookup,
            &ClientStats::default(),
        );
        let urls: Vec<String> = (0..10)
            .map(|i| format!("http://origin.test:{port}/{i}"))
            .collect();
        get_all(&client, urls.clone()).await;
        let first = accepted.load(Ordering::SeqCst);
        assert!((1..=10).contains(&first), "{first}");
        // One at a time now: each takes an idle connection.
        for url in urls {
            idle(&client, first).await;
            get_all(&client, vec![url]).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), first);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Past the idle cap, the least recently used idle connection is closed:
    /// with a cap of 2 and 5 origins used one after another, going back to
    /// the first origin needs a new connection, the last one does not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_past_the_cap_are_closed_least_recently_used_first() {
        let mut servers = Vec::new();
        for _ in 0..5 {
            servers.push(server().await);
        }
        let options = ClientOptions {
            idle_socket_budget: Some(2),
            ..ClientOptions::default()
        };
        let client = build_client(1, &options, &ClientStats::default());
        let url = |i: usize| format!("http://127.0.0.1:{}/", servers[i].0);
        for i in 0..5 {
            get_all(&client, vec![url(i)]).await;
            idle(&client, (i + 1).min(2)).await;
        }
        let accepted = |i: usize| servers[i].1.load(Ordering::SeqCst);
        get_all(&client, vec![url(4)]).await;
        assert_eq!(accepted(4), 1, "the most recent idle connection is kept");
        idle(&client, 2).await;
        get_all(&client, vec![url(0)]).await;
        assert_eq!(accepted(0), 2, "the oldest idle connection was closed");
        assert_eq!(client.stats().connections_opened.load(Ordering::SeqCst), 6);
    }
}
