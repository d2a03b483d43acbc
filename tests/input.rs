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
    let message = run.stderr.lines().next().unwrap();
    assert!(
        message.starts_with(&format!("fetcher-stream: {}", missing.display())),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    run.checked_summary();
}
