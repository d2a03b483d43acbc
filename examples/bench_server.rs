//! A small loopback HTTP server for benchmarks (`bench/run.sh`), not for tests.
//!
//! Routes (any further path segments or query are ignored, so URLs can be
//! made distinct): `/bytes/N` answers N bytes; `/delay/MS` answers 2 bytes after
//! MS milliseconds; `/endless` answers a body that never ends (16 KiB chunks,
//! no `Content-Length`), for memory checks; anything else answers `ok`.
//!
//! ```text
//! cargo run --release --example bench_server -- [--port P] [--tls CERT.pem KEY.pem] [--http1-only]
//! ```
//! With `--tls` it speaks HTTPS, offering `h2` and `http/1.1` by ALPN
//! (`--http1-only`: only `http/1.1`, so clients that follow ALPN use HTTP/1.1). It
//! prints `listening on ADDR` once ready. It runs a single-threaded runtime, so
//! pinning it to one core (`taskset -c 0`) gives it exactly that core.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// The bytes served by `/bytes/N`, shared so a large N costs no allocation.
static ZEROS: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// The size of each chunk of `/endless`.
const ENDLESS_CHUNK: usize = 16 * 1024;

type Body = BoxBody<Bytes, Infallible>;

/// Sleeps for `d`, to within about 0.1 ms. tokio's timer has 1 ms ticks and
/// rounds deadlines up, so a plain `sleep(50 ms)` answered after about
/// 51.5 ms (measured), which put a 1.03 s floor under W2's 1.00 s ideal for
/// every client. The last 2 ms are waited out by yielding to the scheduler,
/// which keeps serving other connections meanwhile.
async fn precise_sleep(d: Duration) {
    let deadline = std::time::Instant::now() + d;
    if let Some(coarse) = d.checked_sub(Duration::from_millis(2)) {
        tokio::time::sleep(coarse).await;
    }
    while std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut parts = req.uri().path().split('/').skip(1);
    if req.uri().path().starts_with("/endless") {
        let chunks = futures::stream::repeat_with(|| {
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(&ZEROS[..ENDLESS_CHUNK])))
        });
        return Ok(Response::new(StreamBody::new(chunks).boxed()));
    }
    let body = match (
        parts.next(),
        parts.next().and_then(|n| n.parse::<u64>().ok()),
    ) {
        (Some("bytes"), Some(n)) => {
            let n = n.min(ZEROS.len() as u64) as usize;
            Bytes::from_static(&ZEROS[..n])
        }
        (Some("delay"), Some(ms)) => {
            precise_sleep(Duration::from_millis(ms)).await;
            Bytes::from_static(b"ok")
        }
        _ => Bytes::from_static(b"ok"),
    };
    Ok(Response::new(Full::new(body).boxed()))
}

fn tls_acceptor(cert: &str, key: &str, http1_only: bool) -> tokio_rustls::TlsAcceptor {
    let certs = CertificateDer::pem_file_iter(cert)
        .expect("read certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("parse certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("read key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("certificate and key match");
    config.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut port = 0u16;
    let mut tls_files = None;
    let mut http1_only = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--port" => {
                port = args[i + 1].parse().expect("--port N");
                i += 2;
            }
            "--tls" => {
                tls_files = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            }
            "--http1-only" => {
                http1_only = true;
                i += 1;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let tls = tls_files.map(|(cert, key)| tls_acceptor(&cert, &key, http1_only));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(s), service_fn(handle))
                                .await;
                        }
                    }
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service_fn(handle))
                            .await;
                    }
                }
            });
        }
    });
}
