//! The shape of each record (issue 2, items 1, 3, 7 and 10).

use serde_json::json;

use crate::util::{exact, keys, run, Server};

#[test]
fn success_record_has_exactly_the_documented_fields() {
    let server = Server::start();
    let url = server.url("/bytes/1234");
    let run = run(&[], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 1);
    let r = &run.records[0];
    assert_eq!(
        keys(r),
        [
            "elapsed_ms",
            "http_version",
            "size",
            "status",
            "type",
            "url"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(
        exact(&run.records),
        [json!({"type": "success", "url": url, "status": 200, "size": 1234})]
    );
    let s = run.checked_summary();
    assert_eq!(
        keys(&s),
        ["elapsed_ms", "failed", "succeeded", "total", "type"]
            .map(String::from)
            .into()
    );
}

#[test]
fn http_error_statuses_are_successes_and_exit_zero() {
    let server = Server::start();
    let (a, b) = (server.url("/status/404"), server.url("/status/500"));
    let run = run(&[], format!("{a}\n{b}\n"));
    assert_eq!(
        exact(&run.sorted()),
        [
            json!({"type": "success", "url": a, "status": 404, "size": 10}),
            json!({"type": "success", "url": b, "status": 500, "size": 10}),
        ]
    );
    assert_eq!(run.code(), 0);
    let s = run.checked_summary();
    assert_eq!(
        (s["total"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn size_counts_body_bytes_with_content_length_and_chunked() {
    let server = Server::start();
    let urls = [
        server.url("/bytes/0"),
        server.url("/bytes/1"),
        server.url("/bytes/100000"),
        server.url("/chunked/1000"),
        server.url("/chunked/70001"),
    ];
    let run = run(&[], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        exact(&run.sorted()),
        [
            json!({"type": "success", "url": urls[0], "status": 200, "size": 0}),
            json!({"type": "success", "url": urls[1], "status": 200, "size": 1}),
            json!({"type": "success", "url": urls[2], "status": 200, "size": 100000}),
            json!({"type": "success", "url": urls[3], "status": 200, "size": 1000}),
            json!({"type": "success", "url": urls[4], "status": 200, "size": 70001}),
        ]
    );
}

#[test]
fn head_gives_size_zero_and_sends_head() {
    let server = Server::start();
    let url = server.url("/bytes/1234");
    let run = run(&["-X", "HEAD"], format!("{url}\n"));
    assert_eq!(
        exact(&run.records),
        [json!({"type": "success", "url": url, "status": 200, "size": 0})]
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, http::Method::HEAD);
}

#[test]
fn request_headers_no_accept_encoding_default_and_custom_fields() {
    let server = Server::start();
    let url = server.url("/bytes/3");
    let run1 = run(&[], format!("{url}\n"));
    let run2 = run(
        &[
            "-A",
            "probe/9",
            "-H",
            "X-Extra: yes",
            "-H",
            "Accept: text/plain",
        ],
        format!("{url}\n"),
    );
    assert_eq!((run1.code(), run2.code()), (0, 0));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let (plain, custom) = (&seen[0].headers, &seen[1].headers);
    assert!(plain.get("accept-encoding").is_none(), "{plain:?}");
    assert_eq!(
        plain["user-agent"],
        concat!("fetcher-stream/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(plain["accept"], "*/*");
    assert!(custom.get("accept-encoding").is_none(), "{custom:?}");
    assert_eq!(custom["user-agent"], "probe/9");
    assert_eq!(custom["x-extra"], "yes");
    assert_eq!(
        custom.get_all("accept").iter().collect::<Vec<_>>(),
        ["text/plain"]
    );
}

/// Item 3: `elapsed_ms` starts when the request gets its slot, so a request that
/// waited in the queue behind another does not count the wait.
#[test]
fn elapsed_ms_excludes_queue_wait() {
    let server = Server::start();
    let urls = [server.url("/delay/500"), server.url("/delay/500?second")];
    let run = run(&["-c", "1", "--keep-order"], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2);
    for r in &run.records {
        let ms = r["elapsed_ms"].as_f64().unwrap();
        // Each took at least the server's 500 ms; the second would be >= 1000
        // if its 500 ms in the queue were counted.
        assert!((500.0..1000.0).contains(&ms), "{r}");
    }
    assert!(run.elapsed >= std::time::Duration::from_millis(1000));
}
