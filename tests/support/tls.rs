//! TLS for the tests: a test PKI made with rcgen at test time, the HTTP test
//! server behind TLS (tokio-rustls), and a raw server that stalls in the
//! middle of the TLS handshake.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio_rustls::TlsAcceptor;

use super::http::{Server, Tls};
use super::raw::{Head, RawServer};

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
    /// As `SelfSigned`, but marked as a CA (`basicConstraints CA:TRUE`), as
    /// `openssl req -x509` makes a certificate by default.
    SelfSignedCa,
    /// As `SelfSignedCa`, but valid only during 2000.
    ExpiredSelfSignedCa,
}

/// A server certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The server's own certificate (the first of `chain`), PEM.
    pub pem: String,
}

/// A test certificate authority, made fresh for each test, whose certificate
/// is written (PEM) to a directory of its own under Cargo's target tmp dir.
/// The directory is removed on drop.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl Pki {
    /// A new CA, its certificate written to a directory of its own.
    pub fn generate() -> Pki {
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

    /// Writes `identity`'s own certificate (PEM) to `name` in this PKI's
    /// directory and returns the path, for `--cacert`.
    pub fn write_pem(&self, name: &str, identity: &Identity) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, &identity.pem).unwrap();
        path.display().to_string()
    }

    /// A server certificate of the given kind, with a new key.
    pub fn leaf(&self, kind: Leaf) -> Identity {
        let names: &[&str] = match kind {
            Leaf::OtherName => &["other.test"],
            Leaf::SelfSigned | Leaf::SelfSignedCa | Leaf::ExpiredSelfSignedCa => {
                &["example.test", "127.0.0.1"]
            }
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
        if matches!(kind, Leaf::SelfSignedCa | Leaf::ExpiredSelfSignedCa) {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        match kind {
            Leaf::Expired | Leaf::ExpiredSelfSignedCa => {
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
            Leaf::SelfSigned | Leaf::SelfSignedCa | Leaf::ExpiredSelfSignedCa => {
                params.self_signed(&key).unwrap()
            }
            _ => params.signed_by(&key, &self.ca).unwrap(),
        };
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem: cert.pem(),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

impl Server {
    /// The HTTP test server behind TLS with `identity`'s certificate.
    pub fn https(identity: Identity, options: Options) -> Server {
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
        let tls = Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            goaway_after: options.goaway_after,
        };
        Server::launch(Vec::new(), Some(tls))
    }

    /// `https://HOST:PORT` + `path`, for a host name given with `--resolve`.
    pub fn url_for(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port())
    }

    /// The `--resolve` value sending `host` at this port to 127.0.0.1.
    pub fn resolve(&self, host: &str) -> String {
        format!("{host}:{}:127.0.0.1", self.port())
    }
}

/// A raw server that reads the first bytes of each connection, records them
/// as a head when they are a TLS handshake record (a ClientHello), and never
/// answers: `requests()` counts the ClientHellos.
/// A server that reads the ClientHello and then closes the connection
/// without a word.
pub fn closing_handshake() -> RawServer {
    RawServer::custom(|mut stream, _log| {
        Box::pin(async move {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        })
    })
}

pub fn stalling_handshake() -> RawServer {
    RawServer::custom(|mut stream, log| {
        Box::pin(async move {
            let mut buf = [0u8; 4096];
            // A TLS record starts with content type 22 (handshake).
            if let Ok(n @ 1..) = stream.read(&mut buf).await {
                if buf[0] == 22 {
                    log.record(Head {
                        at: std::time::Instant::now(),
                        target: String::new(),
                        raw: buf[..n].to_vec(),
                    });
                }
            }
            std::future::pending::<()>().await;
            drop(stream);
        })
    })
}
