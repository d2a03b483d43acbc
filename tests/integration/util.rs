//! Shared test helpers: in-process loopback servers (a well-behaved hyper
//! server and raw-TCP misbehaving ones) and a runner for the built binary.
//!
//! Every server binds `127.0.0.1:0`, runs on its own thread with its own tokio
//! runtime (so it serves a subprocess and a `#[tokio::test]` alike), and stops
//! when dropped: the runtime is shut down, which drops every connection.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// How long any run of the binary may take before the test kills it and fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Server plumbing shared by the hyper and raw servers.

/// What a [`Background`] listener does with each accepted connection.
pub type ConnFn = Arc<dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A listener on `127.0.0.1:0` served on its own thread and runtime; every
/// accepted connection is counted, then handed to `on_conn` in a task. Used
/// by this module's servers and by the TLS and hostile-peer targets.
pub struct Background {
    pub addr: SocketAddr,
    // Read only by the tls and hostile targets, which include this file too.
    #[allow(dead_code)]
    accepted: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    pub fn start(on_conn: ConnFn) -> Background {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            count.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(on_conn(stream));
                        }
                    }
                }
            });
            // Dropping the runtime drops every connection task and socket.
            rt.shutdown_background();
        });
        Background {
            addr,
            accepted,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// TCP connections accepted so far (used by the tls and hostile targets).
    #[allow(dead_code)]
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// The well-behaved hyper server.

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

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// Handlers that panicked (a bad route argument); checked on drop.
    panics: AtomicUsize,
    /// Requests that have reached a `/gate` route so far.
    gate: tokio::sync::watch::Sender<usize>,
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

/// An HTTP/1.1 + HTTP/2 (hyper-util `auto`) server with these routes:
///
/// - `/bytes/N`: 200 with an N-byte body (`Content-Length` set).
/// - `/chunked/N`: 200 with an N-byte body sent in 3 chunks, no length
///   (HTTP/1.1 chunked transfer coding).
/// - `/status/N`: status N with the body `status N`.
/// - `/delay/MS`: waits MS milliseconds, then 200 with the body `ok`.
/// - `/gate/N` (or `/gate/N/MS`): waits until its group of N requests to
///   `/gate` routes has arrived (see `State::gate`; at most 10 s), then MS
///   milliseconds (default 0), then 200 with the body `ok`.
/// - `/redirect/N`: 302 to the relative `N-1`; `/redirect/0` is 200 `done`.
/// - `/loop`: 302 to itself.
/// - `/to?URL`: 302 to URL (everything after `?`, used as is); `/to/CODE?URL`
///   answers with status CODE instead (301, 303, 307, 308, …).
/// - anything else: 200 with the body `ok`.
///
/// It records every request (method, target, headers, body, version) and the peak number of
/// requests being handled at once. As xh's test server does, it fails the test
/// on drop if a handler panicked.
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

impl Server {
    pub fn start() -> Server {
        let state = Arc::new(State::default());
        let st = state.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let st = st.clone();
            Box::pin(async move {
                let svc = hyper::service::service_fn(move |req| guarded(st.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            })
        });
        Server {
            state,
            bg: Background::start(on_conn),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bg.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.bg.addr
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

    /// TCP connections accepted so far (including ones that never sent a
    /// parsable request, such as a TLS handshake).
    pub fn accepted(&self) -> usize {
        self.bg.accepted()
    }
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
        "redirect" => match n() {
            0 => respond(200, full("done")),
            k => redirect(&(k - 1).to_string()),
        },
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

// ---------------------------------------------------------------------------
// Raw-TCP misbehaving servers.

/// What a [`RawServer`] does after reading a request head.
#[derive(Debug, Clone, Copy)]
pub enum Misbehave {
    /// Read the request, then never answer (the connection stays open).
    Hang,
    /// Send a head with `Content-Length: 100`, then one body byte every 200 ms.
    Drip,
    /// Send a head with `Content-Length: 100`, 10 body bytes, then close.
    Truncate,
    /// Send a chunked head and a chunk-size line that is not hexadecimal.
    BadChunk,
    /// Send a head with `Content-Length: 100` and 10 bytes, wait 300 ms, then
    /// reset the connection (RST, via `SO_LINGER` 0).
    Reset,
    /// Read the request, then close the connection without a response.
    Close,
    /// Read the request, then reset the connection without a response.
    ResetAtOnce,
}

/// A raw-TCP server that answers every request with a [`Misbehave`]iour and
/// counts the request heads it has read.
pub struct RawServer {
    requests: Arc<AtomicUsize>,
    bg: Background,
}

impl RawServer {
    pub fn start(how: Misbehave) -> RawServer {
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let count = count.clone();
            Box::pin(async move {
                let _ = misbehave(stream, how, count).await;
            })
        });
        RawServer {
            requests,
            bg: Background::start(on_conn),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bg.addr)
    }

    /// Request heads read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s, without blocking a runtime thread) until at least
    /// `n` request heads were read.
    pub async fn reached(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests() < n {
            assert!(
                Instant::now() < deadline,
                "server saw {} requests, expected {n}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (up to 10 s) until at least `n` request heads were read.
    pub fn wait_for_requests(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests() < n {
            assert!(
                Instant::now() < deadline,
                "server saw {} requests, expected {n}",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads until the end of a request head (`\r\n\r\n`) and returns it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn misbehave(
    mut stream: TcpStream,
    how: Misbehave,
    count: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    read_head(&mut stream).await?;
    count.fetch_add(1, Ordering::SeqCst);
    let head_100 = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    match how {
        Misbehave::Hang => std::future::pending::<()>().await,
        Misbehave::Drip => {
            stream.write_all(head_100).await?;
            for _ in 0..100 {
                stream.write_all(b"d").await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Misbehave::Truncate => {
            stream.write_all(head_100).await?;
            stream.write_all(&[b't'; 10]).await?;
            stream.shutdown().await?;
        }
        Misbehave::BadChunk => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n")
                .await?;
            stream.shutdown().await?;
        }
        Misbehave::Reset => {
            stream.write_all(head_100).await?;
            stream.write_all(&[b'r'; 10]).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stream.set_zero_linger()?;
            drop(stream);
        }
        Misbehave::Close => stream.shutdown().await?,
        Misbehave::ResetAtOnce => {
            stream.set_zero_linger()?;
            drop(stream);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// A scripted raw-TCP server, for retries.

/// How a [`Scripted`] server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, with these extra header fields, and the body `status N`.
    Status(u16, Vec<(&'static str, String)>),
    /// Reset the connection (RST) right after reading the request head.
    Reset,
    /// Never answer (the connection stays open).
    Hang,
}

/// A raw-TCP server that answers its n-th request (counted over all
/// connections) with `script[n]`, and every request past the script with
/// `200 ok`. One request per connection (`Connection: close`). It logs each
/// request line with its arrival time.
pub struct Scripted {
    log: Arc<Mutex<Vec<(Instant, String)>>>,
    bg: Background,
}

impl Scripted {
    pub fn start(script: Vec<Reply>) -> Scripted {
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let l = log.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let (log, script) = (l.clone(), script.clone());
            Box::pin(async move {
                let _ = scripted(stream, log, script).await;
            })
        });
        Scripted {
            log,
            bg: Background::start(on_conn),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bg.addr)
    }

    /// Every request so far: arrival time and request line (`GET /a HTTP/1.1`).
    pub fn requests(&self) -> Vec<(Instant, String)> {
        self.log.lock().unwrap().clone()
    }

    /// Request lines so far, in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.requests().into_iter().map(|(_, l)| l).collect()
    }
}

async fn scripted(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
    script: Arc<Vec<Reply>>,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let line = head.lines().next().unwrap_or("").to_owned();
    let n = {
        let mut log = log.lock().unwrap();
        log.push((Instant::now(), line));
        log.len() - 1
    };
    match script.get(n) {
        Some(Reply::Reset) => {
            stream.set_zero_linger()?;
            drop(stream);
        }
        Some(Reply::Hang) => std::future::pending::<()>().await,
        reply => {
            let (status, fields) = match reply {
                Some(Reply::Status(s, f)) => (*s, f.clone()),
                _ => (200, Vec::new()),
            };
            let body = format!("status {status}");
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in fields {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            stream.write_all(out.as_bytes()).await?;
            stream.shutdown().await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Running the binary.

/// The built binary in a cleaned environment (only `PATH` kept), as xh does.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fetcher-stream"));
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.args(args);
    cmd
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    /// stdout, one parsed JSON value per line, in output order.
    pub records: Vec<Value>,
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Run {
    /// The exit code (panics if the process was killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {:?}", self.status))
    }

    /// The records sorted by `url` (completion order is not input order).
    pub fn sorted(&self) -> Vec<Value> {
        let mut r = self.records.clone();
        r.sort_by(|a, b| a["url"].as_str().cmp(&b["url"].as_str()));
        r
    }

    /// The last stderr line, parsed; asserts it is a summary record.
    pub fn summary(&self) -> Value {
        let last = self
            .stderr
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no summary on stderr"));
        let v: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("summary is not JSON ({e}): {last:?}"));
        assert_eq!(v["type"], "summary", "{v}");
        v
    }

    /// Asserts that every record is a success, naming the first that is not
    /// (used by the hostile and TLS suites, which include this module).
    #[allow(dead_code)]
    pub fn assert_all_succeeded(&self) {
        let failures: Vec<&Value> = self
            .records
            .iter()
            .filter(|r| r["type"] != "success")
            .collect();
        assert!(
            failures.is_empty(),
            "{} failures, first {:?}",
            failures.len(),
            failures.first()
        );
    }

    /// Asserts the summary's counts equal the records' and returns it.
    pub fn checked_summary(&self) -> Value {
        let s = self.summary();
        let ok = self
            .records
            .iter()
            .filter(|r| r["type"] == "success")
            .count();
        assert_eq!(s["total"], self.records.len(), "{s}");
        assert_eq!(s["succeeded"], ok, "{s}");
        assert_eq!(s["failed"], self.records.len() - ok, "{s}");
        assert!(s["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{s}");
        s
    }
}

/// Runs the binary with `args`, writes `stdin` and closes it, and waits.
pub fn run(args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
    let child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fetcher-stream");
    finish(child, Some(stdin.into()))
}

/// Feeds `stdin` (if any; the pipe is then closed), collects the output and
/// waits for the exit, killing the process after [`RUN_LIMIT`].
pub fn finish(mut child: Child, stdin: Option<Vec<u8>>) -> Run {
    let started = Instant::now();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin piped");
        // A usage error exits without reading: ignore the broken pipe.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = wait_with_limit(&mut child, RUN_LIMIT);
    let elapsed = started.elapsed();
    let stdout = String::from_utf8(out.join().unwrap()).expect("stdout is UTF-8");
    let stderr = String::from_utf8(err.join().unwrap()).expect("stderr is UTF-8");
    Run {
        status,
        records: parse_lines(&stdout),
        stderr,
        elapsed,
    }
}

/// Waits for `child` to exit; kills it and panics after `limit`.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fetcher-stream did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Parses JSON Lines; panics on a line that is not a JSON object.
pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Comparing records.

/// The record without `elapsed_ms` and the fields in `drop`, after checking
/// that `elapsed_ms` is a non-negative number and, for a failure, that a
/// dropped `error` is a non-empty string.
pub fn without(record: &Value, drop: &[&str]) -> Value {
    let mut r = record.clone();
    let obj = r.as_object_mut().expect("record is an object");
    let ms = obj.remove("elapsed_ms");
    assert!(
        ms.as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|ms| ms >= 0.0),
        "elapsed_ms missing or negative in {record}"
    );
    if record["type"] == "success" {
        // Every in-process server speaks plain-text HTTP/1.1.
        let v = obj.remove("http_version");
        assert_eq!(v, Some(Value::from("HTTP/1.1")), "http_version in {record}");
    }
    for key in drop {
        let v = obj.remove(*key);
        if *key == "error" && record["type"] == "failure" {
            assert!(
                v.as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "error missing or empty in {record}"
            );
        }
    }
    r
}

/// `records` (already in the wanted order) with `elapsed_ms` (and, after
/// checking it is `HTTP/1.1`, `http_version`) removed.
pub fn exact(records: &[Value]) -> Vec<Value> {
    records.iter().map(|r| without(r, &[])).collect()
}

/// The set of keys a record has.
pub fn keys(record: &Value) -> BTreeSet<String> {
    record.as_object().unwrap().keys().cloned().collect()
}
