//! Input lines and sources.

use crate::support::{by_url, exact, run, scratch, Record, Server};

#[test]
fn every_counted_line_gives_exactly_one_record() {
    let server = Server::start();
    let (a1, a2, a3) = (
        server.url("/bytes/1"),
        server.url("/bytes/2"),
        server.url("/bytes/3"),
    );
    let ftp = format!("ftp://{}/file", server.addr());
    let long_line = format!("{}{}", server.url("/"), "a".repeat(70 * 1024));
    let mut input = Vec::new();
    input.extend_from_slice(b"\xEF\xBB\xBF");
    input.extend_from_slice(format!("{a1}\r\n").as_bytes());
    input.extend_from_slice(b"# a comment\r\n\r\n \t \n   # indented comment\n");
    input.extend_from_slice(b"# not UTF-8 either: caf\xe9\n");
    input.extend_from_slice(format!("  {a2}  \r\n").as_bytes());
    input.extend_from_slice(b"not a url\n");
    input.extend_from_slice(format!("{ftp}\n").as_bytes());
    input.extend_from_slice(server.url("/").as_bytes());
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend_from_slice(format!("{long_line}\n").as_bytes());
    input.extend_from_slice(a3.as_bytes()); // last line has no newline

    let run = run(&[], input);
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(run.records.len(), 7, "{:#?}", run.records);
    let records = run.sorted();

    // The overlong line is shown shortened; check it apart from the others.
    let long = records
        .iter()
        .find(|r| r.url.ends_with('…'))
        .expect("a record for the overlong line");
    let shown = long.url.as_str();
    assert!(
        long_line.starts_with(shown.trim_end_matches('…')),
        "{shown}"
    );
    assert!(shown.len() < 4096, "{} bytes", shown.len());
    assert_eq!(long.without_error(), Record::failure(shown, "invalid_url"));

    let rest: Vec<Record> = records
        .iter()
        .filter(|r| *r != long)
        .map(Record::without_error)
        .collect();
    let not_utf8 = format!("{}\u{fffd}\u{fffd}", server.url("/"));
    assert_eq!(
        rest,
        by_url(vec![
            Record::success(&a1, 200, 1),
            Record::success(&a2, 200, 2),
            Record::success(&a3, 200, 3),
            Record::failure("not a url", "invalid_url"),
            Record::failure(&ftp, "unsupported_scheme"),
            Record::failure(&not_utf8, "invalid_url"),
        ])
    );
    let ftp_record = records.iter().find(|r| r.url == ftp).unwrap();
    assert!(ftp_record.error.as_deref().unwrap().contains("ftp"));

    // Only the three good lines reached the server.
    let mut targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    targets.sort();
    assert_eq!(targets, ["/bytes/1", "/bytes/2", "/bytes/3"]);
    let s = run.checked_summary();
    assert_eq!((s.total, s.succeeded, s.failed), (7, 3, 4));
}

#[test]
fn bare_host_port_uses_the_default_scheme_flag() {
    let server = Server::start();
    let bare = format!("{}/bytes/5", server.addr());
    let run = run(&["--default-scheme", "http"], format!("{bare}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(exact(&run.records), [Record::success(&bare, 200, 5)]);
    assert_eq!(server.seen()[0].target, "/bytes/5");
}

/// Without the flag a bare line is fetched over https: a TLS handshake with a
/// plain-HTTP server fails, and no HTTP request reaches it.
#[test]
fn bare_host_port_defaults_to_https() {
    let server = Server::start();
    let bare = format!("{}/bytes/5", server.addr());
    let run = run(&["-t", "5"], format!("{bare}\n"));
    assert_eq!(run.code(), 1);
    assert_eq!(
        run.records[0].without_error(),
        Record::failure(&bare, "tls")
    );
    assert_eq!(server.hits(), 0);
}

/// Non-ASCII hosts go out as IDNA A-labels and spaces in paths are
/// percent-encoded; the record echoes the line as given. `*.localhost`
/// resolves to loopback without DNS.
#[test]
fn idna_host_and_space_in_path() {
    let server = Server::start();
    let port = server.addr().port();
    let line = format!("http://bücher.localhost:{port}/a b");
    let run = run(&[], format!("{line}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(exact(&run.records), [Record::success(&line, 200, 2)]);
    let seen = server.seen();
    assert_eq!(seen[0].target, "/a%20b");
    assert_eq!(
        seen[0].headers["host"],
        format!("xn--bcher-kva.localhost:{port}").as_str()
    );
}

/// All four requests are in flight at once (the server holds each until the
/// fourth has arrived), then finish in reverse input order; the records
/// still come in input order.
#[test]
fn keep_order_gives_input_order_at_the_same_concurrency() {
    let server = Server::start();
    let urls: Vec<String> = [600, 400, 200, 0]
        .iter()
        .map(|ms| server.url(&format!("/gate/4/{ms}")))
        .collect();
    let run = run(&["--keep-order", "-c", "4"], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.urls(), urls);
    assert_eq!(server.peak(), 4);
}

#[test]
fn files_and_stdin_are_read_in_order() {
    let server = Server::start();
    let dir = scratch("files_and_stdin_are_read_in_order");
    let u: Vec<String> = (1..=4)
        .map(|n| server.url(&format!("/bytes/{n}")))
        .collect();
    let (f1, f2) = (dir.join("one.txt"), dir.join("two.txt"));
    std::fs::write(&f1, format!("{}\n{}\n", u[0], u[1])).unwrap();
    std::fs::write(&f2, format!("\u{feff}{}\r\n", u[3])).unwrap();
    let run = run(
        &[
            "--keep-order",
            "-c",
            "1",
            f1.to_str().unwrap(),
            "-",
            f2.to_str().unwrap(),
        ],
        format!("{}\n", u[2]),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.urls(), u);
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, ["/bytes/1", "/bytes/2", "/bytes/3", "/bytes/4"]);
}

#[test]
fn missing_file_is_reported_and_the_others_are_still_read() {
    let server = Server::start();
    let dir = scratch("missing_file_is_reported_and_the_others_are_still_read");
    let (f1, missing, f2) = (
        dir.join("one.txt"),
        dir.join("does-not-exist.txt"),
        dir.join("two.txt"),
    );
    let (u1, u2) = (server.url("/bytes/1"), server.url("/bytes/2"));
    std::fs::write(&f1, format!("{u1}\n")).unwrap();
    std::fs::write(&f2, format!("{u2}\n")).unwrap();
    let run = run(
        &[
            "--keep-order",
            f1.to_str().unwrap(),
            missing.to_str().unwrap(),
            f2.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code(), 2, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::success(&u1, 200, 1), Record::success(&u2, 200, 2)]
    );
    // One `error` record naming the file, then the summary: stderr stays
    // JSON Lines.
    let notices = run.notices();
    assert_eq!(notices.len(), 1, "{}", run.stderr);
    let missing = missing.to_str().unwrap();
    assert_eq!(notices[0]["type"], "error", "{}", run.stderr);
    assert_eq!(notices[0]["kind"], "input", "{}", run.stderr);
    assert_eq!(notices[0]["file"], missing, "{}", run.stderr);
    let message = notices[0]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{missing}: ")), "{message}");
    run.checked_summary();
}

/// The 64 KiB line limit counts a line without its ending: a line of exactly
/// 65,536 bytes is read with `\n` or `\r\n`, one byte more is refused. (The
/// fragment makes the line long without making the request long.)
#[test]
fn the_line_limit_does_not_count_the_line_ending() {
    let server = Server::start();
    let line = |len: usize, tag: &str| {
        let head = server.url(&format!("/{tag}#"));
        format!("{head}{}", "f".repeat(len - head.len()))
    };
    let (lf, crlf) = (line(64 * 1024, "lf"), line(64 * 1024, "crlf"));
    let (lf_over, crlf_over) = (line(64 * 1024 + 1, "lf1"), line(64 * 1024 + 1, "crlf1"));
    let input = format!("{lf}\n{crlf}\r\n{lf_over}\n{crlf_over}\r\n");
    let run = run(&[], input);
    assert_eq!(run.records.len(), 4, "{}", run.stderr);
    let mut targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    targets.sort();
    assert_eq!(targets, ["/crlf", "/lf"]);
    let refused: Vec<&Record> = run.records.iter().filter(|r| !r.is_success()).collect();
    assert_eq!(refused.len(), 2, "{:#?}", run.records);
    for r in refused {
        assert_eq!(r.error_kind.as_deref(), Some("invalid_url"));
        assert_eq!(
            r.error.as_deref(),
            Some("invalid URL: line longer than 65536 bytes")
        );
    }
}

/// A URL whose request target is over the `http` crate's 65,534 bytes after
/// percent-encoding is an `invalid_url` failure saying so, and no request is
/// made; one of exactly 65,534 bytes is fetched.
#[test]
fn a_url_too_long_after_percent_encoding_is_refused_before_any_request() {
    let server = Server::start();
    let base = server.url("/");
    // Each `"` is sent as `%22`: the line stays under 64 KiB, the target not.
    let quoted = |n: usize| format!("{base}?{}", "\"".repeat(n));
    let fill = (65_534 - base.len() - 1) / 3;
    let fits = format!(
        "{}{}",
        quoted(fill),
        "q".repeat(65_534 - base.len() - 1 - 3 * fill)
    );
    let over = format!("{fits}q");
    let encoded_over = quoted(fill + 1);
    let run = run(&[], format!("{fits}\n{over}\n{encoded_over}\n"));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(run.records.len(), 3);
    assert_eq!(server.seen().len(), 1);
    let fetched = run.records.iter().find(|r| r.is_success()).unwrap();
    assert_eq!(fetched.url, fits);
    for r in run.records.iter().filter(|r| !r.is_success()) {
        assert_eq!(r.error_kind.as_deref(), Some("invalid_url"), "{r:?}");
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains("too long") && error.contains("after percent-encoding"),
            "{error}"
        );
    }
}

/// Port 0 is refused as `invalid_url` before any name lookup: for a name
/// that cannot resolve (`.invalid`), the kind is not `dns`, so the refusal
/// came first; for an address, not `connect`.
#[test]
fn port_zero_is_refused_before_any_lookup_or_connection() {
    let lines = [
        "name.invalid:0",
        "http://name.invalid:0/",
        "https://name.invalid:0/x",
        "localhost:0",
        "http://127.0.0.1:0/",
        "http://[::1]:0/",
    ];
    let run = run(&["--default-scheme", "http"], crate::support::lines(&lines));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(run.records.len(), lines.len());
    for r in &run.records {
        assert_eq!(r.error_kind.as_deref(), Some("invalid_url"), "{r:?}");
        assert!(r.error.as_deref().unwrap().contains("port 0"), "{r:?}");
    }
}
