//! The connection pool: which connection carries each request.
//!
//! Built on hyper's `client::conn::{http1, http2}` handshakes, with these
//! rules (curl's connection cache and hyper-util's `client::pool` building
//! blocks follow the same ideas):
//! - **One connection per HTTP/2 origin.** An origin is scheme, host and port.
//!   While the first connection to an origin that may speak HTTP/2 is being
//!   set up (DNS, TCP, TLS and its ALPN answer), other requests to that origin
//!   wait for it instead of opening their own; if ALPN selects `h2`, they all
//!   share it as streams (RFC 9113 sec. 9.1 asks clients not to open more than
//!   one connection to an origin). A second connection is opened only when
//!   every stream the server allows (`SETTINGS_MAX_CONCURRENT_STREAMS`, read
//!   from its SETTINGS frames as they are read) is taken, so `-c` requests
//!   use ceil(`-c` / limit) connections. A new connection joins the pool once
//!   the server's first SETTINGS frame has arrived, so nobody opens a stream
//!   the server would refuse. A connection that is closed or received a
//!   GOAWAY is dropped from the pool and the next request opens a new one
//!   (again shared). If the set-up fails, every request that waited for it gets the
//!   same error, so a dead origin costs one attempt, not one per URL. An
//!   origin's first connection is shared this way over HTTP/1.1 too: the
//!   requests that waited for it then open their own.
//! - **HTTP/1.1 connections carry one request at a time** and go back to the
//!   pool when their response body has been read to the end; a request takes
//!   the most recently used idle one, else waits for one whose response has
//!   been read but that hyper has not yet made ready for its next request
//!   (a moment), else opens a new one.
//! - **A bounded total of idle connections, all origins together.** An HTTP/2
//!   connection with no open stream counts as idle. Past the cap the least
//!   recently used idle connection is closed, so open sockets never exceed
//!   requests in flight plus the cap, however many distinct hosts the input
//!   names. Idle connections older than [`IDLE_TIMEOUT`] are closed when met.
//! - **A hard cap on open connections.** Each connection holds a permit of a
//!   semaphore (requests in flight plus the idle cap) from before it dials
//!   until its socket is dropped: the permit travels with the byte stream, so
//!   it is released only once the socket is closed. A request that finds no
//!   permit closes the least recently used idle connection and waits for a
//!   permit, so the open-file budget holds exactly, even while evicted
//!   connections are still shutting down.
//!
//! A request that fails before any byte of it was written (the idle
//! connection it took had been closed meanwhile) is sent again on another
//! connection, whatever its method: the server never saw it.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::task::AtomicWaker;
use http::header::HOST;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::{http1, http2};
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::conn_info::{ConnInfo, Established, Phases};
use super::{BoxError, RequestBody};

/// Idle connections older than this are closed instead of reused (the legacy
/// hyper-util pool's default; most servers close sooner, which the pool
/// notices when it next looks at the connection).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Longest wait, after an HTTP/1.1 response was read to its end, for hyper to
/// make its connection ready for the next request; past it the connection is
/// closed.
const RETURN_WAIT: Duration = Duration::from_secs(1);

/// How often an HTTP/2 connection with open streams is sent a PING.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// An HTTP/2 connection whose PING is not answered within this is closed.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP/2 connection with open streams that has sent nothing (not even a
/// PING answer) for this long is taken for stalled: it gets no new streams,
/// and a new connection takes the origin's requests.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// Nanoseconds since the first call, for timestamps kept in atomics.
fn now_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// Most times a request goes back to the pool because a connection set up for
/// it closed before the request could be written.
const MAX_UNSENT_ON_NEW: u32 = 4;

/// What a connector returns: a byte stream that says whether ALPN chose `h2`
/// and whether it goes to an HTTP proxy (absolute-form requests).
pub(crate) trait Io:
    hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send + 'static
{
}
impl<T> Io for T where T: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send + 'static {}

/// Which protocol the pool speaks to an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.1 only (`http://`, or `--http1.1`).
    Http1,
    /// HTTP/2 only (`--http2-prior-knowledge`).
    Http2,
    /// HTTP/2 if ALPN selects `h2`, else HTTP/1.1 (`https://` by default).
    Negotiate,
}

/// The pool's settings.
#[derive(Debug, Clone)]
pub(crate) struct PoolOptions {
    /// Most idle connections kept open, all origins together.
    pub idle_cap: usize,
    /// Most response header fields accepted (HTTP/1.1).
    pub max_headers: usize,
    /// `Protocol::Http2` for every origin (`--http2-prior-knowledge`).
    pub http2_only: bool,
    /// Offers only HTTP/1.1 (`--http1.1`): no origin waits for an ALPN answer.
    pub http1_only: bool,
    /// Most connections open at once (being set up, busy, idle or closing),
    /// all origins together: requests in flight plus `idle_cap`.
    pub socket_cap: usize,
}

/// Counters of the pool's work, for the summary and the tests.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Connections set up (TCP, TLS and the HTTP handshake all done).
    pub connections_opened: AtomicU64,
    /// Requests that waited for another request's connection set-up.
    pub waited_for_connect: AtomicU64,
}

/// A failure of one request in the pool: setting up a connection
/// ([`PoolError::is_connect`]) or sending on one.
#[derive(Debug)]
pub struct PoolError {
    connect: bool,
    /// The connection had carried a response before this request.
    reused: bool,
    source: BoxError,
}

impl PoolError {
    /// A failure to set up a connection (no byte of the request was sent).
    fn connect(source: BoxError) -> PoolError {
        PoolError {
            connect: true,
            reused: false,
            source,
        }
    }

    /// Whether the connection could not be set up (DNS, TCP, proxy, TLS or
    /// the HTTP handshake): no byte of the request was sent.
    pub fn is_connect(&self) -> bool {
        self.connect
    }

    /// Whether the request went out on a connection that had already carried
    /// a response (a kept-alive one the server may have closed meanwhile).
    pub fn is_reused(&self) -> bool {
        self.reused
    }
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.connect {
            "connection failed"
        } else {
            "request failed"
        })
    }
}

impl StdError for PoolError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// One connection-set-up error shared by every request that waited for it.
#[derive(Debug, Clone)]
struct SharedError(Arc<BoxError>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The message is the source's; `chain_message` prints that.
        f.write_str("")
    }
}

impl StdError for SharedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&**self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    scheme: Scheme,
    authority: Authority,
}

/// The outcome of a shared connection set-up, as its waiters see it.
type Outcome = Option<Result<(), SharedError>>;

#[derive(Debug)]
struct H1Idle {
    id: u64,
    sender: http1::SendRequest<RequestBody>,
    /// Set when the connection's task has ended.
    end: Arc<TaskEnd>,
    proxied: bool,
    /// The connection's peer.
    remote_addr: Option<SocketAddr>,
    /// When it went idle, and its place in the idle order.
    since: Instant,
    tick: u64,
}

#[derive(Debug)]
struct H2Conn {
    id: u64,
    sender: http2::SendRequest<RequestBody>,
    /// Cancelled when the connection's task has ended.
    ended: CancellationToken,
    /// Set once a response came back on it.
    answered: Arc<AtomicBool>,
    /// The connection's peer.
    remote_addr: Option<SocketAddr>,
    /// Requests on it whose response has not been read to the end.
    streams: usize,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS, as last announced
    /// (`u32::MAX` until its first SETTINGS frame: no limit, RFC 9113
    /// sec. 6.5.2).
    max_streams: Arc<AtomicU32>,
    /// When the server last sent anything ([`now_nanos`]).
    last_read: Arc<AtomicU64>,
    /// Set once the server sent a GOAWAY: no new stream may be opened on
    /// it (RFC 9113 sec. 6.8), though its open streams go on.
    going_away: Arc<AtomicBool>,
    /// When `streams` last fell to zero (its place in the idle order).
    idle_since: Option<(u64, Instant)>,
}

#[derive(Debug, Default)]
struct Origin {
    /// Learnt from the first connection's ALPN answer.
    learnt: Option<Protocol>,
    h1_idle: Vec<H1Idle>,
    /// HTTP/1.1 connections carrying a request (they keep `learnt`).
    h1_busy: usize,
    /// Of those, the ones whose response has been read and that go back to
    /// `h1_idle` once hyper is ready for their next request; `returned` wakes
    /// the requests waiting for one.
    h1_returning: usize,
    returned: Option<Arc<Notify>>,
    /// Open HTTP/2 connections: one, unless the server's stream limit
    /// made the pool open more.
    h2: Vec<H2Conn>,
    /// A set-up that requests to this origin may wait for: its number and
    /// the channel its outcome is sent on.
    connecting: Option<(u64, watch::Receiver<Outcome>)>,
}

impl Origin {
    fn is_empty(&self) -> bool {
        self.h1_idle.is_empty()
            && self.h1_busy == 0
            && self.h2.is_empty()
            && self.connecting.is_none()
    }
}

#[derive(Debug, Default)]
struct State {
    origins: HashMap<Key, Origin>,
    /// Every idle connection, oldest first: (tick) -> (origin, connection id).
    idle: BTreeMap<u64, (Key, u64)>,
    tick: u64,
    next_id: u64,
}

impl State {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Closes the least recently used idle connections until at most `cap`
    /// are left. Dropping a `SendRequest` ends its connection.
    fn evict_over(&mut self, cap: usize) {
        while self.idle.len() > cap {
            let Some((_, (key, id))) = self.idle.pop_first() else {
                return;
            };
            self.remove_idle(&key, id);
        }
    }

    /// Removes the idle connection `id` of `key` (already out of `idle`).
    fn remove_idle(&mut self, key: &Key, id: u64) {
        let Some(origin) = self.origins.get_mut(key) else {
            return;
        };
        if origin.h2.iter().any(|c| c.id == id) {
            origin.h2.retain(|c| c.id != id);
        } else {
            origin.h1_idle.retain(|c| c.id != id);
        }
        if origin.is_empty() {
            self.origins.remove(key);
        }
    }
}

/// The pool; cheap to clone (an `Arc`).
#[derive(Clone)]
pub(crate) struct Pool<C> {
    shared: Arc<PoolState<C>>,
}

/// What every clone of a [`Pool`] shares: the connector, the handshake
/// builders, the options, and the per-origin connection map behind its lock.
struct PoolState<C> {
    connector: C,
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    options: PoolOptions,
    state: Mutex<State>,
    /// One permit per open connection; see the module docs.
    sockets: Arc<Semaphore>,
    stats: Arc<PoolStats>,
}

impl<C> std::fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// What a request does after looking at the pool.
enum Checkout {
    H1(H1Idle),
    H2(H2Handle),
    Wait(watch::Receiver<Outcome>),
    /// Wait for an HTTP/1.1 connection of the origin that is on its way back.
    WaitReturn(Pin<Box<OwnedNotified>>),
    /// Set up a connection; `Some` when others may wait for it.
    Connect(Option<(u64, watch::Sender<Outcome>)>),
}

impl<C> Pool<C>
where
    C: Service<Uri, Error = BoxError> + Clone + Send + Sync + 'static,
    C::Response: Io,
    C::Future: Send,
{
    /// A pool over `connector`, which sets up the byte stream (DNS, TCP,
    /// proxy, TLS) for a request's URI.
    pub(crate) fn new(connector: C, options: PoolOptions, stats: Arc<PoolStats>) -> Self {
        let mut h1 = http1::Builder::new();
        h1.max_headers(options.max_headers)
            // RFC 9112 sec. 5.2: a user agent replaces an obs-fold with spaces.
            .allow_obsolete_multiline_headers_in_responses(true);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            // While streams are open, a PING every second shows the
            // connection is alive; one unanswered for PING_TIMEOUT closes it
            // (RFC 9113 sec. 6.7).
            .keep_alive_interval(PING_INTERVAL)
            .keep_alive_timeout(PING_TIMEOUT)
            .keep_alive_while_idle(false);
        Pool {
            shared: Arc::new(PoolState {
                connector,
                h1,
                h2,
                options: options.clone(),
                state: Mutex::new(State::default()),
                sockets: Arc::new(Semaphore::new(options.socket_cap.max(1))),
                stats,
            }),
        }
    }

    fn protocol(&self, scheme: &Scheme) -> Protocol {
        let o = &self.shared.options;
        if o.http2_only {
            Protocol::Http2
        } else if o.http1_only || *scheme != Scheme::HTTPS {
            Protocol::Http1
        } else {
            Protocol::Negotiate
        }
    }

    /// Sends `req` (an absolute URI) and returns the response head; its body
    /// holds the connection until it is read to the end or dropped.
    /// `fresh` skips idle HTTP/1.1 connections (a request sent again after a
    /// kept-alive connection failed).
    ///
    /// # Errors
    /// [`PoolError`]: the connection could not be set up, or the request failed
    /// on it.
    pub(crate) async fn send(
        &self,
        mut req: Request<RequestBody>,
        fresh: bool,
    ) -> Result<Response<PoolBody>, PoolError> {
        let uri = req.uri().clone();
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(PoolError::connect(
                format!("{uri}: not an absolute URI").into(),
            ));
        };
        let key = Key {
            scheme: scheme.clone(),
            authority: authority
                .as_str()
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| PoolError::connect(Box::new(e)))?,
        };
        let protocol = self.protocol(scheme);
        let mut unsent_on_new = 0;
        loop {
            match self.checkout(&key, protocol, fresh) {
                Checkout::H1(conn) => {
                    let info = ConnInfo {
                        remote_addr: conn.remote_addr,
                        reused: true,
                        phases: None,
                    };
                    match self.send_h1(&key, conn, req, info).await {
                        Ok(resp) => return Ok(resp),
                        Err(Unsent(back)) => req = restore_uri(*back, &uri),
                        Err(Failed(e)) => return Err(e),
                    }
                }
                Checkout::H2(handle) => match self.send_h2(&key, handle, req).await {
                    Ok(resp) => return Ok(resp),
                    Err(Unsent(back)) => req = restore_uri(*back, &uri),
                    Err(Failed(e)) => return Err(e),
                },
                Checkout::WaitReturn(notified) => notified.await,
                Checkout::Wait(mut rx) => {
                    self.shared
                        .stats
                        .waited_for_connect
                        .fetch_add(1, Ordering::Relaxed);
                    // Err: the request setting it up went away; look again.
                    if rx.changed().await.is_ok() {
                        let outcome = rx.borrow_and_update().clone();
                        if let Some(Err(e)) = outcome {
                            return Err(PoolError::connect(Box::new(e)));
                        }
                    }
                }
                Checkout::Connect(announce) => {
                    let guard = announce.map(|(n, tx)| Announce {
                        pool: self,
                        key: &key,
                        n,
                        tx: Some(tx),
                    });
                    // Boxed: set-up happens once per connection, and its
                    // futures would otherwise make every request's larger.
                    match Box::pin(self.connect_and_send(&key, uri.clone(), req, guard)).await {
                        Ok(resp) => return Ok(resp),
                        // The new connection closed (a GOAWAY) before the
                        // request went out: try again, a few times.
                        Err(Unsent(back)) if unsent_on_new < MAX_UNSENT_ON_NEW => {
                            unsent_on_new += 1;
                            req = restore_uri(*back, &uri);
                        }
                        Err(Unsent(_)) => {
                            return Err(PoolError {
                                connect: false,
                                reused: false,
                                source: "new connections kept closing before the request was sent"
                                    .into(),
                            })
                        }
                        Err(Failed(e)) => return Err(e),
                    }
                }
            }
        }
    }

    /// Looks at the pool for `key` and decides what the request does.
    fn checkout(&self, key: &Key, protocol: Protocol, fresh: bool) -> Checkout {
        let mut guard = self.shared.state.lock().expect("pool lock");
        let state = &mut *guard;
        let now = Instant::now();
        let origin = state.origins.entry(key.clone()).or_default();
        let mut taken = None;
        // A connection that is closed, or whose server sent a GOAWAY, takes
        // no new stream; the requests on it finish there.
        origin.h2.retain(|c| {
            let open = !c.sender.is_closed() && !c.going_away.load(Ordering::Relaxed);
            if !open {
                if let Some((t, _)) = c.idle_since {
                    state.idle.remove(&t);
                }
            }
            open
        });
        // The first connection with a stream free, by the server's limit,
        // that has not stalled.
        let stalled_before = now_nanos().saturating_sub(STALLED_AFTER.as_nanos() as u64);
        if let Some(h2) = origin.h2.iter_mut().find(|c| {
            c.streams < c.max_streams.load(Ordering::Relaxed) as usize
                && (c.streams == 0 || c.last_read.load(Ordering::Relaxed) >= stalled_before)
        }) {
            if let Some((t, _)) = h2.idle_since.take() {
                state.idle.remove(&t);
            }
            h2.streams += 1;
            taken = Some(Checkout::H2(H2Handle {
                sender: h2.sender.clone(),
                ended: h2.ended.clone(),
                id: h2.id,
                answered: h2.answered.clone(),
                info: ConnInfo {
                    remote_addr: h2.remote_addr,
                    reused: true,
                    phases: None,
                },
            }));
        }
        if taken.is_none() && !fresh {
            while let Some(conn) = origin.h1_idle.pop() {
                state.idle.remove(&conn.tick);
                if conn.sender.is_ready() && now.duration_since(conn.since) < IDLE_TIMEOUT {
                    origin.h1_busy += 1;
                    taken = Some(Checkout::H1(conn));
                    break;
                }
            }
        }
        // Requests wait for a set-up in progress when it may give an HTTP/2
        // connection they can share, and for an origin's first connection
        // whatever the protocol: if it fails, they all get its error, so a
        // dead host costs one attempt.
        let first = origin.h1_idle.is_empty() && origin.h1_busy == 0 && origin.h2.is_empty();
        let may_be_h2 = first
            || match origin.learnt.unwrap_or(protocol) {
                Protocol::Http1 => false,
                Protocol::Http2 | Protocol::Negotiate => true,
            };
        let decision = match (taken, &origin.connecting) {
            (Some(t), _) => t,
            (None, _) if !fresh && origin.h1_returning > 0 => {
                let notify = origin.returned.get_or_insert_with(Default::default);
                let mut notified = Box::pin(notify.clone().notified_owned());
                // Registered now, under the lock that `h1_done` takes before
                // it notifies, so the wake-up cannot be missed.
                notified.as_mut().enable();
                Checkout::WaitReturn(notified)
            }
            (None, Some((_, rx))) if may_be_h2 => Checkout::Wait(rx.clone()),
            (None, _) if may_be_h2 => {
                let (tx, rx) = watch::channel(None);
                state.next_id += 1;
                let n = state.next_id;
                origin.connecting = Some((n, rx));
                Checkout::Connect(Some((n, tx)))
            }
            (None, _) => Checkout::Connect(None),
        };
        if origin.is_empty() {
            state.origins.remove(key);
        }
        decision
    }

    async fn connect_and_send(
        &self,
        key: &Key,
        uri: Uri,
        req: Request<RequestBody>,
        announce: Option<Announce<'_, C>>,
    ) -> Result<Response<PoolBody>, SendError> {
        let made = self.connect(uri).await;
        match made {
            Err(e) => {
                let shared = SharedError(Arc::new(e));
                if let Some(mut a) = announce {
                    a.finish(Err(shared.clone()));
                }
                Err(Failed(PoolError::connect(Box::new(shared))))
            }
            Ok(Made::H1(sender, end, proxied, info)) => {
                let id = {
                    let mut state = self.shared.state.lock().expect("pool lock");
                    let id = state.next_id();
                    let origin = state.origins.entry(key.clone()).or_default();
                    origin.learnt = Some(Protocol::Http1);
                    origin.h1_busy += 1;
                    id
                };
                if let Some(mut a) = announce {
                    a.finish(Ok(()));
                }
                let conn = H1Idle {
                    id,
                    sender,
                    end,
                    proxied,
                    remote_addr: info.remote_addr,
                    since: Instant::now(),
                    tick: 0,
                };
                self.send_h1(key, conn, req, info).await
            }
            Ok(Made::H2(sender, settings, info)) => {
                let answered = Arc::new(AtomicBool::new(false));
                let id = self.shared.state.lock().expect("pool lock").next_id();
                let handle = H2Handle {
                    sender: sender.clone(),
                    ended: settings.ended.clone(),
                    id,
                    answered: answered.clone(),
                    info,
                };
                // The connection's own request goes at once; the connection
                // joins the pool (and the requests that waited for it get
                // it) once the server's first SETTINGS frame has told its
                // stream limit, which comes before any response (RFC 9113
                // sec. 3.4), so that they do not open streams the server
                // would refuse.
                let register = async {
                    // Err: the connection closed before any SETTINGS.
                    let _ = settings.seen.await;
                    let mut state = self.shared.state.lock().expect("pool lock");
                    let origin = state.origins.entry(key.clone()).or_default();
                    origin.learnt = Some(Protocol::Http2);
                    origin.h2.push(H2Conn {
                        id,
                        sender,
                        ended: settings.ended,
                        answered,
                        remote_addr: info.remote_addr,
                        streams: 1,
                        max_streams: settings.max_streams,
                        last_read: settings.last_read,
                        going_away: settings.going_away,
                        idle_since: None,
                    });
                    drop(state);
                    if let Some(mut a) = announce {
                        a.finish(Ok(()));
                    }
                };
                let (sent, ()) = tokio::join!(self.send_h2(key, handle, req), register);
                sent
            }
        }
    }

    /// Sets up a connection: the connector's byte stream, then the HTTP/2 or
    /// HTTP/1.1 handshake, with the connection's task spawned.
    async fn connect(&self, uri: Uri) -> Result<Made, BoxError> {
        let permit = self.socket_permit().await;
        let mut connector = self.shared.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx)).await?;
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let io = connector.call(uri).await?;
        let connected = io.connected();
        let established = Established::of(&connected);
        // What the connector did after its own part, the byte stream, was
        // ready: the TLS handshake (hyper-rustls's).
        let info = ConnInfo {
            remote_addr: established.and_then(|e| e.remote_addr),
            reused: false,
            phases: established.map(|e| Phases {
                dns: e.dns,
                connect: e.connect,
                tls: https.then(|| e.ready.elapsed()),
            }),
        };
        let h2 = self.shared.options.http2_only || connected.is_negotiated_h2();
        // The permit goes with the socket and is released when it is dropped.
        let (watch, settings) = SettingsWatch::new();
        let io = Permitted {
            io,
            _permit: permit,
            settings: h2.then_some(watch),
        };
        let made = if h2 {
            let (sender, conn) = self.shared.h2.handshake(io).await?;
            let on_end = settings.ended.clone();
            tokio::spawn(async move {
                let _ = conn.await;
                on_end.cancel();
            });
            Made::H2(sender, settings, info)
        } else {
            let (sender, conn) = self.shared.h1.handshake(io).await?;
            let end = Arc::new(TaskEnd::default());
            let on_end = end.clone();
            tokio::spawn(async move {
                let _ = conn.await;
                on_end.end();
            });
            Made::H1(sender, end, connected.is_proxied(), info)
        };
        self.shared
            .stats
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        Ok(made)
    }

    /// Sends `req` on an HTTP/1.1 connection: a new one (`info.phases` set)
    /// or an idle one of the pool (`info.reused`).
    async fn send_h1(
        &self,
        key: &Key,
        conn: H1Idle,
        mut req: Request<RequestBody>,
        info: ConnInfo,
    ) -> Result<Response<PoolBody>, SendError> {
        let reused = info.reused;
        let uri = req.uri().clone();
        req.headers_mut()
            .entry(HOST)
            .or_insert_with(|| host_header(&uri));
        if !conn.proxied {
            *req.uri_mut() = origin_form(&uri);
        }
        let mut lease = Lease::H1 {
            pool: self.clone_dyn(),
            key: key.clone(),
            conn: None,
            ended: false,
        };
        let Lease::H1 { conn: slot, .. } = &mut lease else {
            unreachable!("built as H1 above")
        };
        let conn = slot.insert(conn);
        let end = &conn.end;
        let mut sent = std::pin::pin!(conn.sender.try_send_request(req));
        let answered = poll_fn(|cx| {
            if let Poll::Ready(outcome) = sent.as_mut().poll(cx) {
                return Poll::Ready(Some(outcome));
            }
            end.waker.register(cx.waker());
            if end.ended.load(Ordering::Acquire) {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        let outcome = match answered {
            Some(outcome) => outcome,
            // The connection's task ended while the request was being
            // queued for it. Its queue is normally emptied then, each
            // request answered with an error; but a request queued while
            // the task was dropping its end of the queue stays there, its
            // answer never sent, until the queue itself is freed, which
            // needs this sender gone. Dropping it answers such a request
            // with the request given back.
            None => {
                *slot = None;
                sent.await
            }
        };
        match outcome {
            Ok(resp) => Ok(resp.map(|body| PoolBody {
                body,
                _lease: lease,
                info,
            })),
            Err(e) => {
                // The connection is done for: the lease gives back nothing.
                *slot = None;
                drop(lease);
                Err(unsent_or_failed(e, reused))
            }
        }
    }

    async fn send_h2(
        &self,
        key: &Key,
        handle: H2Handle,
        req: Request<RequestBody>,
    ) -> Result<Response<PoolBody>, SendError> {
        let H2Handle {
            mut sender,
            ended,
            id,
            answered,
            info,
        } = handle;
        let reused = answered.load(Ordering::Relaxed);
        let lease = Lease::H2 {
            pool: self.clone_dyn(),
            key: key.clone(),
            id,
        };
        let mut sent = std::pin::pin!(sender.try_send_request(req));
        let mut sender = Some(sender);
        let outcome = tokio::select! {
            biased;
            outcome = &mut sent => outcome,
            // The connection's task ended. A request queued while the task
            // was dropping its end of the queue stays there, unanswered,
            // until the queue itself is freed, which needs every sender of
            // the connection gone: the pool's and each waiting request's.
            // Each lets go of its own; such a request then comes back
            // unsent, and the others get their answers as they would.
            () = ended.cancelled() => {
                self.forget_h2(key, id);
                sender = None;
                sent.await
            }
        };
        match outcome {
            Ok(resp) => {
                answered.store(true, Ordering::Relaxed);
                Ok(resp.map(|body| PoolBody {
                    body,
                    _lease: lease,
                    info,
                }))
            }
            Err(e) => {
                // A connection that failed as a whole (GOAWAY, I/O error,
                // closed) takes no more requests.
                if sender.as_ref().is_none_or(|s| s.is_closed()) || connection_gone(e.error()) {
                    self.forget_h2(key, id);
                }
                drop(lease);
                Err(unsent_or_failed(e, reused))
            }
        }
    }

    /// Idle connections in the pool, all origins together.
    #[cfg(test)]
    pub(crate) fn idle_connections(&self) -> usize {
        self.shared.state.lock().expect("pool lock").idle.len()
    }

    /// A permit for one more open connection: at once if one is free, else
    /// after closing the least recently used idle connection (or, with none
    /// idle, after some connection closes).
    async fn socket_permit(&self) -> OwnedSemaphorePermit {
        let sockets = &self.shared.sockets;
        if let Ok(p) = sockets.clone().try_acquire_owned() {
            return p;
        }
        {
            let mut state = self.shared.state.lock().expect("pool lock");
            let idle = state.idle.len();
            state.evict_over(idle.saturating_sub(1));
        }
        sockets
            .clone()
            .acquire_owned()
            .await
            .expect("the pool never closes its semaphore")
    }

    fn forget_h2(&self, key: &Key, id: u64) {
        let mut state = self.shared.state.lock().expect("pool lock");
        let Some(origin) = state.origins.get_mut(key) else {
            return;
        };
        if let Some(i) = origin.h2.iter().position(|c| c.id == id) {
            let idle = origin.h2.remove(i).idle_since;
            if let Some((t, _)) = idle {
                state.idle.remove(&t);
            }
            if state.origins.get(key).is_some_and(Origin::is_empty) {
                state.origins.remove(key);
            }
        }
    }

    fn clone_dyn(&self) -> Arc<dyn Checkin> {
        self.shared.clone()
    }
}

/// A stream's share of an HTTP/2 connection.
struct H2Handle {
    sender: http2::SendRequest<RequestBody>,
    ended: CancellationToken,
    id: u64,
    answered: Arc<AtomicBool>,
    /// What the response will say of its connection.
    info: ConnInfo,
}

/// A connection just set up: its sender (with, for HTTP/1.1, whether it
/// goes to an HTTP proxy in absolute form; for HTTP/2, the SETTINGS watch)
/// and what its first response will say of it.
enum Made {
    /// The sender, what tells when the connection's task ends, whether the
    /// connection goes through a proxy, and what it is.
    H1(
        http1::SendRequest<RequestBody>,
        Arc<TaskEnd>,
        bool,
        ConnInfo,
    ),
    H2(http2::SendRequest<RequestBody>, Settings, ConnInfo),
}

/// What the pool learns from a connection's [`SettingsWatch`].
struct Settings {
    max_streams: Arc<AtomicU32>,
    last_read: Arc<AtomicU64>,
    going_away: Arc<AtomicBool>,
    /// Fires at the first SETTINGS frame (dropped unfired if the connection
    /// closes first).
    seen: tokio::sync::oneshot::Receiver<()>,
    /// Cancelled when the connection's task has ended.
    ended: CancellationToken,
}

enum SendError {
    /// Not a byte was written: the request may go on another connection.
    Unsent(Box<Request<RequestBody>>),
    Failed(PoolError),
}
use SendError::{Failed, Unsent};

/// A send that failed: `Unsent` with the request if no byte of it was
/// written, else `Failed`.
fn unsent_or_failed(
    mut e: hyper::client::conn::TrySendError<Request<RequestBody>>,
    reused: bool,
) -> SendError {
    match e.take_message() {
        Some(back) => Unsent(Box::new(back)),
        None => Failed(PoolError {
            connect: false,
            reused,
            source: Box::new(e.into_error()),
        }),
    }
}

fn restore_uri(mut req: Request<RequestBody>, uri: &Uri) -> Request<RequestBody> {
    *req.uri_mut() = uri.clone();
    req
}

/// Whether an HTTP/2 request error ended the whole connection.
fn connection_gone(err: &hyper::Error) -> bool {
    if err.is_closed() || err.is_canceled() {
        return true;
    }
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = next {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_go_away() || h2.is_io();
        }
        next = e.source();
    }
    false
}

/// `Host` from the URI's authority without userinfo, the port only when it
/// is not the scheme's default (RFC 9110 sec. 7.2).
fn host_header(uri: &Uri) -> HeaderValue {
    let host = uri.host().unwrap_or_default();
    let value = match uri.port_u16() {
        Some(p) if p != super::default_port(uri.scheme_str()) => format!("{host}:{p}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request target in origin-form (RFC 9112 sec. 3.2.1): path and query.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(p) if p.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(p.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    }
}

/// Tells the request on an HTTP/1.1 connection that the connection's task
/// has ended. One request uses a connection at a time, so one waker slot
/// serves (an atomic one: cheaper per request than a channel or a token).
#[derive(Debug, Default)]
struct TaskEnd {
    ended: AtomicBool,
    waker: AtomicWaker,
}

impl TaskEnd {
    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// A connection's byte stream with its permit of the pool's socket
/// semaphore, and for HTTP/2 a watch on the server's SETTINGS frames.
struct Permitted<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
    settings: Option<SettingsWatch>,
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Permitted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let Some(watch) = &mut this.settings else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        // Read into the cursor's memory through a buffer of our own, so the
        // bytes can be looked at before they are handed on.
        // SAFETY: `inner` only writes initialised bytes into the slice and
        // reports how many through `filled`; the cursor is advanced by exactly
        // that many, all of which were written.
        let n = unsafe {
            let mut inner = hyper::rt::ReadBuf::uninit(buf.as_mut());
            match Pin::new(&mut this.io).poll_read(cx, inner.unfilled()) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let filled = inner.filled();
            watch.scan(filled);
            filled.len()
        };
        // SAFETY: see above: the first `n` bytes were written by `inner`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

/// Follows the HTTP/2 frames a server sends (RFC 9113 sec. 4.1: a 9-octet
/// header with a 24-bit length, then the payload) and records
/// SETTINGS_MAX_CONCURRENT_STREAMS (identifier 0x3, sec. 6.5.2) from each
/// SETTINGS frame (type 0x4). hyper keeps the value to itself; the pool needs
/// it to know when a connection's streams are all taken.
struct SettingsWatch {
    max_streams: Arc<AtomicU32>,
    /// When the server last sent anything ([`now_nanos`]).
    last_read: Arc<AtomicU64>,
    /// Set at the server's first GOAWAY frame (type 0x7).
    going_away: Arc<AtomicBool>,
    first: Option<tokio::sync::oneshot::Sender<()>>,
    /// Octets of the current frame header seen so far.
    header: [u8; 9],
    header_len: usize,
    /// Payload octets of the current frame still to come.
    payload_left: usize,
    /// Whether the current frame is SETTINGS.
    in_settings: bool,
    /// Octets of the current SETTINGS parameter seen so far (6 each).
    param: [u8; 6],
    param_len: usize,
}

impl SettingsWatch {
    fn new() -> (SettingsWatch, Settings) {
        let max_streams = Arc::new(AtomicU32::new(u32::MAX));
        let last_read = Arc::new(AtomicU64::new(now_nanos()));
        let going_away = Arc::new(AtomicBool::new(false));
        let (tx, seen) = tokio::sync::oneshot::channel();
        let watch = SettingsWatch {
            max_streams: max_streams.clone(),
            last_read: last_read.clone(),
            going_away: going_away.clone(),
            first: Some(tx),
            header: [0; 9],
            header_len: 0,
            payload_left: 0,
            in_settings: false,
            param: [0; 6],
            param_len: 0,
        };
        (
            watch,
            Settings {
                max_streams,
                last_read,
                going_away,
                seen,
                ended: CancellationToken::new(),
            },
        )
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        if !bytes.is_empty() {
            self.last_read.store(now_nanos(), Ordering::Relaxed);
        }
        while !bytes.is_empty() {
            if self.payload_left == 0 {
                let take = (9 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&bytes[..take]);
                self.header_len += take;
                bytes = &bytes[take..];
                if self.header_len == 9 {
                    let h = self.header;
                    self.header_len = 0;
                    self.payload_left =
                        usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    self.in_settings = h[3] == 0x4;
                    if h[3] == 0x7 {
                        self.going_away.store(true, Ordering::Relaxed);
                    }
                    self.param_len = 0;
                    if self.in_settings && self.payload_left == 0 && h[4] & 0x1 == 0 {
                        if let Some(first) = self.first.take() {
                            let _ = first.send(());
                        }
                    }
                }
                continue;
            }
            let take = self.payload_left.min(bytes.len());
            if self.in_settings {
                for &b in &bytes[..take] {
                    self.param[self.param_len] = b;
                    self.param_len += 1;
                    if self.param_len == 6 {
                        self.param_len = 0;
                        let id = u16::from_be_bytes([self.param[0], self.param[1]]);
                        if id == 0x3 {
                            let v = u32::from_be_bytes([
                                self.param[2],
                                self.param[3],
                                self.param[4],
                                self.param[5],
                            ]);
                            // A limit of 0 would leave the connection unusable;
                            // count it as 1 so requests still queue on it.
                            self.max_streams.store(v.max(1), Ordering::Relaxed);
                        }
                    }
                }
            }
            self.payload_left -= take;
            bytes = &bytes[take..];
            if self.in_settings && self.payload_left == 0 {
                if let Some(first) = self.first.take() {
                    let _ = first.send(());
                }
            }
        }
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Permitted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// Tells the requests waiting for a connection set-up how it ended; dropped
/// unfinished (the request setting it up was cancelled or timed out), it
/// clears the set-up so that a waiter starts another.
struct Announce<'a, C> {
    pool: &'a Pool<C>,
    key: &'a Key,
    n: u64,
    tx: Option<watch::Sender<Outcome>>,
}

impl<C> Announce<'_, C> {
    fn finish(&mut self, outcome: Result<(), SharedError>) {
        self.clear();
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Some(outcome));
        }
    }

    fn clear(&mut self) {
        let mut state = self.pool.shared.state.lock().expect("pool lock");
        if let Some(origin) = state.origins.get_mut(self.key) {
            if origin
                .connecting
                .as_ref()
                .is_some_and(|(n, _)| *n == self.n)
            {
                origin.connecting = None;
            }
            if origin.is_empty() && origin.learnt.is_none() {
                state.origins.remove(self.key);
            }
        }
    }
}

impl<C> Drop for Announce<'_, C> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // Dropping the sender wakes the waiters with an error: they look
            // at the pool again.
            self.clear();
            self.tx = None;
        }
    }
}

/// Returning a connection to the pool once its response is done.
trait Checkin: Send + Sync {
    /// An HTTP/1.1 request is done; `Some` gives its connection back.
    /// `returning`: it had been counted in `Origin::h1_returning`.
    fn h1_done(&self, key: Key, conn: Option<H1Idle>, returning: bool);
    /// An HTTP/1.1 connection whose response is read will be back soon.
    fn h1_returning(&self, key: &Key);
    fn h2_done(&self, key: &Key, id: u64);
}

impl<C: Send + Sync> Checkin for PoolState<C> {
    fn h1_returning(&self, key: &Key) {
        let mut state = self.state.lock().expect("pool lock");
        if let Some(origin) = state.origins.get_mut(key) {
            origin.h1_returning += 1;
        }
    }

    fn h1_done(&self, key: Key, conn: Option<H1Idle>, returning: bool) {
        let mut guard = self.state.lock().expect("pool lock");
        let state = &mut *guard;
        let tick = state.next_tick();
        let Some(origin) = state.origins.get_mut(&key) else {
            return;
        };
        origin.h1_busy = origin.h1_busy.saturating_sub(1);
        if returning {
            origin.h1_returning = origin.h1_returning.saturating_sub(1);
            // Every waiter looks again: one takes the connection if it came
            // back usable, the others wait for the next or open their own.
            // Waking only one would leave the rest waiting for a return
            // that may never come once `h1_returning` is 0.
            if let Some(n) = &origin.returned {
                n.notify_waiters();
            }
        }
        match conn {
            Some(mut conn) if conn.sender.is_ready() && self.options.idle_cap > 0 => {
                conn.since = Instant::now();
                conn.tick = tick;
                state.idle.insert(tick, (key, conn.id));
                origin.h1_idle.push(conn);
                state.evict_over(self.options.idle_cap);
            }
            _ => {
                if origin.is_empty() {
                    state.origins.remove(&key);
                }
            }
        }
    }

    fn h2_done(&self, key: &Key, id: u64) {
        let mut state = self.state.lock().expect("pool lock");
        let tick = state.next_tick();
        let Some(origin) = state.origins.get_mut(key) else {
            return;
        };
        let Some(conn) = origin.h2.iter_mut().find(|c| c.id == id) else {
            return;
        };
        conn.streams = conn.streams.saturating_sub(1);
        if conn.streams > 0 {
            return;
        }
        if conn.sender.is_closed() {
            origin.h2.retain(|c| c.id != id);
            if origin.is_empty() {
                state.origins.remove(key);
            }
            return;
        }
        conn.idle_since = Some((tick, Instant::now()));
        state.idle.insert(tick, (key.clone(), id));
        state.evict_over(self.options.idle_cap);
    }
}

/// Holds a connection while its response body is read.
enum Lease {
    H1 {
        pool: Arc<dyn Checkin>,
        key: Key,
        conn: Option<H1Idle>,
        /// The response body was read to its end: only then may the
        /// connection carry another request.
        ended: bool,
    },
    H2 {
        pool: Arc<dyn Checkin>,
        key: Key,
        id: u64,
    },
}

impl Drop for Lease {
    fn drop(&mut self) {
        match self {
            Lease::H1 {
                pool,
                key,
                conn,
                ended,
            } => {
                // A body dropped before its end leaves the connection
                // mid-response: hyper would have to read the rest (perhaps
                // never), so it is closed instead of reused.
                let conn = conn.take().filter(|_| *ended);
                match conn {
                    Some(mut conn) if !conn.sender.is_ready() && !conn.sender.is_closed() => {
                        // The connection takes its next request once hyper has
                        // seen the end of this response; wait for that.
                        let pool = pool.clone();
                        let key = key.clone();
                        match tokio::runtime::Handle::try_current() {
                            Ok(rt) => {
                                pool.h1_returning(&key);
                                rt.spawn(async move {
                                    let ready =
                                        tokio::time::timeout(RETURN_WAIT, conn.sender.ready())
                                            .await;
                                    let ready = matches!(ready, Ok(Ok(())));
                                    pool.h1_done(key, ready.then_some(conn), true);
                                });
                            }
                            Err(_) => pool.h1_done(key, None, false),
                        }
                    }
                    conn => pool.h1_done(key.clone(), conn, false),
                }
            }
            Lease::H2 { pool, key, id } => pool.h2_done(key, *id),
        }
    }
}

/// A response body that holds its connection's place in the pool: the
/// connection goes back (HTTP/1.1, if the body was read to its end) or its
/// stream count drops (HTTP/2) when the body is dropped.
pub struct PoolBody {
    body: Incoming,
    _lease: Lease,
    info: ConnInfo,
}

impl PoolBody {
    /// What the connection that carried this response was.
    pub fn conn_info(&self) -> ConnInfo {
        self.info
    }
}

impl Drop for PoolBody {
    fn drop(&mut self) {
        if self.body.is_end_stream() {
            if let Lease::H1 { ended, .. } = &mut self._lease {
                *ended = true;
            }
        }
    }
}

impl std::fmt::Debug for PoolBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBody").finish_non_exhaustive()
    }
}

impl Body for PoolBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let (Poll::Ready(None), Lease::H1 { ended, .. }) = (&polled, &mut self._lease) {
            *ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request's task holds this future; connection set-up is boxed so
    /// that its handshake futures do not make it several times larger (moving
    /// big futures showed up as memmove in profiles of 20,000-URL runs).
    #[test]
    fn a_request_future_stays_small() {
        fn size<F: std::future::Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _entered = rt.enter();
        let client = crate::http::build_client(4, &Default::default(), &Default::default());
        let f = client.request(http::Request::new(RequestBody::default()), false);
        assert!(size(&f) <= 4096, "{} bytes", size(&f));
    }

    /// SETTINGS_MAX_CONCURRENT_STREAMS is found whatever the read boundaries:
    /// a DATA frame, then SETTINGS (ENABLE_PUSH=0, MAX_CONCURRENT_STREAMS=7),
    /// then a SETTINGS ACK and another SETTINGS lowering it to 3.
    #[test]
    fn settings_watch_follows_frames_across_reads() {
        let mut wire = vec![0, 0, 3, 0x0, 0, 0, 0, 0, 1, b'a', b'b', b'c'];
        wire.extend([0, 0, 12, 0x4, 0, 0, 0, 0, 0]);
        wire.extend([0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 7]);
        let first = wire.len();
        wire.extend([0, 0, 0, 0x4, 1, 0, 0, 0, 0]);
        wire.extend([0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3]);
        for cut in 0..first {
            let (mut watch, mut settings) = SettingsWatch::new();
            watch.scan(&wire[..cut]);
            assert!(settings.seen.try_recv().is_err(), "cut {cut}");
            watch.scan(&wire[cut..first]);
            assert_eq!(settings.max_streams.load(Ordering::Relaxed), 7, "cut {cut}");
            assert!(settings.seen.try_recv().is_ok(), "cut {cut}");
            for chunk in wire[first..].chunks(cut.max(1)) {
                watch.scan(chunk);
            }
            assert_eq!(settings.max_streams.load(Ordering::Relaxed), 3, "cut {cut}");
        }
    }

    /// A GOAWAY frame (type 0x7), even split across reads, marks the
    /// connection as going away; other frames, a GOAWAY-looking payload
    /// byte included, do not.
    #[test]
    fn settings_watch_notes_goaway() {
        // A DATA frame whose payload holds 0x7 bytes, then a GOAWAY (last
        // stream id 5, NO_ERROR).
        let mut wire = vec![0, 0, 9, 0x0, 0, 0, 0, 0, 1, 0, 0, 9, 0x7, 0, 0, 0, 0, 0];
        let before = wire.len();
        wire.extend([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]);
        for cut in 0..wire.len() {
            let (mut watch, settings) = SettingsWatch::new();
            watch.scan(&wire[..cut]);
            let header_done = cut >= before + 9;
            assert_eq!(
                settings.going_away.load(Ordering::Relaxed),
                header_done,
                "cut {cut}"
            );
            watch.scan(&wire[cut..]);
            assert!(settings.going_away.load(Ordering::Relaxed), "cut {cut}");
        }
    }

    /// A connector that counts its calls and fails each once `waiters`
    /// requests wait for it (so every request really did arrive meanwhile).
    #[derive(Clone)]
    struct Refusing {
        calls: Arc<AtomicU64>,
        stats: Arc<PoolStats>,
        waiters: u64,
    }

    /// Never made: [`Refusing`] fails every call.
    struct NoIo;

    impl hyper::rt::Read for NoIo {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: hyper::rt::ReadBufCursor<'_>,
        ) -> Poll<std::io::Result<()>> {
            unreachable!("never connected")
        }
    }

    impl hyper::rt::Write for NoIo {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            unreachable!("never connected")
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            unreachable!("never connected")
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            unreachable!("never connected")
        }
    }

    impl Connection for NoIo {
        fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
            hyper_util::client::legacy::connect::Connected::new()
        }
    }

    impl Service<Uri> for Refusing {
        type Response = NoIo;
        type Error = BoxError;
        type Future = Pin<Box<dyn std::future::Future<Output = Result<NoIo, BoxError>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Uri) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let (stats, waiters) = (self.stats.clone(), self.waiters);
            Box::pin(async move {
                let deadline = Instant::now() + Duration::from_secs(10);
                while stats.waited_for_connect.load(Ordering::SeqCst) < waiters
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err::<NoIo, BoxError>("connection refused".into())
            })
        }
    }

    /// Concurrent requests to a dead HTTP/1.1 origin share its first
    /// connection attempt and its error: one attempt, not one per request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_origin_costs_one_attempt() {
        let calls = Arc::new(AtomicU64::new(0));
        let stats = Arc::new(PoolStats::default());
        let refusing = Refusing {
            calls: calls.clone(),
            stats: stats.clone(),
            waiters: 49,
        };
        let options = PoolOptions {
            idle_cap: 4,
            max_headers: 100,
            http2_only: false,
            http1_only: true,
            socket_cap: 64,
        };
        let pool = Pool::new(refusing, options, stats);
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let req = Request::get(format!("http://dead.test/{i}"))
                        .body(RequestBody::default())
                        .unwrap();
                    pool.send(req, false).await
                })
            })
            .collect();
        for t in tasks {
            let e = t.await.unwrap().expect_err("nothing listens");
            assert!(e.is_connect());
            assert!(crate::http::classify::chain(&e).any(|e| e.to_string() == "connection refused"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn host_header_and_origin_form() {
        let uri: Uri = "http://Example.test:8080/a/b?q=1".parse().unwrap();
        assert_eq!(host_header(&uri), "Example.test:8080");
        assert_eq!(origin_form(&uri), "/a/b?q=1");
        let uri: Uri = "https://[::1]:443/".parse().unwrap();
        assert_eq!(host_header(&uri), "[::1]");
        assert_eq!(origin_form(&uri), "/");
    }
}
