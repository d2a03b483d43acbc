//! Loopback proxies for the proxy tests: an HTTP proxy (absolute-form
//! forwarding and `CONNECT` tunnels, on hyper's server) and a SOCKS5 proxy
//! (raw TCP, RFC 1928 with RFC 1929 user name and password). Each records what
//! went through it.
//!
//! Both resolve the test names `origin.test` and `example.test` to 127.0.0.1
//! themselves (and any IP address as itself); other names get an error
//! answer. So a request for such a name succeeds only if the name reached the
//! proxy. Like the other test servers, each listens on `127.0.0.1:0` on its
//! own thread and runtime, and stops when dropped.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::background::{Background, ConnFn};

/// The proxies' own name table: the test names and IP addresses.
fn resolve(host: &str) -> Option<IpAddr> {
    match host.to_ascii_lowercase().as_str() {
        "origin.test" | "example.test" | "localhost" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        h => h.trim_start_matches('[').trim_end_matches(']').parse().ok(),
    }
}

// ---------------------------------------------------------------------------
// The HTTP proxy.

/// How the HTTP proxy answers.
#[derive(Debug, Clone)]
pub enum HttpMode {
    /// Forward absolute-form requests and open every `CONNECT` tunnel.
    Open,
    /// Answer `407` unless `Proxy-Authorization` is exactly this value.
    RequireAuth(&'static str),
    /// Answer every request, `CONNECT` included, with this status.
    Refuse(u16),
}

/// One request as the HTTP proxy saw it.
#[derive(Debug, Clone)]
pub struct ProxySeen {
    pub method: String,
    /// The request target as sent: `http://host:port/path` in absolute form,
    /// `host:port` for `CONNECT`.
    pub target: String,
    pub proxy_authorization: Option<String>,
}

struct HttpState {
    mode: HttpMode,
    seen: Mutex<Vec<ProxySeen>>,
}

pub struct HttpProxy {
    state: Arc<HttpState>,
    bg: Background,
}

impl HttpProxy {
    pub fn start(mode: HttpMode) -> HttpProxy {
        let state = Arc::new(HttpState {
            mode,
            seen: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let st = st.clone();
            Box::pin(async move {
                let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            })
        });
        HttpProxy {
            state,
            bg: Background::start(on_conn),
        }
    }

    /// `http://127.0.0.1:PORT`, or with `user_info@` before the address.
    pub fn url(&self, user_info: &str) -> String {
        format!("http://{user_info}{}", self.bg.addr)
    }

    /// Every request seen, in arrival order.
    pub fn seen(&self) -> Vec<ProxySeen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.bg.accepted()
    }
}

type ProxyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn answer(status: u16, body: &'static str) -> Response<ProxyBody> {
    Response::builder()
        .status(status)
        .header("proxy-authenticate", "Basic realm=\"test\"")
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap()
}

async fn handle(
    state: Arc<HttpState>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let auth = req
        .headers()
        .get("proxy-authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    state.seen.lock().unwrap().push(ProxySeen {
        method: req.method().to_string(),
        target: req.uri().to_string(),
        proxy_authorization: auth.clone(),
    });
    match state.mode {
        HttpMode::Refuse(code) => return Ok(answer(code, "refused by the test proxy")),
        HttpMode::RequireAuth(want) if auth.as_deref() != Some(want) => {
            return Ok(answer(407, "proxy credentials wanted"));
        }
        _ => {}
    }
    let Some(authority) = req.uri().authority().cloned() else {
        return Ok(answer(400, "not absolute-form"));
    };
    let port = authority.port_u16().unwrap_or(80);
    let Some(ip) = resolve(authority.host()) else {
        return Ok(answer(502, "unknown host"));
    };
    let addr = SocketAddr::new(ip, port);
    if req.method() == http::Method::CONNECT {
        tokio::spawn(async move {
            let Ok(upgraded) = hyper::upgrade::on(req).await else {
                return;
            };
            let Ok(mut origin) = TcpStream::connect(addr).await else {
                return;
            };
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
        });
        return Ok(Response::new(Empty::new().boxed()));
    }
    Ok(forward(req, addr)
        .await
        .unwrap_or_else(|_| answer(502, "origin unreachable")))
}

/// Sends `req` on to the origin at `addr` in origin form, without
/// `Proxy-Authorization`, and returns its response (status and fields), the
/// body read whole.
async fn forward(
    req: Request<Incoming>,
    addr: SocketAddr,
) -> Result<Response<ProxyBody>, Box<dyn std::error::Error + Send + Sync>> {
    let tcp = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    let (mut parts, _) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()?;
    parts.headers.remove("proxy-authorization");
    let resp = sender
        .send_request(Request::from_parts(parts, Empty::<Bytes>::new()))
        .await?;
    let (mut parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    // The body is sent whole: the origin's framing fields do not apply.
    for name in ["transfer-encoding", "content-length", "connection"] {
        parts.headers.remove(name);
    }
    Ok(Response::from_parts(parts, Full::new(body).boxed()))
}

// ---------------------------------------------------------------------------
// The SOCKS5 proxy.

/// How the SOCKS5 proxy answers.
#[derive(Debug, Clone)]
pub enum SocksMode {
    /// No authentication; connect every request.
    Open,
    /// Require this user name and password (RFC 1929).
    RequireAuth(&'static str, &'static str),
    /// Answer every CONNECT with this reply code (RFC 1928 sec. 6).
    Refuse(u8),
}

/// Where a SOCKS5 CONNECT asked to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksDest {
    /// ATYP 3: a host name, for the proxy to resolve.
    Name(String),
    /// ATYP 1 or 4: an address.
    Ip(IpAddr),
}

/// One SOCKS5 CONNECT as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksSeen {
    pub dest: SocksDest,
    pub port: u16,
    /// The user name and password sent, if any.
    pub credentials: Option<(String, String)>,
}

pub struct SocksProxy {
    seen: Arc<Mutex<Vec<SocksSeen>>>,
    bg: Background,
}

impl SocksProxy {
    pub fn start(mode: SocksMode) -> SocksProxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let on_conn: ConnFn = Arc::new(move |stream| {
            let (log, mode) = (log.clone(), mode.clone());
            Box::pin(async move {
                let _ = socks(stream, mode, log).await;
            })
        });
        SocksProxy {
            seen,
            bg: Background::start(on_conn),
        }
    }

    /// `SCHEME://USER_INFO127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str, user_info: &str) -> String {
        format!("{scheme}://{user_info}{}", self.bg.addr)
    }

    /// Every CONNECT seen, in arrival order.
    pub fn seen(&self) -> Vec<SocksSeen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_string(s: &mut TcpStream) -> std::io::Result<String> {
    let len = s.read_u8().await? as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn socks(
    mut s: TcpStream,
    mode: SocksMode,
    log: Arc<Mutex<Vec<SocksSeen>>>,
) -> std::io::Result<()> {
    let mut hello = [0u8; 2];
    s.read_exact(&mut hello).await?;
    assert_eq!(hello[0], 5, "not SOCKS5");
    let mut methods = vec![0u8; hello[1] as usize];
    s.read_exact(&mut methods).await?;
    let credentials = if let SocksMode::RequireAuth(user, password) = mode {
        if !methods.contains(&2) {
            return s.write_all(&[5, 0xff]).await;
        }
        s.write_all(&[5, 2]).await?;
        assert_eq!(s.read_u8().await?, 1, "RFC 1929 version");
        let got = (read_string(&mut s).await?, read_string(&mut s).await?);
        let ok = got.0 == user && got.1 == password;
        s.write_all(&[1, if ok { 0 } else { 1 }]).await?;
        if !ok {
            return Ok(());
        }
        Some(got)
    } else {
        s.write_all(&[5, 0]).await?;
        None
    };
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    assert_eq!(&head[..3], &[5, 1, 0], "CONNECT request");
    let dest = match head[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            SocksDest::Ip(IpAddr::from(a))
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            SocksDest::Ip(IpAddr::from(a))
        }
        3 => SocksDest::Name(read_string(&mut s).await?),
        t => panic!("address type {t}"),
    };
    let port = s.read_u16().await?;
    log.lock().unwrap().push(SocksSeen {
        dest: dest.clone(),
        port,
        credentials,
    });
    let reply = |code: u8| [5, code, 0, 1, 127, 0, 0, 1, 0, 0];
    if let SocksMode::Refuse(code) = mode {
        return s.write_all(&reply(code)).await;
    }
    let ip = match &dest {
        SocksDest::Ip(ip) => Some(*ip),
        SocksDest::Name(name) => resolve(name),
    };
    let origin = match ip {
        Some(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await.ok(),
        None => None,
    };
    let Some(mut origin) = origin else {
        // Host unreachable.
        return s.write_all(&reply(4)).await;
    };
    s.write_all(&reply(0)).await?;
    tokio::io::copy_bidirectional(&mut s, &mut origin).await?;
    Ok(())
}
