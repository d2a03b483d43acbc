//! Hostile and broken peers (issue 3, items 5 and 6): raw-TCP servers on
//! `127.0.0.1:0` that close kept-alive connections, reset or cut bodies, send
//! bad chunks, huge or many header fields, obs-folded fields, untrusted
//! `Transfer-Encoding` framing, odd or conflicting `Location` values, `100
//! Continue`, or never read; and a run under an open-file limit of 64.
//!
//! Each case gives exactly one record of the stated kind within the deadline;
//! the records are compared whole (minus `elapsed_ms`), and what the server saw
//! on the wire is checked where it matters (request target, `Host`,
//! `Authorization`).
//!
//! A separate test target (`cargo test --test hostile`) that borrows the
//! integration suite's helpers (the binary runner and the hyper server).

#[allow(dead_code)]
#[path = "integration/util.rs"]
mod util;

use std::future::Future;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use util::{command, exact, finish, run, without, Background, Server};

// ---------------------------------------------------------------------------
// A raw-TCP server with scripted routes.

/// One request head as it arrived on the wire.
#[derive(Debug, Clone)]
struct Head {
    /// The request target from the request line, byte for byte.
    target: String,
    /// Every byte of the head, request line to the blank line.
    raw: Vec<u8>,
}

impl Head {
    /// The request line (`GET /x HTTP/1.1`).
    fn request_line(&self) -> String {
        let end = self.raw.windows(2).position(|w| w == b"\r\n").unwrap();
        String::from_utf8_lossy(&self.raw[..end]).into_owned()
    }

    /// Every value of header field `name` (case-insensitive), in order.
    fn header(&self, name: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.raw)
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

#[derive(Default)]
struct Log {
    heads: Mutex<Vec<Head>>,
    /// Requests that arrived on a connection the server was about to close,
    /// and were dropped unanswered (and unread).
    dropped: AtomicUsize,
}

impl Log {
    /// Records `head` and returns how many times its target has now been seen.
    fn record(&self, head: Head) -> usize {
        let mut heads = self.heads.lock().unwrap();
        let n = heads.iter().filter(|h| h.target == head.target).count() + 1;
        heads.push(head);
        n
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type LoggedConnFn = Arc<dyn Fn(TcpStream, Arc<Log>) -> BoxFuture + Send + Sync>;

/// A [`util::Background`] listener whose connections share one [`Log`];
/// dropping it shuts the runtime down, which closes every connection.
struct Raw {
    bg: Background,
    log: Arc<Log>,
}

impl Raw {
    fn start(on_conn: LoggedConnFn) -> Raw {
        let log = Arc::new(Log::default());
        let conn_log = log.clone();
        let bg = Background::start(Arc::new(move |stream| on_conn(stream, conn_log.clone())));
        Raw { bg, log }
    }

    /// The routed server of [`route`]; an idle kept-alive connection is closed
    /// after `idle` without a new request.
    fn routes(idle: Duration) -> Raw {
        Raw::start(Arc::new(move |stream, log| {
            Box::pin(serve(stream, log, idle))
        }))
    }

    /// Accepts connections and never reads from them (nor writes).
    fn never_reads() -> Raw {
        Raw::start(Arc::new(|stream, _log| {
            Box::pin(async move {
                let _held = stream;
                std::future::pending::<()>().await;
            })
        }))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bg.addr)
    }

    fn heads(&self) -> Vec<Head> {
        self.log.heads.lock().unwrap().clone()
    }

    fn targets(&self) -> Vec<String> {
        self.heads().into_iter().map(|h| h.target).collect()
    }

    fn connections(&self) -> usize {
        self.bg.accepted()
    }

    fn dropped(&self) -> usize {
        self.log.dropped.load(Ordering::SeqCst)
    }
}

/// Reads one request head from `stream`, keeping bytes after it in `buf`.
/// `None` at end of stream or on an error.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Head> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let raw: Vec<u8> = buf.drain(..end + 4).collect();
            let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
            let line = String::from_utf8_lossy(&raw[..line_end]).into_owned();
            let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
            return Some(Head { target, raw });
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What the server does after reading a request.
enum Reply {
    /// Write the bytes and wait for the next request on the connection.
    Keep(Vec<u8>),
    /// Write the bytes and close the connection (FIN), with no
    /// `Connection: close` said beforehand.
    Close(Vec<u8>),
    /// Write the bytes, then close after the delay, or at once if more bytes
    /// arrive first (without reading them, so the peer sees a reset).
    CloseAfter(Vec<u8>, Duration),
    /// Write the bytes and then neither write nor close (until the test ends).
    Hold(Vec<u8>),
    /// Write the bytes, wait, then reset the connection (RST, via
    /// `SO_LINGER` 0).
    Reset(Vec<u8>, Duration),
}

/// `200 OK` with `Content-Length` and `body`, kept alive.
fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `302 Found` to the raw `location` bytes, with an empty body.
fn found(location: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
    r.extend_from_slice(location);
    r.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    r
}

/// Response framings that cannot be trusted: each name, the head's
/// status line and fields, and the values as the error names them.
const TE_CASES: &[(&str, &str, &str)] = &[
    (
        "identityx",
        "200 OK\r\nTransfer-Encoding: identityx",
        "identityx",
    ),
    (
        "chunked-another",
        "200 OK\r\nTransfer-Encoding: chunked, another",
        "chunked, another",
    ),
    ("gzip", "200 OK\r\nTransfer-Encoding: gzip", "gzip"),
    (
        "gzip-chunked",
        "200 OK\r\nTransfer-Encoding: gzip, chunked",
        "gzip, chunked",
    ),
    (
        "chunked-identity-length",
        "200 OK\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 5",
        "chunked, identity",
    ),
    (
        "two-fields",
        "200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
        "gzip, chunked",
    ),
    (
        "chunked-twice",
        "200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        "chunked, chunked",
    ),
    (
        "trailing-comma",
        "200 OK\r\nTransfer-Encoding: chunked,",
        "chunked,",
    ),
    (
        "redirect",
        "302 Found\r\nLocation: /te/fine/plain\r\nTransfer-Encoding: gzip",
        "gzip",
    ),
];

/// Framings that are fine: each name, the head's fields.
const TE_FINE: &[(&str, &str)] = &[
    ("plain", "Transfer-Encoding: chunked"),
    ("case-and-space", "Transfer-Encoding: \t CHUNKED \t"),
    // Transfer-Encoding overrides Content-Length (RFC 9112 sec. 6.3), as curl
    // does.
    (
        "with-length",
        "Transfer-Encoding: Chunked\r\nContent-Length: 100",
    ),
    ("folded", "Transfer-Encoding:\r\n chunked"),
];

/// The routes (`hits` counts requests for this exact target so far, this one
/// included; `port` is the server's own; `on_conn` counts the requests read on
/// this connection, this one included):
///
/// - `/ka/I`: 200 `ok` (`Content-Length`, keep-alive), then close after
///   `(I % 4) * 3` ms, or as soon as another request arrives on the
///   connection (left unread and unanswered: the peer sees a reset).
/// - `/stale/I`: as the first request on its connection, 200 `ok` kept alive;
///   on a reused connection, no response: the connection is closed, with a FIN
///   when `I / 2` is even and an RST when it is odd.
/// - `/rst`: `Content-Length: 100`, 10 bytes, then RST.
/// - `/short`: `Content-Length: 100`, 10 bytes, then close.
/// - `/badchunk/SIZE`: chunked, a chunk-size line `SIZE` (`%20` is a space),
///   then hold.
/// - `/unterminated`: chunked, one 5-byte chunk, then hold (no last chunk).
/// - `/headers/N`: 200 `ok` with N short header fields.
/// - `/bighead`: one header field with a 1 MiB value, then close.
/// - `/loc/rel`, `/loc/scheme`, `/loc/utf8`, `/loc/latin1`: 302 to a relative
///   reference, a scheme-relative one, `/caf\xc3\xa9` and `/caf\xe9` (raw bytes).
/// - `/self`: the first time, 302 to its own absolute URL; then 200 `settled`.
/// - `/continue`: `100 Continue`, then 200 `final`.
/// - `/fold/header`: 200 `folded` with two obs-folded fields (`X-Long`,
///   `Content-Type`).
/// - `/fold/loc`: 302 whose `Location` value is all on an obs-fold line, to
///   `/loc/dest?from=fold`.
/// - `/te/NAME`: a head with the `Transfer-Encoding` of [`TE_CASES`] entry
///   NAME, then the 5-byte chunk `hello` (no last chunk), then hold: only a
///   check of the head can end it before the deadline.
/// - `/te/fine/NAME`: a complete chunked `hello` framed by [`TE_FINE`] entry
///   NAME, kept alive.
/// - `/te/http10`: an HTTP/1.0 response without `Transfer-Encoding` or
///   `Content-Length`, body `hello world`, then close.
/// - `/loc/two`, `/loc/same`: 302 with two `Location` fields that differ
///   (`/loc/dest?from=a`, then `?from=b`) or that are the same
///   (`/loc/dest?from=same`).
/// - anything else: 200 `ok`.
fn route(target: &str, hits: usize, port: u16, on_conn: usize) -> Reply {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec();
    if let Some(i) = target.strip_prefix("/ka/") {
        // 0 to 9 ms: the close lands before, while or after the client sends
        // its next request on the connection.
        let delay = Duration::from_millis(i.parse::<u64>().unwrap() % 4 * 3);
        return Reply::CloseAfter(ok("ok"), delay);
    }
    if let Some(i) = target.strip_prefix("/stale/") {
        let reset = i.parse::<u64>().unwrap() / 2 % 2 == 1;
        return match (on_conn, reset) {
            (1, _) => Reply::Keep(ok("ok")),
            (_, false) => Reply::Close(Vec::new()),
            (_, true) => Reply::Reset(Vec::new(), Duration::ZERO),
        };
    }
    if let Some(size) = target.strip_prefix("/badchunk/") {
        let size = size.replace("%20", " ");
        return Reply::Hold(format!("{chunked}{size}\r\nxx\r\n").into_bytes());
    }
    if let Some(n) = target.strip_prefix("/headers/") {
        let mut r = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..n.parse::<usize>().unwrap() {
            r.push_str(&format!("X-H{i}: v{i}\r\n"));
        }
        r.push_str("Content-Length: 2\r\n\r\nok");
        return Reply::Keep(r.into_bytes());
    }
    if let Some(name) = target.strip_prefix("/te/fine/") {
        let (_, fields) = TE_FINE.iter().find(|c| c.0 == name).unwrap();
        let head = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
        return Reply::Keep(format!("{head}5\r\nhello\r\n0\r\n\r\n").into_bytes());
    }
    if let Some((_, head, _)) = target
        .strip_prefix("/te/")
        .and_then(|name| TE_CASES.iter().find(|c| c.0 == name))
    {
        return Reply::Hold(format!("HTTP/1.1 {head}\r\n\r\n5\r\nhello\r\n").into_bytes());
    }
    match target {
        "/fold/header" => Reply::Keep(
            b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n\
              Content-Length: 6\r\n\r\nfolded"
                .to_vec(),
        ),
        "/fold/loc" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation:\r\n  /loc/dest?from=fold\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/te/http10" => Reply::Close(b"HTTP/1.0 200 OK\r\n\r\nhello world".to_vec()),
        "/loc/two" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation: /loc/dest?from=a\r\n\
              Location: /loc/dest?from=b\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/loc/same" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation: /loc/dest?from=same\r\n\
              Location: /loc/dest?from=same\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/rst" => Reply::Reset(cut, Duration::from_millis(200)),
        "/short" => Reply::Close(cut),
        "/unterminated" => Reply::Hold(format!("{chunked}5\r\nhello\r\n").into_bytes()),
        "/bighead" => {
            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            r.resize(r.len() + (1 << 20), b'a');
            r.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
            Reply::Close(r)
        }
        "/loc/rel" => Reply::Keep(found(b"dest?from=rel")),
        "/loc/scheme" => Reply::Keep(found(
            format!("//127.0.0.1:{port}/loc/dest?from=scheme").as_bytes(),
        )),
        "/loc/utf8" => Reply::Keep(found(b"/caf\xc3\xa9")),
        "/loc/latin1" => Reply::Keep(found(b"/caf\xe9")),
        "/self" if hits == 1 => {
            Reply::Keep(found(format!("http://127.0.0.1:{port}/self").as_bytes()))
        }
        "/self" => Reply::Keep(ok("settled")),
        "/continue" => Reply::Keep(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
                .to_vec(),
        ),
        _ => Reply::Keep(ok("ok")),
    }
}

async fn serve(mut stream: TcpStream, log: Arc<Log>, idle: Duration) {
    let port = stream.local_addr().unwrap().port();
    let mut buf = Vec::new();
    let mut on_conn = 0;
    loop {
        let head = match tokio::time::timeout(idle, read_head(&mut stream, &mut buf)).await {
            Ok(Some(head)) => head,
            // End of stream, an error, or idle too long: close.
            _ => return,
        };
        on_conn += 1;
        let target = head.target.clone();
        let hits = log.record(head);
        match route(&target, hits, port, on_conn) {
            Reply::Keep(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Close(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Hold(bytes) => {
                let _ = stream.write_all(&bytes).await;
                std::future::pending::<()>().await;
            }
            Reply::CloseAfter(bytes, delay) => {
                let _ = stream.write_all(&bytes).await;
                let mut byte = [0u8; 1];
                match tokio::time::timeout(delay, stream.peek(&mut byte)).await {
                    // A request came in on the connection: close with it
                    // unread (the peer sees a reset).
                    Ok(Ok(n)) if n > 0 => {
                        log.dropped.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {
                        let _ = stream.shutdown().await;
                    }
                }
                return;
            }
            Reply::Reset(bytes, delay) => {
                let _ = stream.write_all(&bytes).await;
                tokio::time::sleep(delay).await;
                let _ = stream.set_zero_linger();
                return;
            }
        }
    }
}

/// Idle time after which the routed server closes a kept-alive connection,
/// for tests that do not test idle closing.
const LONG_IDLE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers for one-URL runs.

/// Runs the binary on `urls` (one a line) with `args`, and returns the records
/// in input order (`--keep-order`) after checking the summary.
fn records(args: &[&str], urls: &[String]) -> (util::Run, Vec<Value>) {
    let mut all = vec!["--keep-order"];
    all.extend_from_slice(args);
    let input: String = urls.iter().map(|u| format!("{u}\n")).collect();
    let run = run(&all, input);
    assert_eq!(
        run.records.len(),
        urls.len(),
        "{:?}\n{}",
        run.records,
        run.stderr
    );
    run.checked_summary();
    let exact = exact(&run.records);
    (run, exact)
}

/// The record of a failure whose `error` text is not compared.
fn failure_kind(record: &Value) -> Value {
    without(record, &["error"])
}

fn success(url: &str, status: u16, size: u64) -> Value {
    json!({"type": "success", "url": url, "status": status, "size": size})
}

fn redirected(url: &str, status: u16, size: u64, final_url: &str) -> Value {
    json!({
        "type": "success", "url": url, "status": status, "size": size, "final_url": final_url,
    })
}

fn failed(url: &str, kind: &str) -> Value {
    json!({"type": "failure", "url": url, "error_kind": kind})
}

// ---------------------------------------------------------------------------
// Kept-alive connections the server closes.

/// Every response is kept alive (HTTP/1.1, `Content-Length`, no `Connection:
/// close`) and the server closes the connection right after it: pooled
/// connections go stale all the time, and each such request is retried once.
#[test]
fn server_closing_each_kept_alive_connection_loses_nothing() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = (0..300).map(|i| server.url(&format!("/ka/{i}"))).collect();
    let (run, records) = records(&["-c", "4", "-t", "10"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Value> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    // Requests went out on connections the server was closing (about 130 of
    // 300 on a quiet machine); they were dropped unread, so each URL was read
    // once: on its first connection or on the retry's.
    assert!(server.dropped() >= 1, "no request hit a closing connection");
    assert_eq!(
        assert_at_most_twice_each(&server.targets(), &urls, &server),
        0
    );
}

/// Checks that the server saw each of `urls` once or twice, and nothing else;
/// returns how many were seen twice (retried).
fn assert_at_most_twice_each(targets: &[String], urls: &[String], server: &Raw) -> usize {
    let mut retried = 0;
    for url in urls {
        let path = url.strip_prefix(&server.url("")).unwrap();
        match targets.iter().filter(|t| *t == path).count() {
            1 => {}
            2 => retried += 1,
            n => panic!("{path} was requested {n} times"),
        }
    }
    assert_eq!(targets.len(), urls.len() + retried, "{targets:?}");
    retried
}

/// Deterministic stale connections: on a reused connection the server reads
/// the request and closes (FIN, or RST for every other such URL) without a
/// response byte. Each such request is sent once more on a new connection, and
/// only once. At `-c 1` each request after a first-on-its-connection success
/// reuses that connection, so about every other URL is retried.
#[test]
fn request_on_a_connection_closed_before_any_response_byte_is_retried_once() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = (0..40)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let (run, records) = records(&["-c", "1", "-t", "10"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Value> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    let targets = server.targets();
    let retried = assert_at_most_twice_each(&targets, &urls, &server);
    assert!(retried >= 10, "only {retried} retries");
    // Both kinds of close were met: FIN (`I / 2` even) and RST (odd).
    let twice = |i: &usize| {
        targets
            .iter()
            .filter(|t| **t == format!("/stale/{i}"))
            .count()
            == 2
    };
    let kinds: std::collections::BTreeSet<usize> =
        (0..40).filter(twice).map(|i| i / 2 % 2).collect();
    assert_eq!(kinds.len(), 2, "{targets:?}");
}

/// The stale-connection retry is for idempotent methods only (RFC 9110 sec.
/// 9.2.2): the same stale connections with POST give failures and no request
/// is sent twice; with PUT, every URL succeeds after its retry.
#[test]
fn stale_connections_are_retried_for_put_but_never_for_post() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let input: String = urls.iter().map(|u| format!("{u}\n")).collect();
    let run = run(&["-c", "1", "-t", "10", "-d", "x"], input.clone());
    assert_eq!(run.records.len(), urls.len(), "{}", run.stderr);
    run.checked_summary();
    let failed: Vec<&Value> = run
        .records
        .iter()
        .filter(|r| r["type"] == "failure")
        .collect();
    assert!(failed.len() >= 5, "{:?}", run.records);
    for f in &failed {
        assert!(
            matches!(f["error_kind"].as_str(), Some("protocol" | "io")),
            "{f}"
        );
    }
    assert_eq!(server.targets().len(), urls.len(), "a POST was sent twice");

    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let (_, records) = records(&["-c", "1", "-t", "10", "-X", "PUT", "-d", "x"], &urls);
    let want: Vec<Value> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    assert!(server.targets().len() >= urls.len() + 5);
}

/// The server closes a connection that stayed idle for 1 s after its last
/// response. URLs arrive on a slowly written stdin, in bursts with gaps a
/// little over and about equal to that 1 s, so pooled connections are closed
/// while idle and sometimes just as a request goes out.
#[test]
fn server_closing_idle_connections_after_one_second_loses_nothing() {
    let server = Raw::routes(Duration::from_secs(1));
    let bursts: Vec<Vec<String>> = (0..4)
        .map(|b| {
            (0..6)
                .map(|i| server.url(&format!("/idle/{b}/{i}")))
                .collect()
        })
        .collect();
    let gaps = [1_150, 1_000, 1_050];
    let mut child = command(&["--keep-order", "-c", "4", "-t", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = bursts.clone();
    let writer = std::thread::spawn(move || {
        for (i, burst) in feed.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(gaps[i - 1]));
            }
            let text: String = burst.iter().map(|u| format!("{u}\n")).collect();
            stdin.write_all(text.as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
    });
    let run = finish(child, None);
    writer.join().unwrap();
    assert_eq!(run.code(), 0, "{:?}\n{}", run.records, run.stderr);
    run.checked_summary();
    let want: Vec<Value> = bursts.concat().iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(exact(&run.records), want);
    // Connections were closed between bursts and new ones were made.
    assert!(server.connections() > 4, "{}", server.connections());
}

// ---------------------------------------------------------------------------
// Broken bodies.

#[test]
fn reset_in_the_middle_of_the_body_is_body_or_io() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/rst");
    let (run, _) = records(&["-t", "5"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    let kind = run.records[0]["error_kind"].clone();
    assert!(kind == "body" || kind == "io", "{}", run.records[0]);
    assert_eq!(
        failure_kind(&run.records[0]),
        failed(&url, kind.as_str().unwrap())
    );
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

#[test]
fn content_length_longer_than_the_body_then_close_is_protocol() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/short");
    let (run, _) = records(&["-t", "5"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    assert_eq!(failure_kind(&run.records[0]), failed(&url, "protocol"));
    // A body cut short is not a stale connection: no second request.
    assert_eq!(server.targets(), ["/short"]);
}

/// Chunk-size lines that are not hexadecimal, negative, or too big for 64
/// bits. The server then holds the connection, so only the parser can end it.
#[test]
fn malformed_chunk_sizes_are_protocol() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = ["zz", "-5", "1ffffffffffffffff", "5%20x"]
        .iter()
        .map(|s| server.url(&format!("/badchunk/{s}")))
        .collect();
    let (run, _) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 1);
    let got: Vec<Value> = run.records.iter().map(failure_kind).collect();
    let want: Vec<Value> = urls.iter().map(|u| failed(u, "protocol")).collect();
    assert_eq!(got, want);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

#[test]
fn unterminated_chunked_body_times_out() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/unterminated");
    let (run, records) = records(&["-t", "1"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    assert_eq!(
        records,
        [json!({
            "type": "failure", "url": url, "error": "timeout after 1s", "error_kind": "timeout",
        })]
    );
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
}

// ---------------------------------------------------------------------------
// Response heads.

#[test]
fn many_short_response_headers_succeed() {
    let server = Raw::routes(LONG_IDLE);
    let urls = [server.url("/headers/150"), server.url("/headers/1000")];
    let (run, records) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        records,
        [success(&urls[0], 200, 2), success(&urls[1], 200, 2)]
    );
}

#[test]
fn one_mebibyte_response_header_is_protocol_promptly() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/bighead");
    let (run, _) = records(&["-t", "10"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    assert_eq!(failure_kind(&run.records[0]), failed(&url, "protocol"));
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
    assert_eq!(server.targets(), ["/bighead"]);
}

#[test]
fn informational_100_continue_before_the_final_response_succeeds() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/continue");
    let (run, records) = records(&["-t", "5"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [success(&url, 200, 5)]);
}

#[test]
fn server_that_never_reads_times_out() {
    let server = Raw::never_reads();
    let url = server.url("/x");
    let (run, records) = records(&["-t", "1"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    assert_eq!(
        records,
        [json!({
            "type": "failure", "url": url, "error": "timeout after 1s", "error_kind": "timeout",
        })]
    );
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
    assert_eq!(server.connections(), 1);
}

/// Obs-folded fields (RFC 9112 sec. 5.2) are accepted, the fold replaced by
/// spaces, as curl does: on a 200, and as the whole value of a `Location`.
#[test]
fn obs_folded_header_fields_are_accepted() {
    let server = Raw::routes(LONG_IDLE);
    let urls = [server.url("/fold/header"), server.url("/fold/loc")];
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let dest = server.url("/loc/dest?from=fold");
    assert_eq!(
        got,
        [
            success(&urls[0], 200, 6),
            redirected(&urls[1], 200, 2, &dest)
        ]
    );
}

// ---------------------------------------------------------------------------
// Body framing.

/// Every `Transfer-Encoding` other than a single `chunked` fails at once as
/// `protocol`, naming the values, before a redirect is followed or a body
/// byte read. The server holds each connection open after the head and a
/// chunk, so reading until close would end in a timeout instead.
#[test]
fn untrusted_transfer_encodings_are_protocol_at_once() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = TE_CASES
        .iter()
        .map(|(name, _, _)| server.url(&format!("/te/{name}")))
        .collect();
    let (run, got) = records(&["-t", "10"], &urls);
    assert_eq!(run.code(), 1);
    let want: Vec<Value> = TE_CASES
        .iter()
        .zip(&urls)
        .map(|((_, _, shown), url)| {
            json!({
                "type": "failure", "url": url, "error_kind": "protocol",
                "error": format!(
                    "unsupported Transfer-Encoding \"{shown}\": only a single \"chunked\" is accepted"
                ),
            })
        })
        .collect();
    assert_eq!(got, want);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    // Each refused response's connection was closed, never reused.
    assert_eq!(server.connections(), urls.len());
    // The redirect was not followed.
    assert!(!server.targets().iter().any(|t| t.starts_with("/te/fine/")));
}

/// An HTTP/1.0 response with `Transfer-Encoding` is refused too (hyper's
/// check, RFC 9112 sec. 6.1), also at once.
#[test]
fn transfer_encoding_on_http_1_0_is_protocol_at_once() {
    let server = Raw::start(Arc::new(|mut stream, log| {
        Box::pin(async move {
            let mut buf = Vec::new();
            if let Some(head) = read_head(&mut stream, &mut buf).await {
                log.record(head);
                let _ = stream
                    .write_all(
                        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                    )
                    .await;
                std::future::pending::<()>().await;
            }
        })
    }));
    let url = server.url("/x");
    let (run, _) = records(&["-t", "10"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 1);
    assert_eq!(failure_kind(&run.records[0]), failed(&url, "protocol"));
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

/// A single `chunked` in any case, with whitespace around it, alongside a
/// `Content-Length` or obs-folded, is read as chunked; an HTTP/1.0 body
/// without framing is read until the server closes; a HEAD response's
/// `Transfer-Encoding` is not checked (it has no body).
#[test]
fn trusted_framing_still_works() {
    let server = Raw::routes(LONG_IDLE);
    let urls: Vec<String> = TE_FINE
        .iter()
        .map(|(name, _)| server.url(&format!("/te/fine/{name}")))
        .collect();
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Value> = urls.iter().map(|u| success(u, 200, 5)).collect();
    assert_eq!(got, want);

    let url = server.url("/te/http10");
    let run = util::run(&["-t", "5"], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 1, "{:?}", run.records);
    let mut record = run.records[0].clone();
    let fields = record.as_object_mut().unwrap();
    assert!(fields.remove("elapsed_ms").is_some());
    assert_eq!(fields.remove("http_version").unwrap(), "HTTP/1.0");
    assert_eq!(record, success(&url, 200, 11));

    let url = server.url("/te/gzip");
    let (run, got) = records(&["-t", "5", "-X", "HEAD"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(got, [success(&url, 200, 0)]);
}

// ---------------------------------------------------------------------------
// Location values.

/// Two `Location` fields that differ are refused when the redirect would be
/// followed; with `--max-redirects 0` the 302 is the result. Two identical
/// fields are followed.
#[test]
fn differing_location_fields_are_protocol_identical_ones_are_followed() {
    let server = Raw::routes(LONG_IDLE);
    let urls = [server.url("/loc/two"), server.url("/loc/same")];
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 1);
    assert_eq!(
        got,
        [
            json!({
                "type": "failure", "url": urls[0], "error_kind": "protocol",
                "error": r#"conflicting Location fields: "/loc/dest?from=a", "/loc/dest?from=b""#,
            }),
            redirected(&urls[1], 200, 2, &server.url("/loc/dest?from=same")),
        ]
    );
    let mut targets = server.targets();
    targets.sort();
    assert_eq!(targets, ["/loc/dest?from=same", "/loc/same", "/loc/two"]);

    let (run, got) = records(&["--max-redirects", "0"], &urls[..1]);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(got, [success(&urls[0], 302, 0)]);
}

#[test]
fn relative_location_is_resolved_against_the_request_url() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/loc/rel");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let dest = server.url("/loc/dest?from=rel");
    assert_eq!(records, [redirected(&url, 200, 2, &dest)]);
    assert_eq!(server.targets(), ["/loc/rel", "/loc/dest?from=rel"]);
}

#[test]
fn scheme_relative_location_keeps_the_scheme() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/loc/scheme");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let dest = server.url("/loc/dest?from=scheme");
    assert_eq!(records, [redirected(&url, 200, 2, &dest)]);
    assert_eq!(server.targets(), ["/loc/scheme", "/loc/dest?from=scheme"]);
}

/// Raw UTF-8 bytes in `Location` are followed percent-encoded.
#[test]
fn utf8_bytes_in_location_are_percent_encoded() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/loc/utf8");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        records,
        [redirected(&url, 200, 2, &server.url("/caf%C3%A9"))]
    );
    assert_eq!(server.targets(), ["/loc/utf8", "/caf%C3%A9"]);
}

/// A byte that is not UTF-8 (latin-1 `é`, 0xE9) is percent-encoded as the
/// byte it is, as curl does, not replaced.
#[test]
fn latin1_byte_in_location_is_percent_encoded_as_is() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/loc/latin1");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [redirected(&url, 200, 2, &server.url("/caf%E9"))]);
    assert_eq!(server.targets(), ["/loc/latin1", "/caf%E9"]);
}

/// A redirect to the same URL that settles on the second request is a
/// success, not a loop.
#[test]
fn redirect_to_the_same_url_once_then_200_is_success() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/self");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [redirected(&url, 200, 7, &url)]);
    assert_eq!(server.targets(), ["/self", "/self"]);
}

// ---------------------------------------------------------------------------
// What goes on the wire.

#[test]
fn fragment_is_never_sent_but_is_echoed() {
    let server = Raw::routes(LONG_IDLE);
    let url = server.url("/page?q=1#sec");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [success(&url, 200, 2)]);
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].request_line(), "GET /page?q=1 HTTP/1.1");
    assert!(!heads[0].raw.contains(&b'#'), "{:?}", heads[0]);
}

#[test]
fn userinfo_becomes_basic_auth_and_stays_off_the_request_line_and_host() {
    let server = Raw::routes(LONG_IDLE);
    let url = format!("http://u:p@{}/x", server.bg.addr);
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [success(&url, 200, 2)]);
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    let head = &heads[0];
    assert_eq!(head.request_line(), "GET /x HTTP/1.1");
    assert_eq!(head.header("authorization"), ["Basic dTpw"]);
    assert_eq!(head.header("host"), [server.bg.addr.to_string()]);
    let text = String::from_utf8_lossy(&head.raw);
    assert!(!text.contains("u:p"), "{text}");
}

// ---------------------------------------------------------------------------
// File descriptors (item 6).

/// Runs the binary with `args` and `input` on stdin under an open-file limit
/// of `n`, soft and hard (so it cannot be raised).
fn run_with_open_file_limit(args: &[&str], n: libc::rlim_t, input: String) -> util::Run {
    let mut cmd = command(args);
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, Some(input.into_bytes()))
}

/// Under an open-file limit of 64 (soft and hard, so it cannot be raised),
/// `-c 500` is capped to what fits, said once on stderr, and every one of
/// 2,000 URLs still gets exactly one record.
#[test]
fn open_file_limit_of_64_caps_the_concurrency_and_loses_nothing() {
    let server = Server::start();
    // Each answer waits 20 ms, so the capped number of sockets is open at once.
    let urls: Vec<String> = (0..2000)
        .map(|i| server.url(&format!("/delay/20?{i}")))
        .collect();
    let input: String = urls.iter().map(|u| format!("{u}\n")).collect();
    let run = run_with_open_file_limit(&["--keep-order", "-c", "500", "-t", "10"], 64, input);
    let failures: Vec<&Value> = run
        .records
        .iter()
        .filter(|r| r["type"] != "success")
        .collect();
    assert!(failures.is_empty(), "{failures:?}\n{}", run.stderr);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    run.checked_summary();
    let want: Vec<Value> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(exact(&run.records), want);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(
        warnings,
        ["fetcher-stream: warning: --max-concurrency 500 does not fit the open-file limit (64); using 48"],
        "{}",
        run.stderr
    );
    assert!((2..=48).contains(&server.peak()), "peak {}", server.peak());
}

/// Many distinct origins under a low open-file limit: idle keep-alive
/// connections (one per origin in the pool) must not fill the limit, or later
/// connects fail with "Too many open files".
#[test]
fn many_distinct_origins_under_a_low_open_file_limit_all_succeed() {
    const ORIGINS: usize = 200;
    // One thread serves every listener: keep-alive HTTP/1.1, "ok" to each request.
    let listeners: Vec<std::net::TcpListener> = (0..ORIGINS)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    serve_ok(listeners, Arc::new(OpenCount::default()));
    let input: String = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/\n"))
        .collect();
    let run = run_with_open_file_limit(&["-c", "2", "-t", "10", "-q"], 64, input);
    run.assert_all_succeeded();
    assert_eq!(run.records.len(), ORIGINS);
    assert_eq!(run.code(), 0, "{}", run.stderr);
}

/// Many distinct host names over HTTP/2 (h2c with prior knowledge), under an
/// open-file limit far below the number of hosts: each host's connection
/// goes idle after its one request, and the pool closes the least recently
/// used ones past its idle cap, so no connect fails for want of a descriptor.
#[test]
fn many_distinct_http2_hosts_under_a_low_open_file_limit_all_succeed() {
    const HOSTS: usize = 2000;
    let server = Server::start();
    // `*.localhost` names resolve to loopback without a query (RFC 6761).
    let urls: Vec<String> = (0..HOSTS)
        .map(|i| format!("http://n{i}.h.localhost:{}/?{i}", server.addr().port()))
        .collect();
    let input: String = urls.iter().map(|u| format!("{u}\n")).collect();
    let args = ["--http2-prior-knowledge", "-c", "16", "-t", "20", "-q"];
    let run = run_with_open_file_limit(&args, 64, input);
    run.assert_all_succeeded();
    assert_eq!(run.records.len(), HOSTS);
    assert!(run.records.iter().all(|r| r["http_version"] == "HTTP/2.0"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(server.hits(), HOSTS);
}

/// Open connections on the server side, and the most seen at once.
#[derive(Default)]
struct OpenCount {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Serves every listener from one background thread: keep-alive HTTP/1.1,
/// "ok" to each request, counting the connections open in `open`.
fn serve_ok(listeners: Vec<std::net::TcpListener>, open: Arc<OpenCount>) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            for l in listeners {
                l.set_nonblocking(true).unwrap();
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                let open = open.clone();
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = l.accept().await {
                        let open = open.clone();
                        let n = open.now.fetch_add(1, Ordering::SeqCst) + 1;
                        open.peak.fetch_max(n, Ordering::SeqCst);
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 4096];
                            let mut have = Vec::new();
                            while let Ok(n @ 1..) = s.read(&mut buf).await {
                                have.extend_from_slice(&buf[..n]);
                                while let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n")
                                {
                                    have.drain(..end + 4);
                                    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                                    if s.write_all(resp).await.is_err() {
                                        break;
                                    }
                                }
                            }
                            open.now.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
            }
            std::future::pending::<()>().await;
        });
    });
}

/// Many distinct hosts under a high open-file limit: idle keep-alive
/// connections stay within `fdlimit::MAX_IDLE_SOCKETS` (256), not one per host
/// up to the limit (found in review: 300,000 hosts kept 19,900 sockets open and
/// used up the ephemeral ports).
#[test]
fn idle_connections_to_many_hosts_stay_within_the_cap() {
    const HOSTS: usize = 600;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = Arc::new(OpenCount::default());
    serve_ok(vec![listener], open.clone());
    // `hN.localhost` names resolve to loopback without a query (RFC 6761), and
    // each is its own origin in the pool.
    let input: String = (0..HOSTS)
        .map(|i| format!("http://h{i}.localhost:{port}/\n"))
        .collect();
    let run = run(&["-c", "8", "-t", "10"], input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), HOSTS);
    assert!(run.records.iter().all(|r| r["type"] == "success"));
    let peak = open.peak.load(Ordering::SeqCst);
    assert!(
        peak <= 256 + 8 + 16,
        "peak of {peak} connections open at once"
    );
}
