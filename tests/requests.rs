//! Methods, bodies, forced HTTP versions and the connect deadline: the exact
//! request the server saw.

use std::time::Duration;

use http::Method;

use crate::support::{exact, run, Record, Seen, Server};

/// A file under Cargo's target tmp dir with `contents`; its path.
fn temp_file(name: &str, contents: &[u8]) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("requests-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

fn header<'a>(seen: &'a Seen, name: &str) -> Vec<&'a str> {
    seen.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The only request the server saw, after checking the run succeeded.
fn only_request(args: &[&str], server: &Server, path: &str) -> Seen {
    let url = server.url(path);
    let run = run(args, format!("{url}\n"));
    assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr);
    assert_eq!(exact(&run.records), [Record::success(&url, 200, 2)]);
    let mut seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen.remove(0)
}

#[test]
fn data_means_post_with_a_form_body_and_its_length() {
    let server = Server::start();
    let seen = only_request(&["-d", "a=1&b=two"], &server, "/form");
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.body, "a=1&b=two");
    assert_eq!(
        header(&seen, "content-type"),
        ["application/x-www-form-urlencoded"]
    );
    assert_eq!(header(&seen, "content-length"), ["9"]);
    assert_eq!(seen.version, http::Version::HTTP_11);
}

/// As curl's `-H 'Name:'`: an empty value removes the field, the default
/// one (Accept, the form Content-Type of `-d`) included.
#[test]
fn an_empty_header_value_removes_the_field() {
    let server = Server::start();
    let args = [
        "-d",
        "x",
        "-H",
        "Content-Type:",
        "-H",
        "Accept:",
        "-H",
        "X-A: 1",
    ];
    let seen = only_request(&args, &server, "/");
    assert!(header(&seen, "content-type").is_empty(), "{seen:?}");
    assert!(header(&seen, "accept").is_empty(), "{seen:?}");
    assert_eq!(header(&seen, "x-a"), ["1"]);
    assert_eq!(header(&seen, "content-length"), ["1"]);
}

/// A body file that is standard input under another name would read the URL
/// list as the body and leave no URL (0 records, exit 0): a usage error, like
/// `@-`.
#[test]
fn a_body_from_standard_input_is_refused_under_any_name() {
    let server = Server::start();
    for path in ["@-", "@/dev/stdin", "@/proc/self/fd/0"] {
        let run = run(&["-d", path], format!("{}\n", server.url("/")));
        assert_eq!(run.code(), 2, "{path}: {}", run.stderr);
        assert!(run.stderr.contains("is standard input"), "{}", run.stderr);
        assert!(run.records.is_empty());
    }
    assert!(server.seen().is_empty());
}

#[test]
fn empty_data_still_sends_content_length_zero() {
    let server = Server::start();
    let seen = only_request(&["-d", ""], &server, "/");
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.body, "");
    assert_eq!(header(&seen, "content-length"), ["0"]);
}

#[test]
fn method_case_is_kept_and_header_content_type_wins() {
    let server = Server::start();
    let args = [
        "-X",
        "patch",
        "-d",
        "{\"a\":1}",
        "-H",
        "Content-Type: application/json",
    ];
    let seen = only_request(&args, &server, "/");
    assert_eq!(seen.method.as_str(), "patch");
    assert_eq!(seen.body, "{\"a\":1}");
    assert_eq!(header(&seen, "content-type"), ["application/json"]);
    assert_eq!(header(&seen, "content-length"), ["7"]);
}

#[test]
fn any_method_without_a_body_sends_no_body_fields() {
    let server = Server::start();
    let seen = only_request(&["--request", "PROPFIND"], &server, "/");
    assert_eq!(seen.method.as_str(), "PROPFIND");
    assert_eq!(seen.body, "");
    assert!(header(&seen, "content-type").is_empty(), "{seen:?}");
    let len = header(&seen, "content-length");
    assert!(len.is_empty() || len == ["0"], "{len:?}");
}

/// curl's -I/--head: HEAD for every URL, size 0.
#[test]
fn head_flag_sends_head() {
    for flag in ["-I", "--head"] {
        let server = Server::start();
        let url = server.url("/bytes/5");
        let run = run(&[flag], format!("{url}\n"));
        assert_eq!(run.code(), 0, "{flag}: {}", run.stderr);
        assert_eq!(exact(&run.records), [Record::success(&url, 200, 0)]);
        assert_eq!(server.seen()[0].method, Method::HEAD, "{flag}");
    }
}

#[test]
fn data_files_strip_cr_lf_and_data_binary_keeps_every_byte() {
    let raw = b"a=1\r\nb=2\n\x00\xff";
    let file = temp_file("body", raw);
    let at = format!("@{file}");
    let server = Server::start();
    let seen = only_request(&["-d", &at, "-d", "c=3"], &server, "/");
    assert_eq!(seen.body, &b"a=1b=2\x00\xff&c=3"[..]);
    let server = Server::start();
    let seen = only_request(&["--data-binary", &at], &server, "/");
    assert_eq!(seen.body, &raw[..]);
    assert_eq!(header(&seen, "content-length"), [raw.len().to_string()]);
    // Mixed parts keep their command-line order, as curl's.
    let server = Server::start();
    let seen = only_request(
        &["--data-binary", "z", "-d", "y", "--data-binary", "x"],
        &server,
        "/",
    );
    assert_eq!(seen.body, "z&y&x");
    let _ = std::fs::remove_file(file);
}

#[test]
fn the_same_body_goes_to_every_url() {
    let server = Server::start();
    let urls: Vec<String> = (0..30).map(|i| server.url(&format!("/u/{i}"))).collect();
    let body = "x".repeat(10_000);
    let run = run(&["-c", "8", "-d", &body], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 30);
    run.checked_summary();
    let seen = server.seen();
    assert_eq!(seen.len(), 30);
    for s in seen {
        assert_eq!((s.method.as_str(), s.body.len()), ("POST", 10_000), "{s:?}");
        assert!(s.body.iter().all(|&b| b == b'x'));
    }
}

/// Runs one request of `method` with a body through a redirect of status
/// `code`, checks its record, and returns the requests the server saw.
fn post_through_redirect(code: u16, method: &str) -> Vec<Seen> {
    let server = Server::start();
    let final_url = server.url("/final");
    let url = server.url(&format!("/to/{code}?{final_url}"));
    let args = ["-X", method, "-d", "k=v", "-H", "Content-Type: text/plain"];
    let run = run(&args, format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 1);
    assert_eq!(
        run.records[0].exact(),
        Record::success(&url, 200, 2)
            .with_final_url(&final_url)
            .with_redirects(1)
    );
    server.seen()
}

#[test]
fn see_other_switches_to_get_and_drops_the_body_and_its_fields() {
    for (code, method) in [(303, "POST"), (303, "PUT"), (302, "POST"), (301, "POST")] {
        let seen = post_through_redirect(code, method);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].method.as_str(), method);
        assert_eq!(seen[0].body, "k=v");
        assert_eq!(header(&seen[0], "content-type"), ["text/plain"]);
        let next = &seen[1];
        assert_eq!(next.target, "/final");
        assert_eq!(next.method, Method::GET, "{code} after {method}");
        assert_eq!(next.body, "", "{code} after {method}");
        assert!(header(next, "content-type").is_empty(), "{code}: {next:?}");
        let len = header(next, "content-length");
        assert!(len.is_empty(), "{code}: {len:?}");
    }
}

#[test]
fn temporary_and_permanent_redirects_resend_method_and_body() {
    for (code, method) in [(307, "POST"), (308, "POST"), (302, "PUT"), (301, "PUT")] {
        let seen = post_through_redirect(code, method);
        assert_eq!(seen.len(), 2);
        for s in &seen {
            assert_eq!(s.method.as_str(), method, "{code}: {s:?}");
            assert_eq!(s.body, "k=v", "{code}: {s:?}");
            assert_eq!(header(s, "content-type"), ["text/plain"], "{code}");
            assert_eq!(header(s, "content-length"), ["3"], "{code}");
        }
    }
}

#[test]
fn http2_prior_knowledge_speaks_h2c_and_http1_1_speaks_1_1() {
    let server = Server::start();
    let url = server.url("/bytes/10");
    let run = run(
        &["--http2-prior-knowledge", "-d", "abc"],
        format!("{url}\n"),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        run.records[0].http_version.as_deref(),
        Some("HTTP/2.0"),
        "{:?}",
        run.records
    );
    assert_eq!(run.records[0].size, Some(10));
    let seen = server.seen();
    assert_eq!(seen[0].version, http::Version::HTTP_2);
    assert_eq!(
        (seen[0].method.as_str(), &seen[0].body[..]),
        ("POST", &b"abc"[..])
    );
    assert_eq!(
        header(&seen[0], "content-type"),
        ["application/x-www-form-urlencoded"]
    );

    let server = Server::start();
    let url = server.url("/bytes/10");
    let run = crate::support::run(&["--http1.1"], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records[0].http_version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(server.seen()[0].version, http::Version::HTTP_11);
}

/// A listener whose accept queue is full and never drained: further SYNs are
/// dropped, so a connect neither succeeds nor fails until the client gives up.
struct FullBacklog {
    addr: std::net::SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
    _rt: tokio::runtime::Runtime,
}

impl FullBacklog {
    fn start() -> FullBacklog {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            socket.listen(1).unwrap()
        });
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        for _ in 0..16 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => queued.push(s),
                Err(_) => break,
            }
        }
        assert!(queued.len() < 16, "the accept queue never filled");
        FullBacklog {
            addr,
            _listener: listener,
            _queued: queued,
            _rt: rt,
        }
    }
}

#[test]
fn connect_timeout_ends_a_connect_that_never_completes_as_connect() {
    let target = FullBacklog::start();
    let url = format!("http://{}/", target.addr);
    let run = run(
        &["--connect-timeout", "0.5", "-t", "10"],
        format!("{url}\n"),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::failure(&url, "connect")
            .with_error("connection not established within 0.5s (--connect-timeout)")]
    );
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}",
        run.elapsed
    );
    // Without it, only the whole-URL deadline ends the wait.
    let run = crate::support::run(&["-t", "1"], format!("{url}\n"));
    assert_eq!(
        run.records[0].error_kind.as_deref(),
        Some("timeout"),
        "{:?}",
        run.records
    );
}
