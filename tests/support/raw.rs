//! The raw-TCP test server: it reads request heads byte for byte and answers
//! each with a [`Reply`] chosen by the test's script, so it can misbehave in
//! ways no HTTP library would (hang, drip, cut a body, reset, send bad
//! framing, close a kept-alive connection at the worst moment).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::background::{Background, BoxFuture};

/// One request head as it arrived on the wire.
#[derive(Debug, Clone)]
pub struct Head {
    /// When the head was read.
    pub at: Instant,
    /// The request target from the request line, byte for byte.
    pub target: String,
    /// Every byte of the head, request line to the blank line.
    pub raw: Vec<u8>,
}

impl Head {
    /// The request line (`GET /x HTTP/1.1`).
    pub fn request_line(&self) -> String {
        let end = self
            .raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(self.raw.len());
        String::from_utf8_lossy(&self.raw[..end]).into_owned()
    }

    /// Every value of header field `name` (case-insensitive), in order.
    pub fn header(&self, name: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.raw)
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// What the server has seen, shared by its connections.
#[derive(Default)]
pub struct Log {
    heads: Mutex<Vec<Head>>,
    /// Requests that arrived on a connection the server was about to close
    /// ([`Reply::CloseAfter`]), and were dropped unanswered (and unread).
    dropped: AtomicUsize,
}

impl Log {
    /// Records `head`; returns how many requests came before it (over all
    /// connections) and how many times its target has now been seen (this
    /// one included).
    pub fn record(&self, head: Head) -> (usize, usize) {
        let mut heads = self.heads.lock().unwrap();
        let hits = heads.iter().filter(|h| h.target == head.target).count() + 1;
        heads.push(head);
        (heads.len() - 1, hits)
    }
}

/// What the script knows when it picks the reply to one request.
pub struct Request<'a> {
    pub head: &'a Head,
    /// Requests read before this one, over all connections.
    pub n: usize,
    /// Requests for this exact target so far, this one included.
    pub hits: usize,
    /// Requests read on this connection, this one included.
    pub on_conn: usize,
    /// The server's own port.
    pub port: u16,
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Write the bytes and wait for the next request on the connection.
    Keep(Vec<u8>),
    /// Write the bytes and close the connection (FIN), with no
    /// `Connection: close` said beforehand unless the bytes say it.
    Close(Vec<u8>),
    /// Write the bytes, then close after the delay, or at once if more bytes
    /// arrive first (without reading them, so the peer sees a reset).
    CloseAfter(Vec<u8>, Duration),
    /// Write the bytes and then neither write nor close (until the server is
    /// dropped).
    Hold(Vec<u8>),
    /// Write the bytes, wait, then reset the connection (RST, via
    /// `SO_LINGER` 0).
    Reset(Vec<u8>, Duration),
    /// Write the bytes, then one byte `d` per interval, 100 times.
    Drip(Vec<u8>, Duration),
}

/// A head that promises a 100-byte body.
const HEAD_100: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";

impl Reply {
    /// `status` with the extra header fields and the body `status N`, then
    /// close (`Connection: close`).
    pub fn status(status: u16, fields: &[(&str, &str)]) -> Reply {
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
        Reply::Close(out.into_bytes())
    }

    /// Read the request, then never answer (the connection stays open).
    pub fn hang() -> Reply {
        Reply::Hold(Vec::new())
    }

    /// A head with `Content-Length: 100`, then one body byte every 200 ms.
    pub fn drip() -> Reply {
        Reply::Drip(HEAD_100.to_vec(), Duration::from_millis(200))
    }

    /// A head with `Content-Length: 100`, 10 body bytes, then close.
    pub fn truncated() -> Reply {
        Reply::Close([HEAD_100, &[b't'; 10]].concat())
    }

    /// A chunked head and a chunk-size line that is not hexadecimal, then
    /// close.
    pub fn bad_chunk() -> Reply {
        Reply::Close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n".to_vec())
    }

    /// A head with `Content-Length: 100` and 10 bytes, 300 ms, then a reset.
    pub fn reset_in_body() -> Reply {
        Reply::Reset([HEAD_100, &[b'r'; 10]].concat(), Duration::from_millis(300))
    }

    /// Close the connection without a response.
    pub fn close() -> Reply {
        Reply::Close(Vec::new())
    }

    /// Reset the connection without a response.
    pub fn reset() -> Reply {
        Reply::Reset(Vec::new(), Duration::ZERO)
    }
}

/// `200 OK` with `Content-Length` and `body`.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Picks the reply to each request.
type Script = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A raw-TCP server on `127.0.0.1:0` that logs every request head with its
/// arrival time and answers it as its script says.
pub struct RawServer {
    bg: Background,
    log: Arc<Log>,
}

impl RawServer {
    /// Answers every request with `script(request)`, keeping a connection
    /// as long as the replies do.
    pub fn new(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> RawServer {
        RawServer::start(None, Arc::new(script))
    }

    /// As [`RawServer::new`], but a kept-alive connection is closed after
    /// `idle` without a new request.
    pub fn closing_idle(
        idle: Duration,
        script: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> RawServer {
        RawServer::start(Some(idle), Arc::new(script))
    }

    /// Answers every request with `reply`.
    pub fn every(reply: Reply) -> RawServer {
        RawServer::new(move |_| reply.clone())
    }

    /// Answers the n-th request (counted over all connections) with
    /// `replies[n]`, and every request past them with `Reply::status(200)`.
    pub fn scripted(replies: Vec<Reply>) -> RawServer {
        RawServer::new(move |req| {
            replies
                .get(req.n)
                .cloned()
                .unwrap_or_else(|| Reply::status(200, &[]))
        })
    }

    /// Runs `on_conn` on each connection instead of reading heads; it may
    /// record what it sees in the log.
    pub fn custom(
        on_conn: impl Fn(TcpStream, Arc<Log>) -> BoxFuture + Send + Sync + 'static,
    ) -> RawServer {
        let log = Arc::new(Log::default());
        let conn_log = log.clone();
        let bg = Background::start(Arc::new(move |stream| on_conn(stream, conn_log.clone())));
        RawServer { bg, log }
    }

    /// Accepts connections and never reads from them (nor writes).
    pub fn never_reading() -> RawServer {
        RawServer::custom(|stream, _| {
            Box::pin(async move {
                let _held = stream;
                std::future::pending::<()>().await;
            })
        })
    }

    fn start(idle: Option<Duration>, script: Script) -> RawServer {
        RawServer::custom(move |stream, log| Box::pin(serve(stream, log, idle, script.clone())))
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        self.bg.url("http", path)
    }

    pub fn port(&self) -> u16 {
        self.bg.addr.port()
    }

    /// Every request head so far, in arrival order.
    pub fn heads(&self) -> Vec<Head> {
        self.log.heads.lock().unwrap().clone()
    }

    /// The request targets so far, in arrival order.
    pub fn targets(&self) -> Vec<String> {
        self.heads().into_iter().map(|h| h.target).collect()
    }

    /// The request lines so far (`GET /a HTTP/1.1`), in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.heads().iter().map(Head::request_line).collect()
    }

    /// The arrival times so far, each as the time since `start`.
    pub fn times_since(&self, start: Instant) -> Vec<Duration> {
        self.heads().iter().map(|h| h.at - start).collect()
    }

    /// Request heads read so far.
    pub fn requests(&self) -> usize {
        self.log.heads.lock().unwrap().len()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.bg.accepted()
    }

    /// The most connections that were open at the same moment.
    pub fn peak_open(&self) -> usize {
        self.bg.peak_open()
    }

    /// Requests dropped unread on a closing connection so far.
    pub fn dropped(&self) -> usize {
        self.log.dropped.load(Ordering::SeqCst)
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
            return Some(Head {
                at: Instant::now(),
                target,
                raw,
            });
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(mut stream: TcpStream, log: Arc<Log>, idle: Option<Duration>, script: Script) {
    let port = stream.local_addr().unwrap().port();
    let mut buf = Vec::new();
    let mut on_conn = 0;
    loop {
        let read = read_head(&mut stream, &mut buf);
        let head = match idle {
            Some(idle) => tokio::time::timeout(idle, read).await.ok().flatten(),
            None => read.await,
        };
        // End of stream, an error, or idle too long: close.
        let Some(head) = head else { return };
        on_conn += 1;
        let (n, hits) = log.record(head.clone());
        let request = Request {
            head: &head,
            n,
            hits,
            on_conn,
            port,
        };
        match script(&request) {
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
            Reply::Drip(bytes, every) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                for _ in 0..100 {
                    if stream.write_all(b"d").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                return;
            }
        }
    }
}
