//! Helpers for the TLS tests: a test PKI made with rcgen at test time, an
//! in-process HTTPS server (tokio-rustls + hyper-util's `auto` builder), and a
//! raw TCP server that stalls in the middle of the TLS handshake.
//!
//! Like the servers in `integration/util.rs`, each listens on `127.0.0.1:0`,
//! runs on its own thread with its own tokio runtime, and stops when dropped.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::util::{Background, ConnFn};

// ---------------------------------------------------------------------------
// The test PKI.

/// Which server certificate to make.
#[derive(Debug, Clone, Copy)]
pub enum Leaf {
    /// Issued by the test CA for `example.test`, `127.0.0.1` and `::1`; valid now.
    Good,
    /// As `Good`, but valid only during 2000.
    Expired,
    /// As `Good`, but valid only from 2090 on.
    NotYetValid,
    /// Issued by the test CA for `other.test` only.
    OtherName,
    /// For `example.test` and `127.0.0.1`, valid now, but signed by its own key.
    SelfSigned,
}

/// A server certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// A test certificate authority, made fresh for each test, whose certificate
/// is written (PEM) to a directory of its own under Cargo's target tmp dir.
/// The directory is removed on drop.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "fetcher-stream test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { ca, dir }
    }

    /// The path of the CA certificate (PEM), for `--cacert`.
    pub fn ca_pem(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// A server certificate of the given kind, with a new key.
    pub fn leaf(&self, kind: Leaf) -> Identity {
        let names: &[&str] = match kind {
            Leaf::OtherName => &["other.test"],
            Leaf::SelfSigned => &["example.test", "127.0.0.1"],
            _ => &["example.test", "127.0.0.1", "::1"],
        };
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].to_string());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        match kind {
            Leaf::Expired => {
                params.not_before = rcgen::date_time_ymd(2000, 1, 1);
                params.not_after = rcgen::date_time_ymd(2001, 1, 1);
            }
            Leaf::NotYetValid => {
                params.not_before = rcgen::date_time_ymd(2090, 1, 1);
                params.not_after = rcgen::date_time_ymd(2095, 1, 1);
            }
            _ => {}
        }
        let key = KeyPair::generate().unwrap();
        let cert = match kind {
            Leaf::SelfSigned => params.self_signed(&key).unwrap(),
            _ => params.signed_by(&key, &self.ca).unwrap(),
        };
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Server plumbing.

// ---------------------------------------------------------------------------
// The HTTPS server.

/// What the HTTPS server offers and how it ends connections.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Offer `h2` by ALPN (and `http/1.1`); `false` offers `http/1.1` only.
    pub h2: bool,
    /// Shut each connection down gracefully (HTTP/2 GOAWAY) once it has
    /// received this many requests; `None` keeps connections open.
    pub goaway_after: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            h2: true,
            goaway_after: None,
        }
    }
}

#[derive(Default)]
struct Stats {
    /// TLS handshakes that completed.
    handshakes: AtomicUsize,
    /// Requests handled, over all connections.
    requests: AtomicUsize,
    /// Requests handled on each connection that completed a handshake, in
    /// handshake order.
    per_conn: Mutex<Vec<Arc<AtomicUsize>>>,
}

/// An HTTPS server (HTTP/1.1 and, by ALPN, HTTP/2) with two routes:
/// `/bytes/N` answers 200 with an N-byte body; anything else 200 `ok`.
pub struct TlsServer {
    stats: Arc<Stats>,
    bg: Background,
}

impl TlsServer {
    pub fn start(identity: Identity, options: Options) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(identity.chain, identity.key)
            .expect("server certificate and key");
        config.alpn_protocols = if options.h2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let stats = Arc::new(Stats::default());
        let st = stats.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let acceptor = acceptor.clone();
            let st = st.clone();
            Box::pin(async move {
                // A client that rejects the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                st.handshakes.fetch_add(1, Ordering::SeqCst);
                serve(tls, st, options.goaway_after).await;
            })
        });
        TlsServer {
            stats,
            bg: Background::start(on_conn),
        }
    }

    pub fn port(&self) -> u16 {
        self.bg.addr.port()
    }

    /// `https://HOST:PORT` + `path`, for a host name given with `--resolve`.
    pub fn url_for(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port())
    }

    /// The `--resolve` value sending `host` at this port to 127.0.0.1.
    pub fn resolve(&self, host: &str) -> String {
        format!("{host}:{}:127.0.0.1", self.port())
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.bg.accepted()
    }

    /// TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.stats.handshakes.load(Ordering::SeqCst)
    }

    /// Requests handled.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// Requests handled on each connection, in handshake order.
    pub fn requests_per_connection(&self) -> Vec<usize> {
        self.stats
            .per_conn
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }
}

/// Serves one TLS connection with hyper-util's `auto` builder (HTTP/1.1 or
/// HTTP/2 by the client's preface), calling `graceful_shutdown` once
/// `goaway_after` requests have arrived on it.
async fn serve(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    stats: Arc<Stats>,
    goaway_after: Option<usize>,
) {
    let on_this = Arc::new(AtomicUsize::new(0));
    stats.per_conn.lock().unwrap().push(on_this.clone());
    let limit_reached = Arc::new(Notify::new());
    let notify = limit_reached.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let n = on_this.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(n) == goaway_after {
            notify.notify_one();
        }
        async move { Ok::<_, Infallible>(answer(&req)) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(tls), svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = limit_reached.notified() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

fn answer(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match req.uri().path().strip_prefix("/bytes/") {
        Some(n) => vec![b'x'; n.parse().expect("/bytes/N")],
        None => b"ok".to_vec(),
    };
    Response::new(Full::new(Bytes::from(body)))
}

// ---------------------------------------------------------------------------
// A server that stalls the handshake.

/// Accepts TCP connections, reads the ClientHello, and never answers.
pub struct StallServer {
    hellos: Arc<AtomicUsize>,
    bg: Background,
}

impl StallServer {
    pub fn start() -> StallServer {
        let hellos = Arc::new(AtomicUsize::new(0));
        let count = hellos.clone();
        let on_conn: ConnFn = Arc::new(move |mut stream| {
            let count = count.clone();
            Box::pin(async move {
                let mut buf = [0u8; 4096];
                // A TLS record starts with content type 22 (handshake).
                if let Ok(n) = stream.read(&mut buf).await {
                    if n > 0 && buf[0] == 22 {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::future::pending::<()>().await;
                drop(stream);
            })
        });
        StallServer {
            hellos,
            bg: Background::start(on_conn),
        }
    }

    pub fn port(&self) -> u16 {
        self.bg.addr.port()
    }

    /// Connections whose first bytes were a TLS handshake record.
    pub fn client_hellos(&self) -> usize {
        self.hellos.load(Ordering::SeqCst)
    }
}
