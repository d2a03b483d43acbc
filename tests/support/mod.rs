//! What the integration tests share: one raw-TCP server ([`RawServer`]),
//! one HTTP server ([`Server`], plain or behind TLS), the proxies, and one
//! way to run the binary ([`Cmd`], [`run`]) whose output is parsed into typed
//! [`Record`]s and a [`Summary`] after checking them against the JSON Schemas
//! of `schema/` ([`schema`]).
//!
//! Every server binds `127.0.0.1:0`, runs on its own thread with its own
//! tokio runtime, and stops when dropped. No test contacts another address:
//! host names in test input are IP literals, `localhost` names, `.invalid`
//! names (which never resolve, RFC 6761), or names given with `--resolve` or
//! resolved by a test proxy.

mod background;
mod http;
mod proxy;
mod pty;
mod raw;
mod record;
mod run;
pub mod schema;
mod tls;

pub use http::{Fixed, Seen, Server, COND_DATE};
pub use proxy::{HttpMode, HttpProxy, SocksDest, SocksMode, SocksProxy, SocksSeen};
pub use pty::{pty, read_terminal, set_size, watch_terminal};
pub use raw::{ok, RawServer, Reply, Request};
pub use record::{by_url, counts, error_kinds, exact, parse_lines, Kind, Record, Summary};
pub use run::{lines, run, Cmd, Run, Running};
pub use tls::{closing_handshake, stalling_handshake, Leaf, Options, Pki};

/// A loopback port with nothing listening on it (bound, then closed).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A fresh directory for one test's files under Cargo's test scratch space.
pub fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
