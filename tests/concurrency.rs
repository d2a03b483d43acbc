//! Bounded concurrency and lazy input.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fetcher_stream::{fetch_all, fetch_stream, Config, FetchResult};
use futures::StreamExt;

use crate::support::{run, RawServer, Reply, Server};

/// The server holds each request until the rest of its group of N has
/// arrived (`/gate/N`), so the peak is N exactly when N are kept in flight:
/// `-c 4`, and the default 50 (on one host with `--max-per-host 0`).
#[test]
fn cli_keeps_exactly_c_requests_in_flight() {
    // The default -c is 50; on one host that needs --max-per-host 0.
    let cases: [(&[&str], usize, usize); 2] =
        [(&["-c", "4"], 4, 20), (&["--max-per-host", "0"], 50, 100)];
    for (args, c, urls) in cases {
        let server = Server::start();
        let input: String = (0..urls)
            .map(|i| format!("{}\n", server.url(&format!("/gate/{c}?{i}"))))
            .collect();
        let run = run(args, input);
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.records.len(), urls, "{args:?}");
        assert!(
            run.records.iter().all(|r| r.status == Some(200)),
            "{args:?}: {:?}",
            run.records
        );
        assert_eq!(server.hits(), urls, "{args:?}");
        assert_eq!(server.peak(), c, "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_stream_keeps_exactly_max_concurrency_in_flight() {
    let server = Server::start();
    let urls: Vec<String> = (0..12)
        .map(|i| server.url(&format!("/gate/3?{i}")))
        .collect();
    let config = Config {
        max_concurrency: 3,
        ..Config::default()
    };
    let results: Vec<FetchResult> = fetch_stream(futures::stream::iter(urls), config)
        .collect()
        .await;
    assert_eq!(results.len(), 12);
    assert!(results.iter().all(|r| matches!(
        r,
        FetchResult::Success {
            status: 200,
            size: 2,
            ..
        }
    )));
    assert_eq!(server.hits(), 12);
    assert_eq!(server.peak(), 3);
}

/// `fetch_stream` yields in completion order; `fetch_all` in input order.
/// Both requests of a run are in flight before either is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_stream_is_completion_order_and_fetch_all_input_order() {
    let server = Server::start();
    let urls = vec![server.url("/gate/2/800"), server.url("/gate/2/0")];
    let streamed: Vec<String> =
        fetch_stream(futures::stream::iter(urls.clone()), Config::default())
            .map(|r| r.url().to_owned())
            .collect()
            .await;
    assert_eq!(streamed, [urls[1].clone(), urls[0].clone()]);
    let all: Vec<String> = fetch_all(futures::stream::iter(urls.clone()), Config::default())
        .await
        .iter()
        .map(|r| r.url().to_owned())
        .collect();
    assert_eq!(all, urls);
}

/// Input is pulled only as slots free up, never read ahead whole. Without
/// `--max-per-host`, `--rate-per-host`, `--rate` and `--retries` no URL ever
/// waits, so the window is `-c` lines: `lookahead` alone reads no line ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_pulls_input_lazily() {
    for lookahead in [None, Some(50)] {
        let server = RawServer::every(Reply::hang());
        let url = server.url("/");
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let lines = futures::stream::iter(0..1_000_000).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            url.clone()
        });
        let config = Config {
            max_concurrency: 3,
            lookahead,
            timeout: Duration::from_secs(30),
            ..Config::default()
        };
        let mut results = Box::pin(fetch_stream(lines, config));
        // Nothing completes: every request hangs.
        let next = tokio::time::timeout(Duration::from_millis(500), results.next()).await;
        assert!(next.is_err(), "lookahead {lookahead:?}: {next:?}");
        assert_eq!(pulled.load(Ordering::SeqCst), 3, "lookahead {lookahead:?}");
        server.reached(3).await;
        drop(results);
    }
}

/// Dropping the stream aborts the requests in flight; firing the config's
/// token ends each one as a `cancelled` failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_cancel_gives_cancelled_failures() {
    let server = RawServer::every(Reply::hang());
    let urls: Vec<String> = (0..3).map(|i| server.url(&format!("/{i}"))).collect();
    let config = Config {
        max_concurrency: 3,
        timeout: Duration::from_secs(30),
        ..Config::default()
    };
    let cancel = config.cancel.clone();
    let results = tokio::spawn(fetch_all(futures::stream::iter(urls.clone()), config));
    server.reached(3).await;
    cancel.cancel();
    let results = tokio::time::timeout(Duration::from_secs(5), results)
        .await
        .expect("cancelled run ends promptly")
        .unwrap();
    let got: Vec<(String, Option<String>)> = results
        .iter()
        .map(|r| (r.url().to_owned(), r.error_kind().map(|k| k.to_string())))
        .collect();
    let want: Vec<(String, Option<String>)> = urls
        .into_iter()
        .map(|u| (u, Some("cancelled".to_owned())))
        .collect();
    assert_eq!(got, want);
}
