//! The facts of the final response and its connection in records: header
//! values, `location`, `--include-header`, `--hash sha256`, `remote_addr`,
//! `reused` and the phase timings.

use crate::support::{
    lines, ok, run, Cmd, HttpMode, HttpProxy, Leaf, Options, Pki, RawServer, Record, Reply, Server,
};

/// SHA-256 of `ok`.
const SHA256_OK: &str = "2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df";
/// SHA-256 of 1000 bytes `x` (`/bytes/1000`).
const SHA256_X1000: &str = "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f";
/// SHA-256 of 1000 bytes `c` (`/chunked/1000`, in three chunks).
const SHA256_C1000: &str = "efeea944a76157a88d281091b6a79608653bc1f14a11d0357431c197701b6155";
/// SHA-256 of the empty string.
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A server whose `/meta` answer has every header fact, two `X-A` lines and
/// a non-UTF-8 `X-B`; `/moved/*` answers with 3xx responses; anything else
/// is a bare `200 ok`.
fn meta_server() -> RawServer {
    RawServer::new(|r| match r.head.target.as_str() {
        "/meta" => Reply::Keep(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
              ETag: W/\"v1\"\r\nLast-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\n\
              X-A: 1\r\nx-a: 2\r\nX-B: caf\xe9\r\nContent-Length: 2\r\n\r\nok"
                .to_vec(),
        ),
        "/moved/rel" => Reply::Keep(
            b"HTTP/1.1 302 Found\r\nLocation: ../next?x=1\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        "/moved/bad" => Reply::Keep(
            b"HTTP/1.1 301 Moved\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        "/moved/none" => Reply::Keep(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n".to_vec()),
        "/created" => Reply::Keep(
            b"HTTP/1.1 201 Created\r\nLocation: /thing\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        _ => Reply::Keep(ok("ok")),
    })
}

#[test]
fn header_facts_are_copied_as_sent_and_named_headers_joined() {
    let server = meta_server();
    let (meta, plain) = (server.url("/meta"), server.url("/plain"));
    let args = [
        "-i",
        "X-A",
        "--include-header",
        "x-b",
        "-i",
        "X-None",
        "--keep-order",
    ];
    let run = run(&args, lines(&[&meta, &plain]));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want_meta = Record {
        content_type: Some("text/html; charset=utf-8".into()),
        etag: Some("W/\"v1\"".into()),
        last_modified: Some("Tue, 15 Nov 1994 08:12:31 GMT".into()),
        ..Record::success(&meta, 200, 2)
    }
    .with_headers(&[("x-a", "1, 2"), ("x-b", "caf\u{fffd}")]);
    // A response with none of the named fields gets no `headers`.
    assert_eq!(
        crate::support::exact(&run.records),
        [want_meta, Record::success(&plain, 200, 2)]
    );
}

#[test]
fn location_of_a_final_3xx_is_resolved_or_kept_as_sent() {
    let server = meta_server();
    let urls = [
        server.url("/moved/rel"),
        server.url("/moved/bad"),
        server.url("/moved/none"),
        server.url("/created"),
    ];
    let run = run(&["--max-redirects", "0", "--keep-order"], lines(&urls));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        crate::support::exact(&run.records),
        [
            Record::success(&urls[0], 302, 0).with_location(&server.url("/next?x=1")),
            Record::success(&urls[1], 301, 0).with_location("http://[::1"),
            Record::success(&urls[2], 302, 0),
            // Not a 3xx: no `location`.
            Record::success(&urls[3], 201, 0),
        ]
    );
}

#[test]
fn sha256_digests_the_counted_body_of_successes_and_status_failures() {
    let server = Server::start();
    let urls = [
        server.url("/bytes/1000"),
        server.url("/chunked/1000"),
        server.url("/status/404"),
    ];
    let args = ["--hash", "sha256", "--keep-order", "--accept", "200"];
    let run = run(&args, lines(&urls));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    let rejected = Record {
        status: Some(404),
        ..Record::failure(&urls[2], "status").with_error("status 404 is not in --accept")
    };
    assert_eq!(
        crate::support::exact(&run.records),
        [
            Record::success(&urls[0], 200, 1000).with_sha256(SHA256_X1000),
            Record::success(&urls[1], 200, 1000).with_sha256(SHA256_C1000),
            rejected
                .with_sha256("25769985548fa9206b99325f1c1e07b614f8440ba881f5e883c0b009e985da38"),
        ]
    );
    // HEAD: the empty body's digest.
    let url = server.url("/bytes/1000");
    let run = crate::support::run(&["--hash", "sha256", "-X", "HEAD"], lines(&[&url]));
    assert_eq!(
        crate::support::exact(&run.records),
        [Record::success(&url, 200, 0).with_sha256(SHA256_EMPTY)]
    );
    // Decoded bytes with --compressed (the server sends no coding here).
    let url = server.url("/");
    let run = crate::support::run(&["--hash", "sha256", "--compressed"], lines(&[&url]));
    assert_eq!(
        crate::support::exact(&run.records),
        [Record::success(&url, 200, 2)
            .with_wire_size(2)
            .with_sha256(SHA256_OK)]
    );
}

#[test]
fn bad_include_header_names_and_hash_algorithms_are_usage_errors() {
    for args in [
        &["-i", "X A"][..],
        &["-i", ""],
        &["-i", "a:b"],
        &["--hash", "md5"],
    ] {
        let run = run(args, "http://127.0.0.1:9/\n");
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr);
        assert!(run.records.is_empty(), "{args:?}");
        assert!(!run.stderr.contains('{'), "{args:?}: {}", run.stderr);
    }
}

/// Two URLs one after the other (`-c 1`): the first opens a connection, the
/// second reuses it; returns both records.
fn two_in_a_row(args: &[&str], urls: [String; 2]) -> Vec<Record> {
    let mut all = vec!["-c", "1"];
    all.extend_from_slice(args);
    let run = Cmd::new(&all).run(lines(&urls));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2, "{:?}", run.records);
    run.records
}

#[test]
fn a_new_plain_connection_has_connect_then_a_reused_one_has_none() {
    let server = Server::start();
    for host in ["127.0.0.1", "localhost"] {
        let url = |p: &str| format!("http://{host}:{}{p}", server.port());
        let mut got = two_in_a_row(&[], [url("/1"), url("/2")]);
        let first = got[0].connection();
        assert_eq!(first.remote_addr, Some(server.addr()), "{host}");
        assert!(first.connect_ms.is_some(), "{host}: {first:?}");
        // No lookup for an IP address or localhost, no TLS on http.
        assert_eq!(
            (first.dns_ms, first.tls_ms, first.reused),
            (None, None, None)
        );
        let second = got[1].connection();
        assert!(second.reused(), "{host}: {second:?}");
        assert_eq!(second.remote_addr, Some(server.addr()));
        assert_eq!(
            (second.dns_ms, second.connect_ms, second.tls_ms),
            (None, None, None)
        );
        assert!(second.ttfb_ms.is_some());
    }
    assert_eq!(server.accepted(), 2, "one connection per host name");
}

#[test]
fn https_connections_have_tls_ms_over_http2_and_http1() {
    let pki = Pki::generate();
    for (h2, version) in [(true, "HTTP/2.0"), (false, "HTTP/1.1")] {
        let server = Server::https(
            pki.leaf(Leaf::Good),
            Options {
                h2,
                ..Options::default()
            },
        );
        let urls = [
            server.url_for("example.test", "/bytes/1"),
            server.url_for("example.test", "/bytes/2"),
        ];
        let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
        let mut got = two_in_a_row(&["--cacert", &ca, "--resolve", &resolve], urls);
        assert_eq!(got[0].http_version.as_deref(), Some(version));
        let first = got[0].connection();
        assert_eq!(first.remote_addr, Some(server.addr()));
        // --resolve: no lookup.
        assert_eq!(first.dns_ms, None, "{first:?}");
        assert!(
            first.connect_ms.is_some() && first.tls_ms.is_some(),
            "{first:?}"
        );
        // The response head comes after the handshake.
        assert!(first.ttfb_ms >= first.tls_ms, "{first:?}");
        let second = got[1].connection();
        assert!(second.reused(), "{version}: {second:?}");
        assert_eq!(second.tls_ms, None);
        assert_eq!(server.handshakes(), 1, "{version}");
    }
}

#[test]
fn through_an_http_proxy_remote_addr_is_the_proxy() {
    let origin = Server::start();
    let proxy = HttpProxy::start(HttpMode::Open);
    let url = origin.url("/bytes/3");
    let run = Cmd::new(&["-x", &proxy.url("")]).run(lines(&[&url]));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let mut record = run.records[0].clone();
    let c = record.connection();
    let proxy_port: u16 = proxy.url("").rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(c.remote_addr.map(|a| a.port()), Some(proxy_port));
    assert_ne!(proxy_port, origin.port());
}
