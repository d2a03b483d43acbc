//! The HTTP test server: HTTP/1.1 and HTTP/2 (h2c) on hyper-util's `auto`
//! builder, with a few routes that answer as their path says, and fixed
//! routes a test can add. It records every request, and, as xh's test server
//! does, fails the test on drop if a handler panicked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use super::background::{Background, ConnFn};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Path and query, as sent.
    pub target: String,
    pub headers: HeaderMap,
    /// The request body, read whole (empty when there was none).
    pub body: Bytes,
    /// The HTTP version the request came in.
    pub version: http::Version,
}

/// A route whose answer the test fixes: 200 with `body`, `Content-Encoding:
/// coding` if given, and `Content-Length`, or (`chunked`) the body in 3
/// frames without a length.
#[derive(Debug, Clone)]
pub struct Fixed {
    pub path: &'static str,
    pub coding: Option<&'static str>,
    pub body: Bytes,
    pub chunked: bool,
}

#[derive(Default)]
struct State {
    /// The test's fixed routes, looked up by path before the built-in ones.
    fixed: Vec<Fixed>,
    seen: Mutex<Vec<Seen>>,
    /// TLS handshakes completed (HTTPS only).
    handshakes: AtomicUsize,
    /// Requests that reached the service on each connection, in the order the
    /// connections were set up (after the handshake, for HTTPS).
    per_conn: Mutex<Vec<Arc<AtomicUsize>>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// Handlers that panicked (a bad route argument); checked on drop.
    panics: AtomicUsize,
    /// Requests that have reached a `/gate` route so far.
    gate: tokio::sync::watch::Sender<usize>,
    /// What the `/limit` routes saw.
    limit: Mutex<LimitLog>,
}

/// The `/limit` routes' own count of requests in flight, and what it was
/// over time.
#[derive(Default)]
struct LimitLog {
    in_flight: usize,
    /// When `in_flight` last changed, and when the first request came.
    changed: Option<std::time::Instant>,
    first: Option<std::time::Instant>,
    /// The integral of `in_flight` over time, in seconds.
    area: f64,
    served: usize,
    refused: usize,
    /// The sum, over served requests, of `in_flight` as each arrived
    /// (itself included).
    at_arrival: usize,
}

impl LimitLog {
    /// Adds `in_flight`'s time since its last change to the integral and
    /// moves it by `delta`.
    fn step(&mut self, delta: isize) {
        let now = std::time::Instant::now();
        if let Some(changed) = self.changed {
            self.area += self.in_flight as f64 * (now - changed).as_secs_f64();
        }
        self.first.get_or_insert(now);
        self.changed = Some(now);
        self.in_flight = self.in_flight.checked_add_signed(delta).unwrap();
    }
}

/// What the `/limit` routes saw over a run (see [`Server::limit_stats`]).
#[derive(Debug, Clone, Copy)]
pub struct LimitStats {
    /// Requests answered 200 after their delay.
    pub served: usize,
    /// Requests answered 429 at once, for coming while `N` others were in
    /// flight.
    pub refused: usize,
    /// Requests in flight on average over time, from the first arrival to
    /// the last departure.
    pub mean_in_flight: f64,
    /// Requests in flight on average as each served request arrived
    /// (itself included).
    pub mean_at_arrival: f64,
}

/// A `/limit` request in flight: counted out when dropped, so a request
/// cut off by its client is counted out too.
struct LimitGuard(Arc<State>);

impl Drop for LimitGuard {
    fn drop(&mut self) {
        self.0.limit.lock().unwrap().step(-1);
    }
}

/// How long a `/gate` request waits for the rest of its group before it
/// goes on alone (and the test's peak check fails instead of hanging).
const GATE_LIMIT: Duration = Duration::from_secs(10);

impl State {
    /// Holds a `/gate/N` request until its group of `n` is complete: the
    /// first `n` requests to reach a gate form the first group, the next `n`
    /// the second, and so on. The whole group is then in flight at once, so
    /// a client that keeps `n` requests going sets the peak to exactly `n`,
    /// however slow the machine.
    async fn gate(&self, n: usize) {
        let mut arrived = 0;
        self.gate.send_modify(|count| {
            *count += 1;
            arrived = *count;
        });
        let complete = arrived.div_ceil(n) * n;
        let mut count = self.gate.subscribe();
        let _ = tokio::time::timeout(GATE_LIMIT, count.wait_for(|c| *c >= complete)).await;
    }
}

/// Decrements the in-flight count when a handler ends (or is dropped).
struct InFlight(Arc<State>);

impl InFlight {
    fn enter(state: &Arc<State>) -> InFlight {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An HTTP/1.1 + HTTP/2 (hyper-util `auto`) server, plain or (see
/// [`Server::https`]) behind TLS, with these routes:
///
/// - a [`Fixed`] route of the test's, matched by path;
/// - `/bytes/N`: 200 with an N-byte body (`Content-Length` set).
/// - `/chunked/N`: 200 with an N-byte body sent in 3 chunks, no length
///   (HTTP/1.1 chunked transfer coding).
/// - `/status/N`: status N with the body `status N`.
/// - `/delay/MS`: waits MS milliseconds, then 200 with the body `ok`.
/// - `/gate/N` (or `/gate/N/MS`): waits until its group of N requests to
///   `/gate` routes has arrived (see `State::gate`; at most 10 s), then MS
///   milliseconds (default 0), then 200 with the body `ok`.
/// - `/limit/N/MS`: a server that can take N requests at once: when N
///   other `/limit` requests are in flight, 429 at once (no `Retry-After`),
///   else MS milliseconds, then 200 `ok`. The count drops before the
///   response is written, so a client that keeps N in flight is never
///   refused (see [`Server::limit_stats`]).
/// - `/redirect/N`: 302 to the relative `N-1`; `/redirect/0` is 200 `done`.
/// - `/loop`: 302 to itself.
/// - `/to?URL`: 302 to URL (everything after `?`, used as is); `/to/CODE?URL`
///   answers with status CODE instead (301, 303, 307, 308, …).
/// - anything else: 200 with the body `ok`.
///
/// It records every request (method, target, headers, body, version) and the
/// peak number of requests being handled at once.
pub struct Server {
    state: Arc<State>,
    bg: Background,
}

impl Drop for Server {
    fn drop(&mut self) {
        let panics = self.state.panics.load(Ordering::SeqCst);
        if panics > 0 && !std::thread::panicking() {
            panic!("{panics} request handler(s) panicked");
        }
    }
}

/// TLS for [`Server::launch`]: the acceptor, and after how many requests a
/// connection is shut down gracefully (HTTP/2 GOAWAY), if ever.
pub(super) struct Tls {
    pub acceptor: TlsAcceptor,
    pub goaway_after: Option<usize>,
}

impl Server {
    /// A plain-HTTP server with the built-in routes.
    pub fn start() -> Server {
        Server::with(Vec::new())
    }

    /// A plain-HTTP server with the test's `fixed` routes too.
    pub fn with(fixed: Vec<Fixed>) -> Server {
        Server::launch(fixed, None)
    }

    pub(super) fn launch(fixed: Vec<Fixed>, tls: Option<Tls>) -> Server {
        let state = Arc::new(State {
            fixed,
            ..State::default()
        });
        let st = state.clone();
        let tls = tls.map(Arc::new);
        let on_conn: ConnFn = Arc::new(move |stream| {
            let (st, tls) = (st.clone(), tls.clone());
            Box::pin(async move {
                let Some(tls) = tls else {
                    return serve(stream, st, None).await;
                };
                // A client that rejects the certificate ends the handshake here.
                let Ok(stream) = tls.acceptor.accept(stream).await else {
                    return;
                };
                st.handshakes.fetch_add(1, Ordering::SeqCst);
                serve(stream, st, tls.goaway_after).await;
            })
        });
        Server {
            state,
            bg: Background::start(on_conn),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        self.bg.url("http", path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.bg.addr
    }

    pub fn port(&self) -> u16 {
        self.bg.addr.port()
    }

    /// Every request seen so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests were seen.
    pub fn hits(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// The most requests that were being handled at the same moment.
    pub fn peak(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }

    /// What the `/limit` routes saw so far.
    pub fn limit_stats(&self) -> LimitStats {
        let log = self.state.limit.lock().unwrap();
        let span = match (log.first, log.changed) {
            (Some(first), Some(last)) => (last - first).as_secs_f64(),
            _ => 0.0,
        };
        LimitStats {
            served: log.served,
            refused: log.refused,
            mean_in_flight: if span > 0.0 { log.area / span } else { 0.0 },
            mean_at_arrival: log.at_arrival as f64 / log.served.max(1) as f64,
        }
    }

    /// TCP connections accepted so far (including ones that never sent a
    /// parsable request, such as a failed TLS handshake).
    pub fn accepted(&self) -> usize {
        self.bg.accepted()
    }

    /// TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.state.handshakes.load(Ordering::SeqCst)
    }

    /// Requests that reached each connection, in the order the connections
    /// were set up.
    pub fn requests_per_connection(&self) -> Vec<usize> {
        self.state
            .per_conn
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }
}

/// Serves one connection with hyper-util's `auto` builder (HTTP/1.1 or
/// HTTP/2 by the client's preface), calling `graceful_shutdown` once
/// `goaway_after` requests have arrived on it.
async fn serve<I>(io: I, state: Arc<State>, goaway_after: Option<usize>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let on_this = Arc::new(AtomicUsize::new(0));
    state.per_conn.lock().unwrap().push(on_this.clone());
    let limit_reached = Arc::new(Notify::new());
    let notify = limit_reached.clone();
    let svc = hyper::service::service_fn(move |req| {
        let n = on_this.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(n) == goaway_after {
            notify.notify_one();
        }
        guarded(state.clone(), req)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = limit_reached.notified() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

type Body = BoxBody<Bytes, Infallible>;

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn respond(status: u16, body: Body) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(body)
        .unwrap()
}

fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .body(full("moved"))
        .unwrap()
}

/// [`handle`], with a panic turned into a 500 and counted.
async fn guarded(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    match AssertUnwindSafe(handle(state.clone(), req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(_) => {
            state.panics.fetch_add(1, Ordering::SeqCst);
            Ok(respond(500, full("handler panicked")))
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let _guard = InFlight::enter(&state);
    let target = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let req = Request::from_parts(parts, ());
    state.seen.lock().unwrap().push(Seen {
        method: req.method().clone(),
        target: target.clone(),
        headers: req.headers().clone(),
        body,
        version: req.version(),
    });
    let path = req.uri().path();
    if let Some(f) = state.fixed.iter().find(|f| f.path == path) {
        return Ok(fixed(f));
    }
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("");
    let arg = parts.next().unwrap_or("");
    let n = || arg.parse::<u64>().expect("numeric route argument");
    let resp = match route {
        "bytes" => respond(200, full(vec![b'x'; n() as usize])),
        "chunked" => {
            let n = n() as usize;
            let sizes = [n / 3, n / 3, n - 2 * (n / 3)];
            let frames =
                sizes.map(|k| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'c'; k]))));
            respond(200, StreamBody::new(futures::stream::iter(frames)).boxed())
        }
        "status" => respond(n() as u16, full(format!("status {}", n()))),
        "delay" => {
            tokio::time::sleep(Duration::from_millis(n())).await;
            respond(200, full("ok"))
        }
        "gate" => {
            let (group, ms) = arg.split_once('/').unwrap_or((arg, "0"));
            let number = |s: &str| s.parse::<u64>().expect("numeric /gate argument");
            state.gate(number(group) as usize).await;
            tokio::time::sleep(Duration::from_millis(number(ms))).await;
            respond(200, full("ok"))
        }
        "limit" => {
            let (most, ms) = arg.split_once('/').expect("/limit/N/MS");
            let number = |s: &str| s.parse::<usize>().expect("numeric /limit argument");
            let guard = {
                let mut log = state.limit.lock().unwrap();
                log.step(1);
                if log.in_flight > number(most) {
                    log.refused += 1;
                    None
                } else {
                    log.served += 1;
                    log.at_arrival += log.in_flight;
                    Some(LimitGuard(state.clone()))
                }
            };
            match guard {
                None => {
                    state.limit.lock().unwrap().step(-1);
                    respond(429, full("too many"))
                }
                Some(guard) => {
                    tokio::time::sleep(Duration::from_millis(number(ms) as u64)).await;
                    drop(guard);
                    respond(200, full("ok"))
                }
            }
        }
        "redirect" => match n() {
            0 => respond(200, full("done")),
            k => redirect(&(k - 1).to_string()),
        },
        // A resource whose ETag is `"ARG"`, last modified at COND_DATE; a
        // matching If-None-Match (or, without one, If-Modified-Since of
        // exactly that date) gets 304 (RFC 9110 sec. 13.2.2). `cond-bare`
        // is the same resource whose 304 repeats neither field.
        route @ ("cond" | "cond-bare") => {
            let etag = format!("\"{arg}\"");
            let field = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
            let fresh = match field("if-none-match") {
                Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
                None => field("if-modified-since") == Some(COND_DATE),
            };
            let mut resp = if fresh {
                respond(304, full(""))
            } else {
                respond(200, full(format!("version {arg}")))
            };
            if !(fresh && route == "cond-bare") {
                let headers = resp.headers_mut();
                headers.insert("etag", etag.parse().unwrap());
                headers.insert("last-modified", COND_DATE.parse().unwrap());
            }
            resp
        }
        "loop" => redirect("/loop"),
        "to" => {
            let mut resp = redirect(req.uri().query().expect("/to?URL"));
            if !arg.is_empty() {
                *resp.status_mut() = StatusCode::from_u16(n() as u16).unwrap();
            }
            resp
        }
        _ => respond(200, full("ok")),
    };
    Ok(resp)
}

/// The `Last-Modified` of every `/cond/` resource.
pub const COND_DATE: &str = "Tue, 15 Nov 1994 08:12:31 GMT";

fn fixed(route: &Fixed) -> Response<Body> {
    let mut b = Response::builder();
    if let Some(c) = route.coding {
        b = b.header("content-encoding", c);
    }
    if !route.chunked {
        return b.body(full(route.body.clone())).unwrap();
    }
    let n = route.body.len();
    let cuts = [0, n / 3, 2 * n / 3, n];
    let frames: Vec<Result<_, Infallible>> = cuts
        .windows(2)
        .map(|w| Ok(Frame::data(route.body.slice(w[0]..w[1]))))
        .collect();
    b.body(StreamBody::new(futures::stream::iter(frames)).boxed())
        .unwrap()
}
