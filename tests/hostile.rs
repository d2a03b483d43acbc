//! Hostile and broken peers: raw-TCP servers on `127.0.0.1:0` that close
//! kept-alive connections, reset or cut bodies, send bad chunks, huge or many
//! header fields, obs-folded fields, untrusted `Transfer-Encoding` framing,
//! odd or conflicting `Location` values, `100 Continue`, or never read; and
//! runs under a low open-file limit.
//!
//! Each case gives exactly one record of the stated kind within the deadline;
//! the records are compared whole (minus `elapsed_ms`), and what the server saw
//! on the wire is checked where it matters (request target, `Host`,
//! `Authorization`).

use std::io::Write;
use std::time::Duration;

use crate::support::{exact, lines, ok, run, Cmd, RawServer, Record, Reply, Request, Run, Server};

// ---------------------------------------------------------------------------
// The routes.

/// `302 Found` to the raw `location` bytes, with an empty body.
fn found(location: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
    r.extend_from_slice(location);
    r.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    r
}

/// Response framings that cannot be trusted: each name, the head's
/// status line and fields, and the values as the error names them.
const TE_CASES: &[(&str, &str, &str)] = &[
    (
        "identityx",
        "200 OK\r\nTransfer-Encoding: identityx",
        "identityx",
    ),
    (
        "chunked-another",
        "200 OK\r\nTransfer-Encoding: chunked, another",
        "chunked, another",
    ),
    ("gzip", "200 OK\r\nTransfer-Encoding: gzip", "gzip"),
    (
        "gzip-chunked",
        "200 OK\r\nTransfer-Encoding: gzip, chunked",
        "gzip, chunked",
    ),
    (
        "chunked-identity-length",
        "200 OK\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 5",
        "chunked, identity",
    ),
    (
        "two-fields",
        "200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
        "gzip, chunked",
    ),
    (
        "chunked-twice",
        "200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        "chunked, chunked",
    ),
    (
        "trailing-comma",
        "200 OK\r\nTransfer-Encoding: chunked,",
        "chunked,",
    ),
    (
        "redirect",
        "302 Found\r\nLocation: /te/fine/plain\r\nTransfer-Encoding: gzip",
        "gzip",
    ),
];

/// Framings that are fine: each name, the head's fields.
const TE_FINE: &[(&str, &str)] = &[
    ("plain", "Transfer-Encoding: chunked"),
    ("case-and-space", "Transfer-Encoding: \t CHUNKED \t"),
    // Transfer-Encoding overrides Content-Length (RFC 9112 sec. 6.3), as curl
    // does.
    (
        "with-length",
        "Transfer-Encoding: Chunked\r\nContent-Length: 100",
    ),
    ("folded", "Transfer-Encoding:\r\n chunked"),
];

/// The routes (`hits` counts requests for this exact target so far, this one
/// included; `port` is the server's own; `on_conn` counts the requests read on
/// this connection, this one included):
///
/// - `/ka/I`: 200 `ok` (`Content-Length`, keep-alive), then close after
///   `(I % 4) * 3` ms, or as soon as another request arrives on the
///   connection (left unread and unanswered: the peer sees a reset).
/// - `/stale/I`: as the first request on its connection, 200 `ok` kept alive;
///   on a reused connection, no response: the connection is closed, with a FIN
///   when `I / 2` is even and an RST when it is odd.
/// - `/rst`: `Content-Length: 100`, 10 bytes, then RST.
/// - `/short`: `Content-Length: 100`, 10 bytes, then close.
/// - `/badchunk/SIZE`: chunked, a chunk-size line `SIZE` (`%20` is a space),
///   then hold.
/// - `/unterminated`: chunked, one 5-byte chunk, then hold (no last chunk).
/// - `/headers/N`: 200 `ok` with N short header fields.
/// - `/bighead`: one header field with a 1 MiB value, then close.
/// - `/loc/rel`, `/loc/scheme`, `/loc/utf8`, `/loc/latin1`: 302 to a relative
///   reference, a scheme-relative one, `/caf\xc3\xa9` and `/caf\xe9` (raw bytes).
/// - `/self`: the first time, 302 to its own absolute URL; then 200 `settled`.
/// - `/continue`: `100 Continue`, then 200 `final`.
/// - `/fold/header`: 200 `folded` with two obs-folded fields (`X-Long`,
///   `Content-Type`).
/// - `/fold/loc`: 302 whose `Location` value is all on an obs-fold line, to
///   `/loc/dest?from=fold`.
/// - `/te/NAME`: a head with the `Transfer-Encoding` of [`TE_CASES`] entry
///   NAME, then the 5-byte chunk `hello` (no last chunk), then hold: only a
///   check of the head can end it before the deadline.
/// - `/te/fine/NAME`: a complete chunked `hello` framed by [`TE_FINE`] entry
///   NAME, kept alive.
/// - `/te/http10`: an HTTP/1.0 response without `Transfer-Encoding` or
///   `Content-Length`, body `hello world`, then close.
/// - `/loc/two`, `/loc/same`: 302 with two `Location` fields that differ
///   (`/loc/dest?from=a`, then `?from=b`) or that are the same
///   (`/loc/dest?from=same`).
/// - anything else: 200 `ok`.
fn route(req: &Request) -> Reply {
    let (target, hits, port, on_conn) = (req.head.target.as_str(), req.hits, req.port, req.on_conn);
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec();
    if let Some(i) = target.strip_prefix("/ka/") {
        // 0 to 9 ms: the close lands before, while or after the client sends
        // its next request on the connection.
        let delay = Duration::from_millis(i.parse::<u64>().unwrap() % 4 * 3);
        return Reply::CloseAfter(ok("ok"), delay);
    }
    if let Some(i) = target.strip_prefix("/stale/") {
        let reset = i.parse::<u64>().unwrap() / 2 % 2 == 1;
        return match (on_conn, reset) {
            (1, _) => Reply::Keep(ok("ok")),
            (_, false) => Reply::Close(Vec::new()),
            (_, true) => Reply::Reset(Vec::new(), Duration::ZERO),
        };
    }
    if let Some(size) = target.strip_prefix("/badchunk/") {
        let size = size.replace("%20", " ");
        return Reply::Hold(format!("{chunked}{size}\r\nxx\r\n").into_bytes());
    }
    if let Some(n) = target.strip_prefix("/headers/") {
        let mut r = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..n.parse::<usize>().unwrap() {
            r.push_str(&format!("X-H{i}: v{i}\r\n"));
        }
        r.push_str("Content-Length: 2\r\n\r\nok");
        return Reply::Keep(r.into_bytes());
    }
    if let Some(name) = target.strip_prefix("/te/fine/") {
        let (_, fields) = TE_FINE.iter().find(|c| c.0 == name).unwrap();
        let head = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
        return Reply::Keep(format!("{head}5\r\nhello\r\n0\r\n\r\n").into_bytes());
    }
    if let Some((_, head, _)) = target
        .strip_prefix("/te/")
        .and_then(|name| TE_CASES.iter().find(|c| c.0 == name))
    {
        return Reply::Hold(format!("HTTP/1.1 {head}\r\n\r\n5\r\nhello\r\n").into_bytes());
    }
    match target {
        "/fold/header" => Reply::Keep(
            b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n\
              Content-Length: 6\r\n\r\nfolded"
                .to_vec(),
        ),
        "/fold/loc" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation:\r\n  /loc/dest?from=fold\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/te/http10" => Reply::Close(b"HTTP/1.0 200 OK\r\n\r\nhello world".to_vec()),
        "/loc/two" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation: /loc/dest?from=a\r\n\
              Location: /loc/dest?from=b\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/loc/same" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation: /loc/dest?from=same\r\n\
              Location: /loc/dest?from=same\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
        "/rst" => Reply::Reset(cut, Duration::from_millis(200)),
        "/short" => Reply::Close(cut),
        "/unterminated" => Reply::Hold(format!("{chunked}5\r\nhello\r\n").into_bytes()),
        "/bighead" => {
            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            r.resize(r.len() + (1 << 20), b'a');
            r.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
            Reply::Close(r)
        }
        "/loc/rel" => Reply::Keep(found(b"dest?from=rel")),
        "/loc/scheme" => Reply::Keep(found(
            format!("//127.0.0.1:{port}/loc/dest?from=scheme").as_bytes(),
        )),
        "/loc/utf8" => Reply::Keep(found(b"/caf\xc3\xa9")),
        "/loc/latin1" => Reply::Keep(found(b"/caf\xe9")),
        "/self" if hits == 1 => {
            Reply::Keep(found(format!("http://127.0.0.1:{port}/self").as_bytes()))
        }
        "/self" => Reply::Keep(ok("settled")),
        "/continue" => Reply::Keep(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
                .to_vec(),
        ),
        _ => Reply::Keep(ok("ok")),
    }
}

/// The raw server answering with [`route`].
fn routed() -> RawServer {
    RawServer::new(route)
}

// ---------------------------------------------------------------------------
// Helpers for one-URL runs.

/// Runs the binary on `urls` (one a line) with `args`, and returns the records
/// in input order (`--keep-order`), after checking there is one per URL and
/// the summary, as [`Record::exact`] gives them.
fn records(args: &[&str], urls: &[String]) -> (Run, Vec<Record>) {
    let mut all = vec!["--keep-order"];
    all.extend_from_slice(args);
    let run = run(&all, lines(urls));
    assert_eq!(
        run.records.len(),
        urls.len(),
        "{:?}\n{}",
        run.records,
        run.stderr
    );
    run.checked_summary();
    let exact = exact(&run.records);
    (run, exact)
}

fn success(url: &str, status: u16, size: u64) -> Record {
    Record::success(url, status, size)
}

fn redirected(url: &str, status: u16, size: u64, final_url: &str) -> Record {
    Record::success(url, status, size)
        .with_final_url(final_url)
        .with_redirects(1)
}

// ---------------------------------------------------------------------------
// Kept-alive connections the server closes.

/// Every response is kept alive (HTTP/1.1, `Content-Length`, no `Connection:
/// close`) and the server closes the connection right after it: pooled
/// connections go stale all the time, and each such request is retried once.
#[test]
fn server_closing_each_kept_alive_connection_loses_nothing() {
    let server = routed();
    let urls: Vec<String> = (0..300).map(|i| server.url(&format!("/ka/{i}"))).collect();
    let (run, records) = records(&["-c", "4", "-t", "10"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Record> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    // Requests went out on connections the server was closing (about 130 of
    // 300 on a quiet machine); they were dropped unread, so each URL was read
    // once: on its first connection or on the retry's.
    assert!(server.dropped() >= 1, "no request hit a closing connection");
    assert_eq!(
        assert_at_most_twice_each(&server.targets(), &urls, &server),
        0
    );
}

/// Checks that the server saw each of `urls` once or twice, and nothing else;
/// returns how many were seen twice (retried).
fn assert_at_most_twice_each(targets: &[String], urls: &[String], server: &RawServer) -> usize {
    let mut retried = 0;
    for url in urls {
        let path = url.strip_prefix(&server.url("")).unwrap();
        match targets.iter().filter(|t| *t == path).count() {
            1 => {}
            2 => retried += 1,
            n => panic!("{path} was requested {n} times"),
        }
    }
    assert_eq!(targets.len(), urls.len() + retried, "{targets:?}");
    retried
}

/// Deterministic stale connections: on a reused connection the server reads
/// the request and closes (FIN, or RST for every other such URL) without a
/// response byte. Each such request is sent once more on a new connection, and
/// only once. At `-c 1` each request after a first-on-its-connection success
/// reuses that connection, so about every other URL is retried.
#[test]
fn request_on_a_connection_closed_before_any_response_byte_is_retried_once() {
    let server = routed();
    let urls: Vec<String> = (0..40)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let (run, records) = records(&["-c", "1", "-t", "10"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Record> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    let targets = server.targets();
    let retried = assert_at_most_twice_each(&targets, &urls, &server);
    assert!(retried >= 10, "only {retried} retries");
    // Both kinds of close were met: FIN (`I / 2` even) and RST (odd).
    let twice = |i: &usize| {
        targets
            .iter()
            .filter(|t| **t == format!("/stale/{i}"))
            .count()
            == 2
    };
    let kinds: std::collections::BTreeSet<usize> =
        (0..40).filter(twice).map(|i| i / 2 % 2).collect();
    assert_eq!(kinds.len(), 2, "{targets:?}");
}

/// A `304` (which has no body, RFC 9110 sec. 15.4.5) whose server sends a
/// body anyway, after the head: the connection went back to the pool, and
/// the body's bytes come before the next response on it, which then does
/// not parse. That request goes once more on a new connection, so the URL
/// after the 304 is not failed for its neighbour's bytes; a GET whose own
/// answer does not parse is still a `protocol` failure, and is not sent
/// again when its connection was new.
#[test]
fn bytes_left_by_a_304_with_a_body_do_not_fail_the_next_request() {
    let server = RawServer::new(|req: &Request| {
        if req.head.target.starts_with("/304") {
            Reply::Keep(b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec())
        } else if req.head.target.starts_with("/garbage") {
            Reply::Keep(b"not http\r\n\r\n".to_vec())
        } else if req.on_conn > 1 {
            // The late body of the 304 before it, then this response.
            Reply::Keep([b"hello".as_slice(), &ok("ok")].concat())
        } else {
            Reply::Keep(ok("ok"))
        }
    });
    let urls: Vec<String> = ["/304/a", "/ok/b", "/304/c", "/ok/d"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    let (first, got) = records(&["-c", "1", "-t", "10"], &urls);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    let want: Vec<Record> = vec![
        success(&urls[0], 304, 0),
        success(&urls[1], 200, 2),
        success(&urls[2], 304, 0),
        success(&urls[3], 200, 2),
    ];
    assert_eq!(got, want);
    // Each URL after a 304 went out twice: on the dirty connection, then
    // on a new one.
    let targets = server.targets();
    assert_eq!(
        targets,
        ["/304/a", "/ok/b", "/ok/b", "/304/c", "/ok/d", "/ok/d"]
    );

    let garbage = server.url("/garbage/e");
    let bad = run(&["-c", "1", "-t", "10"], lines(&[garbage]));
    assert_eq!(
        bad.records[0].error_kind.as_deref(),
        Some("protocol"),
        "{:?}",
        bad.records
    );
    assert_eq!(
        server
            .targets()
            .iter()
            .filter(|t| *t == "/garbage/e")
            .count(),
        1,
        "a first request on its connection is not sent again"
    );
}

/// The stale-connection retry is for idempotent methods only (RFC 9110 sec.
/// 9.2.2): the same stale connections with POST give failures and no request
/// is sent twice; with PUT, every URL succeeds after its retry.
#[test]
fn stale_connections_are_retried_for_put_but_never_for_post() {
    let server = routed();
    let urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let run = run(&["-c", "1", "-t", "10", "-d", "x"], lines(&urls));
    assert_eq!(run.records.len(), urls.len(), "{}", run.stderr);
    run.checked_summary();
    let failed: Vec<&Record> = run.records.iter().filter(|r| !r.is_success()).collect();
    assert!(failed.len() >= 5, "{:?}", run.records);
    for f in &failed {
        assert!(
            matches!(f.error_kind.as_deref(), Some("protocol" | "io")),
            "{f:?}"
        );
    }
    assert_eq!(server.targets().len(), urls.len(), "a POST was sent twice");

    let server = routed();
    let urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/stale/{i}")))
        .collect();
    let (_, records) = records(&["-c", "1", "-t", "10", "-X", "PUT", "-d", "x"], &urls);
    let want: Vec<Record> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(records, want);
    assert!(server.targets().len() >= urls.len() + 5);
}

/// The server closes a connection that stayed idle for 1 s after its last
/// response. URLs arrive on a slowly written stdin, in bursts with gaps a
/// little over and about equal to that 1 s, so pooled connections are closed
/// while idle and sometimes just as a request goes out.
#[test]
fn server_closing_idle_connections_after_one_second_loses_nothing() {
    let server = RawServer::closing_idle(Duration::from_secs(1), route);
    let bursts: Vec<Vec<String>> = (0..4)
        .map(|b| {
            (0..6)
                .map(|i| server.url(&format!("/idle/{b}/{i}")))
                .collect()
        })
        .collect();
    let gaps = [1_150, 1_000, 1_050];
    let mut running = Cmd::new(&["--keep-order", "-c", "4", "-t", "10"]).start();
    let mut stdin = running.child.stdin.take().unwrap();
    let feed = bursts.clone();
    let writer = std::thread::spawn(move || {
        for (i, burst) in feed.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(gaps[i - 1]));
            }
            stdin.write_all(lines(burst).as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
    });
    let run = running.finish().parse();
    writer.join().unwrap();
    assert_eq!(run.code(), 0, "{:?}\n{}", run.records, run.stderr);
    run.checked_summary();
    let want: Vec<Record> = bursts.concat().iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(exact(&run.records), want);
    // Connections were closed between bursts and new ones were made.
    assert!(server.connections() > 4, "{}", server.connections());
}

// ---------------------------------------------------------------------------
// Broken bodies and heads, one URL each.

/// A server that fails one URL, and what the record and the server must
/// show: the failure kind (either of two, for a reset that can land while
/// the body is read or as an I/O error), the `error` text where it is
/// fixed, the time the run must end within, the targets the server saw
/// where that matters, and one connection (nothing sent again).
#[test]
fn broken_bodies_and_heads_fail_promptly_with_their_kind() {
    struct Case {
        name: &'static str,
        server: fn() -> RawServer,
        path: &'static str,
        args: &'static [&'static str],
        kinds: &'static [&'static str],
        error: Option<&'static str>,
        within: Option<Duration>,
        targets: Option<&'static [&'static str]>,
    }
    let secs = |n| Some(Duration::from_secs(n));
    let cases = [
        Case {
            name: "reset in the middle of the body",
            server: routed,
            path: "/rst",
            args: &["-t", "5"],
            kinds: &["body", "io"],
            error: None,
            within: secs(4),
            targets: None,
        },
        // A body cut short is not a stale connection: no second request.
        Case {
            name: "Content-Length longer than the body, then close",
            server: routed,
            path: "/short",
            args: &["-t", "5"],
            kinds: &["protocol"],
            error: None,
            within: None,
            targets: Some(&["/short"]),
        },
        Case {
            name: "unterminated chunked body",
            server: routed,
            path: "/unterminated",
            args: &["-t", "1"],
            kinds: &["timeout"],
            error: Some("timeout after 1s"),
            within: secs(3),
            targets: None,
        },
        Case {
            name: "one mebibyte response header",
            server: routed,
            path: "/bighead",
            args: &["-t", "10"],
            kinds: &["protocol"],
            error: None,
            within: secs(3),
            targets: Some(&["/bighead"]),
        },
        // The server never reads the request.
        Case {
            name: "never reads",
            server: RawServer::never_reading,
            path: "/x",
            args: &["-t", "1"],
            kinds: &["timeout"],
            error: Some("timeout after 1s"),
            within: secs(3),
            targets: Some(&[]),
        },
        // hyper's check (RFC 9112 sec. 6.1), also at once.
        Case {
            name: "Transfer-Encoding on HTTP/1.0",
            server: || {
                RawServer::every(Reply::Hold(
                    b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec(),
                ))
            },
            path: "/x",
            args: &["-t", "10"],
            kinds: &["protocol"],
            error: None,
            within: secs(5),
            targets: None,
        },
    ];
    for case in cases {
        let name = case.name;
        let server = (case.server)();
        let url = server.url(case.path);
        let (run, got) = records(case.args, std::slice::from_ref(&url));
        assert_eq!(run.code(), 1, "{name}");
        let kind = got[0].error_kind.clone().unwrap_or_default();
        assert!(case.kinds.contains(&kind.as_str()), "{name}: {:?}", got[0]);
        let want = Record::failure(&url, &kind);
        match case.error {
            Some(e) => assert_eq!(got, [want.with_error(e)], "{name}"),
            None => assert_eq!(run.records[0].without_error(), want, "{name}"),
        }
        if let Some(limit) = case.within {
            assert!(run.elapsed < limit, "{name}: {:?}", run.elapsed);
        }
        if let Some(targets) = case.targets {
            assert_eq!(server.targets(), targets, "{name}");
        }
        assert_eq!(server.connections(), 1, "{name}");
    }
}

/// Chunk-size lines that are not hexadecimal, negative, or too big for 64
/// bits. The server then holds the connection, so only the parser can end it.
#[test]
fn malformed_chunk_sizes_are_protocol() {
    let server = routed();
    let urls: Vec<String> = ["zz", "-5", "1ffffffffffffffff", "5%20x"]
        .iter()
        .map(|s| server.url(&format!("/badchunk/{s}")))
        .collect();
    let (run, _) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 1);
    let got: Vec<Record> = run.records.iter().map(Record::without_error).collect();
    let want: Vec<Record> = urls
        .iter()
        .map(|u| Record::failure(u, "protocol"))
        .collect();
    assert_eq!(got, want);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

/// Many short header fields, `100 Continue` before the final response, and
/// obs-folded fields (RFC 9112 sec. 5.2: the fold replaced by spaces, as
/// curl does), on a 200 and as the whole value of a `Location`, all succeed.
#[test]
fn many_headers_100_continue_and_obs_folds_succeed() {
    let server = routed();
    let urls = [
        server.url("/headers/150"),
        server.url("/headers/1000"),
        server.url("/continue"),
        server.url("/fold/header"),
        server.url("/fold/loc"),
    ];
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let dest = server.url("/loc/dest?from=fold");
    assert_eq!(
        got,
        [
            success(&urls[0], 200, 2),
            success(&urls[1], 200, 2),
            success(&urls[2], 200, 5),
            // The folded Content-Type, unfolded.
            Record {
                content_type: Some("text/plain; charset=utf-8".into()),
                ..success(&urls[3], 200, 6)
            },
            redirected(&urls[4], 200, 2, &dest)
        ]
    );
}

// ---------------------------------------------------------------------------
// Body framing.

/// Every `Transfer-Encoding` other than a single `chunked` fails at once as
/// `protocol`, naming the values, before a redirect is followed or a body
/// byte read. The server holds each connection open after the head and a
/// chunk, so reading until close would end in a timeout instead.
#[test]
fn untrusted_transfer_encodings_are_protocol_at_once() {
    let server = routed();
    let urls: Vec<String> = TE_CASES
        .iter()
        .map(|(name, _, _)| server.url(&format!("/te/{name}")))
        .collect();
    let (run, got) = records(&["-t", "10"], &urls);
    assert_eq!(run.code(), 1);
    let want: Vec<Record> = TE_CASES
        .iter()
        .zip(&urls)
        .map(|((_, _, shown), url)| {
            Record::failure(url, "protocol").with_error(&format!(
                "unsupported Transfer-Encoding \"{shown}\": only a single \"chunked\" is accepted"
            ))
        })
        .collect();
    assert_eq!(got, want);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    // Each refused response's connection was closed, never reused.
    assert_eq!(server.connections(), urls.len());
    // The redirect was not followed.
    assert!(!server.targets().iter().any(|t| t.starts_with("/te/fine/")));
}

/// A single `chunked` in any case, with whitespace around it, alongside a
/// `Content-Length` or obs-folded, is read as chunked; an HTTP/1.0 body
/// without framing is read until the server closes; a HEAD response's
/// `Transfer-Encoding` is not checked (it has no body).
#[test]
fn trusted_framing_still_works() {
    let server = routed();
    let urls: Vec<String> = TE_FINE
        .iter()
        .map(|(name, _)| server.url(&format!("/te/fine/{name}")))
        .collect();
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Record> = urls.iter().map(|u| success(u, 200, 5)).collect();
    assert_eq!(got, want);

    let url = server.url("/te/http10");
    let run = crate::support::run(&["-t", "5"], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        run.records.iter().map(Record::untimed).collect::<Vec<_>>(),
        [success(&url, 200, 11).with_http_version("HTTP/1.0")]
    );

    let url = server.url("/te/gzip");
    let (run, got) = records(&["-t", "5", "-X", "HEAD"], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(got, [success(&url, 200, 0)]);
}

// ---------------------------------------------------------------------------
// Location values.

/// Two `Location` fields that differ are refused when the redirect would be
/// followed; with `--max-redirects 0` the 302 is the result. Two identical
/// fields are followed.
#[test]
fn differing_location_fields_are_protocol_identical_ones_are_followed() {
    let server = routed();
    let urls = [server.url("/loc/two"), server.url("/loc/same")];
    let (run, got) = records(&["-t", "5"], &urls);
    assert_eq!(run.code(), 1);
    assert_eq!(
        got,
        [
            Record::failure(&urls[0], "protocol").with_error(
                r#"conflicting Location fields: "/loc/dest?from=a", "/loc/dest?from=b""#
            ),
            redirected(&urls[1], 200, 2, &server.url("/loc/dest?from=same")),
        ]
    );
    let mut targets = server.targets();
    targets.sort();
    assert_eq!(targets, ["/loc/dest?from=same", "/loc/same", "/loc/two"]);

    let (run, got) = records(&["--max-redirects", "0"], &urls[..1]);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    // `location` is the first field's, as curl's redirect_url.
    assert_eq!(
        got,
        [success(&urls[0], 302, 0).with_location(&server.url("/loc/dest?from=a"))]
    );
}

/// Each `Location` value, where it leads, and the record's size there:
/// a relative reference is resolved against the request URL; a
/// scheme-relative one keeps the scheme; raw UTF-8 bytes are followed
/// percent-encoded; a byte that is not UTF-8 (latin-1 `é`, 0xE9) is
/// percent-encoded as the byte it is, as curl does, not replaced; and a
/// redirect to the same URL that settles on the second request is a
/// success, not a loop.
#[test]
fn location_values_are_followed_as_curl_does() {
    let cases = [
        ("/loc/rel", "/loc/dest?from=rel", 2),
        ("/loc/scheme", "/loc/dest?from=scheme", 2),
        ("/loc/utf8", "/caf%C3%A9", 2),
        ("/loc/latin1", "/caf%E9", 2),
        ("/self", "/self", 7),
    ];
    for (path, dest, size) in cases {
        let server = routed();
        let url = server.url(path);
        let (run, records) = records(&[], std::slice::from_ref(&url));
        assert_eq!(run.code(), 0, "{path}: {}", run.stderr);
        assert_eq!(
            records,
            [redirected(&url, 200, size, &server.url(dest))],
            "{path}"
        );
        assert_eq!(server.targets(), [path, dest], "{path}");
    }
}

// ---------------------------------------------------------------------------
// What goes on the wire.

#[test]
fn fragment_is_never_sent_but_is_echoed() {
    let server = routed();
    let url = server.url("/page?q=1#sec");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [success(&url, 200, 2)]);
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].request_line(), "GET /page?q=1 HTTP/1.1");
    assert!(!heads[0].raw.contains(&b'#'), "{:?}", heads[0]);
}

#[test]
fn userinfo_becomes_basic_auth_and_stays_off_the_request_line_and_host() {
    let server = routed();
    let host = format!("127.0.0.1:{}", server.port());
    let url = format!("http://u:p@{host}/x");
    let (run, records) = records(&[], std::slice::from_ref(&url));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(records, [success(&url, 200, 2)]);
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    let head = &heads[0];
    assert_eq!(head.request_line(), "GET /x HTTP/1.1");
    assert_eq!(head.header("authorization"), ["Basic dTpw"]);
    assert_eq!(head.header("host"), [host]);
    let text = String::from_utf8_lossy(&head.raw);
    assert!(!text.contains("u:p"), "{text}");
}

// ---------------------------------------------------------------------------
// File descriptors.

/// Under an open-file limit of 64 (soft and hard, so it cannot be raised),
/// `-c 500` is capped to what fits, said once on stderr, and every one of
/// 2,000 URLs still gets exactly one record.
#[test]
fn open_file_limit_of_64_caps_the_concurrency_and_loses_nothing() {
    let server = Server::start();
    // Each answer waits 20 ms, so the capped number of sockets is open at once.
    let urls: Vec<String> = (0..2000)
        .map(|i| server.url(&format!("/delay/20?{i}")))
        .collect();
    let run = Cmd::new(&[
        "--keep-order",
        "-c",
        "500",
        "-t",
        "10",
        "--max-per-host",
        "0",
    ])
    .open_file_limit(64)
    .run(lines(&urls));
    run.assert_all_succeeded();
    assert_eq!(run.code(), 0, "{}", run.stderr);
    run.checked_summary();
    let want: Vec<Record> = urls.iter().map(|u| success(u, 200, 2)).collect();
    assert_eq!(exact(&run.records), want);
    assert_eq!(
        run.notices(),
        [serde_json::json!({
            "type": "warning",
            "kind": "open_file_limit",
            "message": "--max-concurrency 500 does not fit the open-file limit (64); using 48",
            "flag": "--max-concurrency",
        })],
        "{}",
        run.stderr
    );
    assert!((2..=48).contains(&server.peak()), "peak {}", server.peak());
}

/// Many distinct origins under a low open-file limit: idle keep-alive
/// connections (one per origin in the pool) must not fill the limit, or later
/// connects fail with "Too many open files".
#[test]
fn many_distinct_origins_under_a_low_open_file_limit_all_succeed() {
    // Keep-alive HTTP/1.1, "ok" to each request.
    let origins: Vec<RawServer> = (0..200)
        .map(|_| RawServer::every(Reply::Keep(ok("ok"))))
        .collect();
    let urls: Vec<String> = origins.iter().map(|o| o.url("/")).collect();
    let run = Cmd::new(&["-c", "2", "-t", "10", "-q"])
        .open_file_limit(64)
        .run(lines(&urls));
    run.assert_all_succeeded();
    assert_eq!(run.records.len(), origins.len());
    assert_eq!(run.code(), 0, "{}", run.stderr);
}

/// Many distinct host names over HTTP/2 (h2c with prior knowledge), under an
/// open-file limit far below the number of hosts: each host's connection
/// goes idle after its one request, and the pool closes the least recently
/// used ones past its idle cap, so no connect fails for want of a descriptor.
#[test]
fn many_distinct_http2_hosts_under_a_low_open_file_limit_all_succeed() {
    const HOSTS: usize = 2000;
    let server = Server::start();
    // `*.localhost` names resolve to loopback without a query (RFC 6761).
    let urls: Vec<String> = (0..HOSTS)
        .map(|i| format!("http://n{i}.h.localhost:{}/?{i}", server.port()))
        .collect();
    let run = Cmd::new(&["--http2-prior-knowledge", "-c", "16", "-t", "20", "-q"])
        .open_file_limit(64)
        .run(lines(&urls));
    run.assert_all_succeeded();
    assert_eq!(run.records.len(), HOSTS);
    assert!(run
        .records
        .iter()
        .all(|r| r.http_version.as_deref() == Some("HTTP/2.0")));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(server.hits(), HOSTS);
}

/// Many distinct hosts under a high open-file limit: idle keep-alive
/// connections stay within the pool's idle cap (256), not one per host up to
/// the limit (300,000 hosts would keep tens of thousands of sockets open and
/// use up the ephemeral ports).
#[test]
fn idle_connections_to_many_hosts_stay_within_the_cap() {
    const HOSTS: usize = 600;
    let server = RawServer::every(Reply::Keep(ok("ok")));
    // `hN.localhost` names resolve to loopback without a query (RFC 6761), and
    // each is its own origin in the pool.
    let urls: Vec<String> = (0..HOSTS)
        .map(|i| format!("http://h{i}.localhost:{}/", server.port()))
        .collect();
    let run = run(&["-c", "8", "-t", "10"], lines(&urls));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), HOSTS);
    assert!(run.records.iter().all(Record::is_success));
    let peak = server.peak_open();
    assert!(
        peak <= 256 + 8 + 16,
        "peak of {peak} connections open at once"
    );
}
