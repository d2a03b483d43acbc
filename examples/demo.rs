//! The reference scenario, replayed offline: eight URLs through the library.
//!
//! This starts a small HTTP server on loopback (`127.0.0.1`, a port the OS
//! picks) that stands in for the sites of the reference run, then feeds eight
//! URLs to [`fetcher_stream::fetch_stream`] with 5 requests in flight and a 5 s
//! timeout:
//!
//! | URL                                       | what happens                           |
//! |-------------------------------------------|----------------------------------------|
//! | `/`                                       | an OK page: `success`, status 200      |
//! | `/get`                                    | a JSON echo of the request's headers   |
//! | `/delay/1`                                | answers after 1 s                      |
//! | `/delay/10`                               | would answer after 10 s: `timeout` at 5 s |
//! | `/status/404`                             | a 404, which is still a `success`      |
//! | `/page/2`, `/page/3`                      | two more OK pages                      |
//! | `https://this-host-does-not-exist.invalid/` | a `dns` failure                      |
//!
//! The `.invalid` name fails at once, without a query: RFC 6761 reserves it as a
//! name that never resolves. So nothing leaves the machine.
//!
//! Records go to stdout as JSON Lines in the order they complete, and the summary
//! goes last to stderr, as the `fetcher-stream` binary writes them. Expect 8 total,
//! 6 succeeded, 2 failed, in about 5 s. Run it with:
//!
//! ```text
//! cargo run --release --example demo
//! ```

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use fetcher_stream::{fetch_stream, Config, Summary};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(listener));

    let urls: Vec<String> = [
        "/",
        "/get",
        "/delay/1",
        "/delay/10",
        "/status/404",
        "/page/2",
        "/page/3",
    ]
    .iter()
    .map(|path| format!("{base}{path}"))
    .chain(["https://this-host-does-not-exist.invalid/".to_string()])
    .collect();

    let config = Config {
        max_concurrency: 5,
        timeout: Duration::from_secs(5),
        ..Config::default()
    };
    // A clone of the run's counters, to read after the stream ends.
    let stats = config.stats.clone();
    let started = Instant::now();
    let mut summary = Summary::default();
    // Records arrive in completion order, each as soon as its URL is done.
    let mut results = std::pin::pin!(fetch_stream(futures::stream::iter(urls), config));
    while let Some(record) = results.next().await {
        summary.add(&record);
        println!(
            "{}",
            serde_json::to_string(&record).expect("records serialise")
        );
    }
    summary.set_elapsed(started.elapsed());
    summary.connections_opened = stats.connections_opened();
    summary.dns_lookups = stats.dns_lookups();
    eprintln!(
        "{}",
        serde_json::to_string(&summary).expect("summary serialises")
    );
    Ok(())
}

/// Accepts connections forever, serving each (HTTP/1.1 or HTTP/2) on its own task.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            // A connection the client drops (the timed-out request) ends in an
            // error here; that is expected, so it is ignored.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .await;
        });
    }
}

/// The stand-in sites, routed by path.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let (status, body) = if path == "/" || path.starts_with("/page/") {
        (
            StatusCode::OK,
            format!("<!doctype html><title>{path}</title><p>Hello from {path}.\n"),
        )
    } else if path == "/get" {
        // Like httpbin's /get: the request headers, echoed as JSON.
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), value.into())
            })
            .collect();
        let echo = serde_json::json!({ "headers": headers, "url": req.uri().to_string() });
        (StatusCode::OK, format!("{echo:#}\n"))
    } else if let Some(secs) = path.strip_prefix("/delay/").and_then(|s| s.parse().ok()) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        (StatusCode::OK, format!("{{\"delay\":{secs}}}\n"))
    } else if path == "/status/404" {
        (StatusCode::NOT_FOUND, "not found\n".to_string())
    } else {
        (StatusCode::NOT_FOUND, "no such page\n".to_string())
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    Ok(resp)
}
