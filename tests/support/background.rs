//! The plumbing under every test server: a listener on `127.0.0.1:0` served
//! on a thread of its own with its own tokio runtime, so it serves a
//! subprocess and a `#[tokio::test]` alike.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A connection handler's future.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a [`Background`] listener does with each accepted connection.
pub type ConnFn = Arc<dyn Fn(TcpStream) -> BoxFuture + Send + Sync>;

/// Connections accepted and open, counted by the accept loop.
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
    peak_open: AtomicUsize,
}

/// A listener on `127.0.0.1:0`; every accepted connection is counted, then
/// handed to `on_conn` in a task of its own. Dropping it shuts the runtime
/// down, which drops every connection.
pub struct Background {
    pub addr: SocketAddr,
    /// Written by the accept loop and the connection tasks; read by the test.
    counts: Arc<Counts>,
    /// Taken on drop to end the accept loop.
    stop: Option<oneshot::Sender<()>>,
    /// Joined on drop, after `stop`.
    thread: Option<JoinHandle<()>>,
}

impl Background {
    pub fn start(on_conn: ConnFn) -> Background {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
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
                            c.accepted.fetch_add(1, Ordering::SeqCst);
                            let now = c.open.fetch_add(1, Ordering::SeqCst) + 1;
                            c.peak_open.fetch_max(now, Ordering::SeqCst);
                            let (c, conn) = (c.clone(), on_conn(stream));
                            tokio::spawn(async move {
                                conn.await;
                                c.open.fetch_sub(1, Ordering::SeqCst);
                            });
                        }
                    }
                }
            });
            // Dropping the runtime drops every connection task and socket.
            rt.shutdown_background();
        });
        Background {
            addr,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `SCHEME://127.0.0.1:PORT` + `path`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// The most connections that were open (accepted, handler not yet
    /// finished) at the same moment.
    pub fn peak_open(&self) -> usize {
        self.counts.peak_open.load(Ordering::SeqCst)
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
