//! What a response's connection was: its peer address, whether the pool
//! already held it, and for a new one how long each phase of its set-up
//! took (name lookup, TCP connect, TLS handshake), as curl's `-w` variables
//! `remote_ip`, `num_connects`, `time_namelookup`, `time_connect` and
//! `time_appconnect` tell.
//!
//! The phases are measured where they happen: the connector
//! ([`super::connect`]) times its whole set-up and, through
//! [`time_lookups`], the lookups the resolver made for it, and reports both
//! with the peer's address as an [`Established`] in hyper-util's
//! `Connected` extras; the pool times the rest of the connector stack (the
//! TLS handshake), and hands each response a [`ConnInfo`].

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How the connection that carried a response came to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnInfo {
    /// The peer of the connection: the origin server, or the proxy the
    /// connection goes through. `None` when the connector could not tell.
    pub remote_addr: Option<SocketAddr>,
    /// The request went over a connection the pool already held (an idle
    /// HTTP/1.1 connection, or a stream of an open HTTP/2 connection) rather
    /// than one opened for it; then `phases` is `None`.
    pub reused: bool,
    /// The set-up of the connection opened for this request; `None` when
    /// `reused`.
    pub phases: Option<Phases>,
}

/// How long the set-up of a new connection took, phase by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Time in name lookups by the resolver (the target's and, through a
    /// proxy, the proxy's), cached answers included; `None` when no name
    /// went to the resolver: an IP address, a `--resolve` entry, or a name
    /// the resolver answers without a query (`localhost`, `*.localhost`,
    /// RFC 6761 sec. 6.3).
    pub dns: Option<Duration>,
    /// From the end of the lookups to the byte stream being ready: the TCP
    /// connect (Happy Eyeballs included) to the server or its proxy, and
    /// through a proxy the `CONNECT` tunnel or SOCKS5 handshake.
    pub connect: Duration,
    /// The TLS handshake (https only), up to the server's `Finished`.
    pub tls: Option<Duration>,
}

/// What the connector reports on a byte stream it set up (in hyper-util's
/// `Connected` extras).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Established {
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
    /// Time in name lookups, if any.
    pub dns: Option<Duration>,
    /// The rest of the set-up, up to `ready`.
    pub connect: Duration,
    /// When the byte stream (TCP, or the tunnel) was ready.
    pub ready: Instant,
}

impl Established {
    /// Reads what the connector reported on a connection, if anything.
    pub(crate) fn of(connected: &hyper_util::client::legacy::connect::Connected) -> Option<Self> {
        let mut extensions = http::Extensions::new();
        connected.get_extras(&mut extensions);
        extensions.get::<Established>().copied()
    }
}

tokio::task_local! {
    /// Time spent in name lookups by the connection set-up being polled.
    static LOOKUPS: Cell<Option<Duration>>;
}

/// Runs `setup` (a connection's set-up) and returns its output with the time
/// its name lookups took ([`timed_lookup`]), `None` if it made none.
pub(crate) async fn time_lookups<F: Future>(setup: F) -> (F::Output, Option<Duration>) {
    LOOKUPS
        .scope(Cell::new(None), async {
            let out = setup.await;
            (out, LOOKUPS.with(Cell::get))
        })
        .await
}

/// Runs `lookup` and adds its time to the set-up being timed by
/// [`time_lookups`], if any (a lookup made outside a timed set-up is not
/// counted anywhere).
pub(crate) async fn timed_lookup<F: Future>(lookup: F) -> F::Output {
    let started = Instant::now();
    let out = lookup.await;
    let took = started.elapsed();
    let _ = LOOKUPS.try_with(|total| total.set(Some(total.get().unwrap_or_default() + took)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lookups_add_up_inside_a_timed_setup_only() {
        let sleep = || tokio::time::sleep(Duration::from_millis(5));
        let ((), none) = time_lookups(sleep()).await;
        assert_eq!(none, None);
        let ((), two) = time_lookups(async {
            timed_lookup(sleep()).await;
            timed_lookup(sleep()).await;
        })
        .await;
        assert!(two.unwrap() >= Duration::from_millis(10), "{two:?}");
        // Outside a timed set-up, a lookup is simply run.
        timed_lookup(sleep()).await;
    }
}
