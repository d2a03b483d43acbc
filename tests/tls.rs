//! TLS tests for issue 3 (item 4, and the HTTP/2 GOAWAY case of item 5): the
//! binary against in-process HTTPS servers on `127.0.0.1:0`, with a test CA and
//! server certificates made by rcgen at test time.
//!
//! A test target of its own (`cargo test --test tls`); it shares the binary
//! runner of `integration/util.rs` and keeps its servers in `tls/support.rs`.
//! Host names are reached through `--resolve`, so no lookup leaves the machine.

// The binary runner (`run`, `Run`) and the plain-HTTP server of the main suite.
#[path = "integration/util.rs"]
#[allow(dead_code)]
mod util;

// The test PKI, the HTTPS server and the handshake-stalling server.
#[path = "tls/support.rs"]
mod support;

use std::time::Duration;

use serde_json::{json, Value};

use support::{Leaf, Options, Pki, StallServer, TlsServer};
use util::{run, Run};

/// Runs the binary with `args` and the URLs as stdin lines.
fn fetch(args: &[&str], urls: &[String]) -> Run {
    let mut stdin = urls.join("\n");
    stdin.push('\n');
    run(args, stdin)
}

/// The record without its `elapsed_ms` (checked to be a number).
fn without_elapsed(record: &Value) -> Value {
    let mut r = record.clone();
    let ms = r.as_object_mut().unwrap().remove("elapsed_ms");
    assert!(
        ms.as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|ms| ms >= 0.0),
        "elapsed_ms in {record}"
    );
    r
}

/// Asserts that `record` is exactly a `kind` failure for `url` whose `error`
/// contains each of `reasons` (parts of rustls's `Display` for the error).
fn assert_failure(record: &Value, url: &str, kind: &str, reasons: &[&str]) {
    let error = record["error"].as_str().unwrap_or_default();
    for part in reasons {
        assert!(error.contains(part), "error should say {part:?}: {record}");
    }
    let mut r = without_elapsed(record);
    r.as_object_mut().unwrap().remove("error");
    assert_eq!(
        r,
        json!({"type": "failure", "url": url, "error_kind": kind}),
        "{record}"
    );
}

/// Runs one URL and returns its only record, after checking the exit code and
/// the summary.
fn one(args: &[&str], url: &str, code: i32) -> Value {
    let r = fetch(args, &[url.to_owned()]);
    assert_eq!(r.code(), code, "stderr: {}", r.stderr);
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    r.checked_summary();
    r.records[0].clone()
}

// ---------------------------------------------------------------------------
// Verification succeeds.

#[test]
fn test_ca_and_resolve_give_http2() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let urls = [
        server.url_for("example.test", "/bytes/1234"),
        server.url_for("example.test", "/bytes/0"),
        server.url_for("EXAMPLE.test", "/"),
    ];
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let got: Vec<Value> = r.sorted().iter().map(without_elapsed).collect();
    let want: Vec<Value> = [(&urls[2], 2), (&urls[1], 0), (&urls[0], 1234)]
        .iter()
        .map(|(url, size)| {
            json!({"type": "success", "url": url, "status": 200, "size": size,
                   "http_version": "HTTP/2.0"})
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn alpn_http11_only_gives_http11() {
    let pki = Pki::new();
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let server = TlsServer::start(pki.leaf(Leaf::Good), options);
    let url = server.url_for("example.test", "/bytes/77");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 0);
    assert_eq!(
        without_elapsed(&rec),
        json!({"type": "success", "url": url, "status": 200, "size": 77,
               "http_version": "HTTP/1.1"})
    );
}

#[test]
fn https_to_an_ip_address_verifies_against_ip_sans() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let url = server.url_for("127.0.0.1", "/bytes/5");
    let rec = one(&["--cacert", &pki.ca_pem()], &url, 0);
    assert_eq!(
        without_elapsed(&rec),
        json!({"type": "success", "url": url, "status": 200, "size": 5,
               "http_version": "HTTP/2.0"})
    );
}

#[test]
fn forced_versions_choose_what_alpn_offers() {
    let pki = Pki::new();
    let both = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let ca = pki.ca_pem();
    let url = both.url_for("127.0.0.1", "/bytes/3");
    let version = |flag: &str| one(&["--cacert", &ca, flag], &url, 0)["http_version"].clone();
    assert_eq!(version("--http1.1"), "HTTP/1.1");
    assert_eq!(version("--http2-prior-knowledge"), "HTTP/2.0");
    // A server without h2: no protocol in common, the handshake fails.
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let http1 = TlsServer::start(pki.leaf(Leaf::Good), options);
    let url = http1.url_for("127.0.0.1", "/");
    let rec = one(&["--cacert", &ca, "--http2-prior-knowledge"], &url, 1);
    assert_eq!(rec["error_kind"], "tls", "{rec}");
    assert_eq!(http1.requests(), 0);
}

// ---------------------------------------------------------------------------
// Verification fails: a `tls` failure whose `error` names the reason.

#[test]
fn without_the_test_ca_the_issuer_is_unknown() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let url = server.url_for("example.test", "/");
    let rec = one(&["--resolve", &server.resolve("example.test")], &url, 1);
    assert_failure(
        &rec,
        &url,
        "tls",
        &["invalid peer certificate: UnknownIssuer"],
    );
    assert_eq!(server.handshakes(), 0);
    assert_eq!(server.requests(), 0);
}

#[test]
fn an_expired_certificate_is_rejected() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Expired), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    // 978307200 is 2001-01-01T00:00:00Z, the certificate's notAfter.
    assert_failure(
        &rec,
        &url,
        "tls",
        &[
            "invalid peer certificate: certificate expired: verification time ",
            "but certificate is not valid after 978307200 (",
        ],
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_not_yet_valid_certificate_is_rejected() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::NotYetValid), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    // 3786912000 is 2090-01-01T00:00:00Z, the certificate's notBefore.
    assert_failure(
        &rec,
        &url,
        "tls",
        &[
            "invalid peer certificate: certificate not valid yet: verification time ",
            "but certificate is not valid before 3786912000 (",
        ],
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_wrong_name_certificate_is_rejected() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::OtherName), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    assert_failure(
        &rec,
        &url,
        "tls",
        &[concat!(
            "invalid peer certificate: certificate not valid for name \"example.test\"; ",
            "certificate is only valid for DnsName(\"other.test\")"
        )],
    );
    // An IP address that is not among the SANs fails the same way.
    let url = server.url_for("127.0.0.1", "/");
    let rec = one(&["--cacert", &ca], &url, 1);
    assert_failure(
        &rec,
        &url,
        "tls",
        &[concat!(
            "invalid peer certificate: certificate not valid for name \"127.0.0.1\"; ",
            "certificate is only valid for DnsName(\"other.test\")"
        )],
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_self_signed_certificate_is_rejected_even_with_the_test_ca() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::SelfSigned), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    assert_failure(
        &rec,
        &url,
        "tls",
        &["invalid peer certificate: UnknownIssuer"],
    );
    assert_eq!(server.requests(), 0);
}

// ---------------------------------------------------------------------------
// --insecure.

#[test]
fn insecure_accepts_self_signed_and_wrong_name_certificates() {
    let pki = Pki::new();
    let self_signed = TlsServer::start(pki.leaf(Leaf::SelfSigned), Options::default());
    let wrong_name = TlsServer::start(pki.leaf(Leaf::OtherName), Options::default());
    for flag in ["--insecure", "-k"] {
        for server in [&self_signed, &wrong_name] {
            let url = server.url_for("example.test", "/bytes/9");
            let resolve = server.resolve("example.test");
            let rec = one(&[flag, "--resolve", &resolve], &url, 0);
            assert_eq!(
                without_elapsed(&rec),
                json!({"type": "success", "url": url, "status": 200, "size": 9,
                       "http_version": "HTTP/2.0"}),
                "{flag}"
            );
        }
    }
    assert_eq!(self_signed.requests(), 2);
    assert_eq!(wrong_name.requests(), 2);
}

// ---------------------------------------------------------------------------
// Deadlines and connection reuse.

#[test]
fn a_handshake_that_stalls_hits_the_deadline() {
    let server = StallServer::start();
    let url = format!("https://example.test:{}/", server.port());
    let resolve = format!("example.test:{}:127.0.0.1", server.port());
    let r = fetch(
        &["-t", "1", "--resolve", &resolve],
        std::slice::from_ref(&url),
    );
    assert_eq!(r.code(), 1, "stderr: {}", r.stderr);
    assert_eq!(r.records.len(), 1);
    r.checked_summary();
    assert_eq!(
        without_elapsed(&r.records[0]),
        json!({"type": "failure", "url": url, "error": "timeout after 1s",
               "error_kind": "timeout"})
    );
    assert!(r.elapsed < Duration::from_secs(3), "took {:?}", r.elapsed);
    assert_eq!(server.client_hellos(), 1);
}

#[test]
fn connect_timeout_covers_the_tls_handshake() {
    let server = StallServer::start();
    let url = format!("https://example.test:{}/", server.port());
    let resolve = format!("example.test:{}:127.0.0.1", server.port());
    let args = [
        "--connect-timeout",
        "0.5",
        "-t",
        "10",
        "--resolve",
        &resolve,
    ];
    let r = fetch(&args, std::slice::from_ref(&url));
    assert_eq!(r.code(), 1, "stderr: {}", r.stderr);
    r.checked_summary();
    assert_eq!(
        without_elapsed(&r.records[0]),
        json!({"type": "failure", "url": url, "error_kind": "connect",
               "error": "connection not established within 0.5s (--connect-timeout)"})
    );
    assert!(r.elapsed < Duration::from_secs(4), "took {:?}", r.elapsed);
    assert_eq!(server.client_hellos(), 1);
}

/// Each connection is shut down gracefully (GOAWAY) once 5 requests have
/// arrived on it; streams the client opened after the server's last stream id
/// were never processed, so they must be retried on another connection.
#[test]
fn http2_goaway_after_n_streams_loses_no_url() {
    const PER_CONNECTION: usize = 5;
    const URLS: usize = 200;
    let pki = Pki::new();
    let options = Options {
        goaway_after: Some(PER_CONNECTION),
        ..Options::default()
    };
    let server = TlsServer::start(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{i}")))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "4", "--cacert", &ca, "--resolve", &resolve], &urls);
    let failures: Vec<&Value> = r
        .records
        .iter()
        .filter(|r| r["type"] != "success")
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {}; the server handled {} requests (per connection {:?})",
        failures.len(),
        failures[0],
        server.requests(),
        server.requests_per_connection()
    );
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let mut got: Vec<Value> = r.records.iter().map(without_elapsed).collect();
    got.sort_by_key(|r| r["size"].as_u64());
    let want: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            json!({"type": "success", "url": url, "status": 200, "size": i,
                   "http_version": "HTTP/2.0"})
        })
        .collect();
    assert_eq!(got, want);
    // Every URL was handled, and the server did send GOAWAY: the requests were
    // spread over many connections. h2 gives a stream cut off by the closing
    // connection the same GOAWAY error as a refused one, so now and then a GET
    // the server had already handled is repeated (allowed for idempotent
    // methods, RFC 9110 sec. 9.2.2): a few more requests than URLs are fine.
    let per_conn = server.requests_per_connection();
    let handled = per_conn.iter().sum::<usize>();
    assert!(
        (URLS..=URLS + URLS / 20).contains(&handled),
        "{handled}: {per_conn:?}"
    );
    let used = per_conn.iter().filter(|&&n| n > 0).count();
    assert!(used >= URLS / (4 * PER_CONNECTION), "{per_conn:?}");
}

#[test]
fn many_urls_share_few_http2_connections() {
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let urls: Vec<String> = (0..200)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 7)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "8", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    assert_eq!(r.records.len(), 200);
    r.checked_summary();
    for (got, (i, url)) in r.sorted().iter().zip(sorted_with_index(&urls)) {
        assert_eq!(
            without_elapsed(got),
            json!({"type": "success", "url": url, "status": 200, "size": i % 7,
                   "http_version": "HTTP/2.0"})
        );
    }
    assert_eq!(server.requests(), 200);
    assert!(
        server.connections() <= 8,
        "{} connections for 200 URLs at -c 8",
        server.connections()
    );
}

/// The URLs with their input index, sorted by URL (as `Run::sorted` sorts).
fn sorted_with_index(urls: &[String]) -> Vec<(usize, &String)> {
    let mut v: Vec<(usize, &String)> = urls.iter().enumerate().collect();
    v.sort_by(|a, b| a.1.cmp(b.1));
    v
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2, nothing fetched.

#[test]
fn bad_resolve_syntax_is_a_usage_error() {
    let server = util::Server::start();
    let url = server.url("/");
    for bad in [
        "example.test:80",
        "example.test:http:127.0.0.1",
        ":80:127.0.0.1",
        "example.test:80:not-an-address",
        "example.test:70000:127.0.0.1",
    ] {
        let r = fetch(&["--resolve", bad], std::slice::from_ref(&url));
        assert_eq!(r.code(), 2, "{bad}: stderr {}", r.stderr);
        assert!(r.records.is_empty(), "{bad}: {:?}", r.records);
        assert!(r.stderr.contains("--resolve"), "{bad}: {}", r.stderr);
        assert!(r.stderr.contains(bad), "{bad}: {}", r.stderr);
    }
    assert_eq!(server.hits(), 0);
}

#[test]
fn unreadable_cacert_is_a_usage_error_naming_the_file() {
    let server = util::Server::start();
    let url = server.url("/");
    let r = fetch(
        &["--cacert", "/nonexistent/ca.pem"],
        std::slice::from_ref(&url),
    );
    assert_eq!(r.code(), 2, "stderr: {}", r.stderr);
    assert!(r.records.is_empty(), "{:?}", r.records);
    assert!(r.stderr.contains("/nonexistent/ca.pem"), "{}", r.stderr);
    assert!(r.stderr.contains("--cacert"), "{}", r.stderr);
    // A file without any certificate is refused the same way.
    let pki = Pki::new();
    let empty = format!("{}.empty", pki.ca_pem());
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let r = fetch(&["--cacert", &empty], std::slice::from_ref(&url));
    assert_eq!(r.code(), 2, "stderr: {}", r.stderr);
    assert!(r.records.is_empty(), "{:?}", r.records);
    assert!(r.stderr.contains(&empty), "{}", r.stderr);
    assert!(r.stderr.contains("no PEM certificate"), "{}", r.stderr);
    assert_eq!(server.hits(), 0);
}

/// Requests to one HTTPS origin wait for its first connection's ALPN answer
/// and then share that one HTTP/2 connection (RFC 9113 sec. 9.1), instead of
/// each slot opening its own.
#[test]
fn one_http2_origin_uses_one_connection() {
    const URLS: usize = 500;
    let pki = Pki::new();
    let server = TlsServer::start(pki.leaf(Leaf::Good), Options::default());
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 5)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "64", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    for (got, (i, url)) in r.sorted().iter().zip(sorted_with_index(&urls)) {
        assert_eq!(
            without_elapsed(got),
            json!({"type": "success", "url": url, "status": 200, "size": i % 5,
                   "http_version": "HTTP/2.0"})
        );
    }
    assert_eq!(server.requests(), URLS);
    assert_eq!(
        (server.connections(), server.handshakes()),
        (1, 1),
        "connections and TLS handshakes for {URLS} URLs at -c 64"
    );
}

/// An origin whose server selects `http/1.1` by ALPN: the requests that waited
/// for the first connection's answer then open their own, up to `-c`.
#[test]
fn http1_origin_by_alpn_opens_up_to_c_connections() {
    let pki = Pki::new();
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let server = TlsServer::start(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..200)
        .map(|i| server.url_for("example.test", &format!("/bytes/3?{i}")))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "8", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    assert!(r
        .records
        .iter()
        .all(|r| r["type"] == "success" && r["size"] == 3 && r["http_version"] == "HTTP/1.1"));
    assert_eq!(server.requests(), 200);
    assert!(
        (1..=8).contains(&server.connections()),
        "{} connections at -c 8",
        server.connections()
    );
}

/// A server that ends each connection with GOAWAY after 7 requests while 64
/// are in flight refuses most of every wave (the streams above its last
/// stream id, never processed): they are sent again, on new connections, as
/// often as needed, and every URL succeeds.
#[test]
fn http2_goaway_under_high_concurrency_loses_no_url() {
    const URLS: usize = 500;
    let pki = Pki::new();
    let options = Options {
        goaway_after: Some(7),
        ..Options::default()
    };
    let server = TlsServer::start(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 3)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(
        &[
            "-c",
            "64",
            "-t",
            "20",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
        ],
        &urls,
    );
    r.assert_all_succeeded();
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    assert_eq!(r.records.len(), URLS);
    assert!(server.requests() >= URLS);
}
