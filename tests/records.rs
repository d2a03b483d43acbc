//! The shape of each record and of the summary.

use crate::support::{counts, exact, run, Record, Server};

#[test]
fn success_record_has_exactly_the_documented_fields() {
    let server = Server::start();
    let url = server.url("/bytes/1234");
    let run = run(&[], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    // Equal records have the same keys: every field left out is `None` in
    // both, and `extra` holds any key that is not a record field.
    assert_eq!(exact(&run.records), [Record::success(&url, 200, 1234)]);
    assert!(run.records[0].extra.is_empty(), "{:?}", run.records[0]);
    // The summary type refuses unknown keys, and `interrupted` is left out.
    let s = run.checked_summary();
    assert_eq!(s.interrupted, None, "{s:?}");
}

#[test]
fn http_error_statuses_are_successes_and_exit_zero() {
    let server = Server::start();
    let (a, b) = (server.url("/status/404"), server.url("/status/500"));
    let run = run(&[], format!("{a}\n{b}\n"));
    assert_eq!(
        exact(&run.sorted()),
        [Record::success(&a, 404, 10), Record::success(&b, 500, 10)]
    );
    assert_eq!(run.code(), 0);
    let s = run.checked_summary();
    assert_eq!((s.total, s.failed), (2, 0));
}

#[test]
fn size_counts_body_bytes_with_content_length_and_chunked() {
    let server = Server::start();
    let cases = [
        ("/bytes/0", 0),
        ("/bytes/1", 1),
        ("/bytes/100000", 100000),
        ("/chunked/1000", 1000),
        ("/chunked/70001", 70001),
    ];
    let urls: Vec<String> = cases.iter().map(|(p, _)| server.url(p)).collect();
    let run = run(&[], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Record> = cases
        .iter()
        .zip(&urls)
        .map(|((_, size), url)| Record::success(url, 200, *size))
        .collect();
    assert_eq!(exact(&run.sorted()), want);
}

#[test]
fn head_gives_size_zero_and_sends_head() {
    let server = Server::start();
    let url = server.url("/bytes/1234");
    let run = run(&["-X", "HEAD"], format!("{url}\n"));
    assert_eq!(exact(&run.records), [Record::success(&url, 200, 0)]);
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

/// `elapsed_ms` starts when the request gets its slot, so a request that
/// waited in the queue behind another does not count the wait.
#[test]
fn elapsed_ms_excludes_queue_wait() {
    let server = Server::start();
    let urls = [server.url("/delay/500"), server.url("/delay/500?second")];
    let run = run(&["-c", "1", "--keep-order"], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2);
    for r in &run.records {
        // Each took at least the server's 500 ms; the second would be >= 1000
        // if its 500 ms in the queue were counted.
        assert!((500.0..1000.0).contains(&r.elapsed_ms), "{r:?}");
    }
    assert!(run.elapsed >= std::time::Duration::from_millis(1000));
}

/// The summary's counts over a known mix: statuses, error kinds, bytes,
/// retries, the connections the server accepted, and no name lookup (IP
/// literals, `localhost` and `.invalid` need none).
#[test]
fn the_summary_counts_statuses_kinds_bytes_retries_and_connections() {
    let server = Server::start();
    let local = format!("http://localhost:{}/bytes/2", server.port());
    let dead = format!("http://127.0.0.1:{}/", crate::support::dead_port());
    let urls = [
        server.url("/bytes/3"),
        server.url("/bytes/4"),
        server.url("/status/404"),
        server.url("/status/503"),
        local,
        dead,
        "http://nowhere.invalid/".to_owned(),
        "http://[::1".to_owned(),
        "ftp://127.0.0.1/".to_owned(),
    ];
    let run = crate::support::Cmd::new(&["-c", "1", "--retries", "2", "--retry-delay", "0.01"])
        .run(crate::support::lines(&urls));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    let s = run.checked_summary();
    assert_eq!(
        (s.total, s.succeeded, s.failed, s.cancelled),
        (9, 5, 4, 0),
        "{s:?}"
    );
    assert_eq!(s.status_counts, counts(&[(200, 3), (404, 1), (503, 1)]));
    assert_eq!(
        s.error_kinds,
        counts(&[
            ("connect", 1),
            ("dns", 1),
            ("invalid_url", 1),
            ("unsupported_scheme", 1)
        ])
    );
    // 3 + 4 + 2 bytes, and "status 404", "status 503".
    assert_eq!(s.bytes, 29);
    // The 503 and the refused connection were each tried 3 times.
    assert_eq!(s.retries, 4);
    assert_eq!(s.connections_opened, server.accepted() as u64);
    assert!(s.connections_opened >= 1);
    assert_eq!(s.dns_lookups, 0);
    assert_eq!(s.interrupted, None);
    s.record_elapsed_ms.expect("requests were timed");
}
