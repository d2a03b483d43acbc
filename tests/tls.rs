//! TLS: the binary against the HTTP test server behind TLS, with a test CA
//! and server certificates made by rcgen at test time. Host names are reached
//! through `--resolve`, so no lookup leaves the machine.

use std::time::Duration;

use crate::support::{
    by_url, closing_handshake, lines, run, stalling_handshake, Leaf, Options, Pki, Record, Run,
    Server,
};

/// Runs the binary with `args` and the URLs as stdin lines.
fn fetch(args: &[&str], urls: &[String]) -> Run {
    run(args, lines(urls))
}

/// A success over `http_version`, as [`Record::untimed`] gives it.
fn success(url: &str, size: u64, http_version: &str) -> Record {
    Record::success(url, 200, size).with_http_version(http_version)
}

/// Asserts that `record` is exactly a `kind` failure for `url` with `error`,
/// and that the error is a sentence, not Rust debug text.
fn assert_failure(record: &Record, url: &str, kind: &str, error: &str) {
    assert_eq!(
        record.untimed(),
        Record::failure(url, kind).with_error(error),
        "{record:?}"
    );
    assert_no_debug_text(error);
}

/// Fails when `error` shows Rust debug text, as rustls's `Display` does for
/// many errors (`UnknownIssuer`, `Other(OtherError(CaUsedAsEndEntity))`,
/// `DnsName("x")`).
fn assert_no_debug_text(error: &str) {
    for pattern in [
        "Other(",
        "Error(",
        "Name(",
        "Context",
        "peer certificate:",
        "{",
        "::",
    ] {
        assert!(!error.contains(pattern), "{pattern:?} in {error:?}");
    }
    // No CamelCase word (a Rust variant name).
    for word in error.split(|c: char| !c.is_ascii_alphanumeric()) {
        let inner_upper = word.chars().skip(1).any(|c| c.is_ascii_uppercase());
        let has_lower = word.chars().any(|c| c.is_ascii_lowercase());
        assert!(!(inner_upper && has_lower), "{word:?} in {error:?}");
    }
}

/// The sentence for a certificate that chains to no trusted root.
const UNKNOWN_ISSUER: &str = "unknown issuer: the certificate is not signed by a trusted root \
    (add it with --cacert, or -k to skip verification)";

/// The sentence for a self-signed certificate marked as a CA, served without
/// being given with `--cacert`.
const CA_AS_SERVER: &str = "certificate is a CA certificate, not a server certificate; \
    give the server's own certificate with --cacert to trust it";

/// Runs one URL and returns its only record, after checking the exit code and
/// the summary.
fn one(args: &[&str], url: &str, code: i32) -> Record {
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
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let urls = [
        server.url_for("example.test", "/bytes/1234"),
        server.url_for("example.test", "/bytes/0"),
        server.url_for("EXAMPLE.test", "/"),
    ];
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let got: Vec<Record> = r.sorted().iter().map(Record::untimed).collect();
    let want: Vec<Record> = [(&urls[2], 2), (&urls[1], 0), (&urls[0], 1234)]
        .iter()
        .map(|(url, size)| success(url, *size, "HTTP/2.0"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn alpn_http11_only_gives_http11() {
    let pki = Pki::generate();
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let server = Server::https(pki.leaf(Leaf::Good), options);
    let url = server.url_for("example.test", "/bytes/77");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 0);
    assert_eq!(rec.untimed(), success(&url, 77, "HTTP/1.1"));
}

#[test]
fn https_to_an_ip_address_verifies_against_ip_sans() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let url = server.url_for("127.0.0.1", "/bytes/5");
    let rec = one(&["--cacert", &pki.ca_pem()], &url, 0);
    assert_eq!(rec.untimed(), success(&url, 5, "HTTP/2.0"));
}

#[test]
fn forced_versions_choose_what_alpn_offers() {
    let pki = Pki::generate();
    let both = Server::https(pki.leaf(Leaf::Good), Options::default());
    let ca = pki.ca_pem();
    let url = both.url_for("127.0.0.1", "/bytes/3");
    let version = |flag: &str| one(&["--cacert", &ca, flag], &url, 0).http_version;
    assert_eq!(version("--http1.1").as_deref(), Some("HTTP/1.1"));
    assert_eq!(
        version("--http2-prior-knowledge").as_deref(),
        Some("HTTP/2.0")
    );
    // A server without h2: no protocol in common, the handshake fails.
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let http1 = Server::https(pki.leaf(Leaf::Good), options);
    let url = http1.url_for("127.0.0.1", "/");
    let rec = one(&["--cacert", &ca, "--http2-prior-knowledge"], &url, 1);
    let error = "the server refused the TLS handshake (no_application_protocol alert): \
        it speaks none of the protocols offered by ALPN";
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(http1.hits(), 0);
}

// ---------------------------------------------------------------------------
// Verification fails: a `tls` failure whose `error` names the reason.

#[test]
fn without_the_test_ca_the_issuer_is_unknown() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let url = server.url_for("example.test", "/");
    let rec = one(&["--resolve", &server.resolve("example.test")], &url, 1);
    assert_failure(&rec, &url, "tls", UNKNOWN_ISSUER);
    assert_eq!(server.handshakes(), 0);
    assert_eq!(server.hits(), 0);
}

#[test]
fn an_expired_certificate_is_rejected() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Expired), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    let error = "certificate expired on Mon, 01 Jan 2001 00:00:00 GMT";
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(server.hits(), 0);
}

#[test]
fn a_not_yet_valid_certificate_is_rejected() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::NotYetValid), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    let error = "certificate not valid yet: valid from Sun, 01 Jan 2090 00:00:00 GMT";
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(server.hits(), 0);
}

#[test]
fn a_wrong_name_certificate_is_rejected() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::OtherName), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    let error = "certificate not valid for name \"example.test\"; it is only valid for other.test";
    assert_failure(&rec, &url, "tls", error);
    // An IP address that is not among the SANs fails the same way.
    let url = server.url_for("127.0.0.1", "/");
    let rec = one(&["--cacert", &ca], &url, 1);
    let error = "certificate not valid for name \"127.0.0.1\"; it is only valid for other.test";
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(server.hits(), 0);
}

#[test]
fn a_self_signed_certificate_is_rejected_even_with_the_test_ca() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::SelfSigned), Options::default());
    let url = server.url_for("example.test", "/");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let rec = one(&["--cacert", &ca, "--resolve", &resolve], &url, 1);
    assert_failure(&rec, &url, "tls", UNKNOWN_ISSUER);
    assert_eq!(server.hits(), 0);
}

/// With the built-in roots only, a self-signed certificate is refused:
/// marked as a CA (as `openssl req -x509` makes it) or not.
#[test]
fn self_signed_certificates_are_refused_with_the_built_in_roots() {
    let pki = Pki::generate();
    for (leaf, error) in [
        (Leaf::SelfSignedCa, CA_AS_SERVER),
        (Leaf::SelfSigned, UNKNOWN_ISSUER),
    ] {
        let server = Server::https(pki.leaf(leaf), Options::default());
        let url = server.url_for("example.test", "/");
        let rec = one(&["--resolve", &server.resolve("example.test")], &url, 1);
        assert_failure(&rec, &url, "tls", error);
        assert_eq!(server.hits(), 0, "{leaf:?}");
    }
}

// ---------------------------------------------------------------------------
// The server's own certificate given with --cacert (pinned, as curl accepts it).

/// A self-signed certificate marked as a CA, given with `--cacert`, is the
/// server's own certificate: accepted, by name and by IP address.
#[test]
fn a_self_signed_ca_certificate_given_with_cacert_is_accepted() {
    let pki = Pki::generate();
    let identity = pki.leaf(Leaf::SelfSignedCa);
    let pem = pki.write_pem("server.pem", &identity);
    let server = Server::https(identity, Options::default());
    let url = server.url_for("example.test", "/bytes/7");
    let resolve = server.resolve("example.test");
    let rec = one(&["--cacert", &pem, "--resolve", &resolve], &url, 0);
    assert_eq!(rec.untimed(), success(&url, 7, "HTTP/2.0"));
    let url = server.url_for("127.0.0.1", "/bytes/8");
    let rec = one(&["--cacert", &pem], &url, 0);
    assert_eq!(rec.untimed(), success(&url, 8, "HTTP/2.0"));
    assert_eq!(server.hits(), 2);
}

/// A server certificate issued by a CA that is not given, given itself with
/// `--cacert`, is accepted too (curl's partial chains).
#[test]
fn a_server_certificate_given_with_cacert_is_accepted_without_its_ca() {
    let pki = Pki::generate();
    let identity = pki.leaf(Leaf::Good);
    let pem = pki.write_pem("server.pem", &identity);
    let server = Server::https(identity, Options::default());
    let url = server.url_for("example.test", "/bytes/3");
    let resolve = server.resolve("example.test");
    let rec = one(&["--cacert", &pem, "--resolve", &resolve], &url, 0);
    assert_eq!(rec.untimed(), success(&url, 3, "HTTP/2.0"));
}

/// A pinned certificate must still name the host, and be valid now.
#[test]
fn a_pinned_certificate_still_needs_the_name_and_its_validity() {
    let pki = Pki::generate();
    let identity = pki.leaf(Leaf::SelfSignedCa);
    let pem = pki.write_pem("server.pem", &identity);
    let server = Server::https(identity, Options::default());
    let url = server.url_for("other.test", "/");
    let resolve = server.resolve("other.test");
    let rec = one(&["--cacert", &pem, "--resolve", &resolve], &url, 1);
    let error = concat!(
        "certificate not valid for name \"other.test\"; ",
        "it is only valid for example.test or 127.0.0.1"
    );
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(server.hits(), 0);

    let identity = pki.leaf(Leaf::ExpiredSelfSignedCa);
    let pem = pki.write_pem("expired.pem", &identity);
    let server = Server::https(identity, Options::default());
    let url = server.url_for("example.test", "/");
    let resolve = server.resolve("example.test");
    let rec = one(&["--cacert", &pem, "--resolve", &resolve], &url, 1);
    let error = "certificate expired on Mon, 01 Jan 2001 00:00:00 GMT";
    assert_failure(&rec, &url, "tls", error);
    assert_eq!(server.hits(), 0);
}

/// A certificate pinned for one server does not vouch for another one's.
#[test]
fn a_pinned_certificate_trusts_only_itself() {
    let pki = Pki::generate();
    let pinned = pki.leaf(Leaf::SelfSignedCa);
    let pem = pki.write_pem("pinned.pem", &pinned);
    let server = Server::https(pki.leaf(Leaf::SelfSignedCa), Options::default());
    let url = server.url_for("example.test", "/");
    let resolve = server.resolve("example.test");
    let rec = one(&["--cacert", &pem, "--resolve", &resolve], &url, 1);
    assert_failure(&rec, &url, "tls", CA_AS_SERVER);
    assert_eq!(server.hits(), 0);
}

// ---------------------------------------------------------------------------
// --insecure.

#[test]
fn insecure_accepts_self_signed_and_wrong_name_certificates() {
    let pki = Pki::generate();
    let self_signed = Server::https(pki.leaf(Leaf::SelfSigned), Options::default());
    let wrong_name = Server::https(pki.leaf(Leaf::OtherName), Options::default());
    for flag in ["--insecure", "-k"] {
        for server in [&self_signed, &wrong_name] {
            let url = server.url_for("example.test", "/bytes/9");
            let resolve = server.resolve("example.test");
            let rec = one(&[flag, "--resolve", &resolve], &url, 0);
            assert_eq!(rec.untimed(), success(&url, 9, "HTTP/2.0"), "{flag}");
        }
    }
    assert_eq!(self_signed.hits(), 2);
    assert_eq!(wrong_name.hits(), 2);
}

/// A server that closes the connection during the handshake gets a
/// sentence, not the TLS library's "tls handshake eof".
#[test]
fn a_server_closing_during_the_handshake_is_said_in_a_sentence() {
    let server = closing_handshake();
    let url = format!("https://127.0.0.1:{}/", server.port());
    let r = fetch(&[], std::slice::from_ref(&url));
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert_failure(
        &r.records[0],
        &url,
        "tls",
        "the server closed the connection during the TLS handshake",
    );
}

// ---------------------------------------------------------------------------
// Deadlines and connection reuse.

/// A handshake that stalls hits the whole-URL deadline, or
/// `--connect-timeout`, which covers the TLS handshake too.
#[test]
fn a_handshake_that_stalls_hits_the_deadline() {
    let cases: [(&[&str], Record, u64); 2] = [
        (
            &["-t", "1"],
            Record::failure("", "timeout").with_error("timeout after 1s"),
            3,
        ),
        (
            &["--connect-timeout", "0.5", "-t", "10"],
            Record::failure("", "connect")
                .with_error("connection not established within 0.5s (--connect-timeout)"),
            4,
        ),
    ];
    for (args, want, within) in cases {
        let server = stalling_handshake();
        let url = format!("https://example.test:{}/", server.port());
        let resolve = format!("example.test:{}:127.0.0.1", server.port());
        let r = fetch(
            &[args, &["--resolve", &resolve]].concat(),
            std::slice::from_ref(&url),
        );
        assert_eq!(r.code(), 1, "{args:?}: stderr: {}", r.stderr);
        assert_eq!(r.records.len(), 1, "{args:?}");
        r.checked_summary();
        let want = Record {
            url: url.clone(),
            ..want
        };
        assert_eq!(r.records[0].untimed(), want, "{args:?}");
        assert!(
            r.elapsed < Duration::from_secs(within),
            "{args:?}: took {:?}",
            r.elapsed
        );
        // The one request was a ClientHello, never answered.
        assert_eq!(server.requests(), 1, "{args:?}");
    }
}

/// Each connection is shut down gracefully (GOAWAY) once 5 requests have
/// arrived on it; streams the client opened after the server's last stream id
/// were never processed, so they must be retried on another connection.
#[test]
fn http2_goaway_after_n_streams_loses_no_url() {
    const PER_CONNECTION: usize = 5;
    const URLS: usize = 200;
    let pki = Pki::generate();
    let options = Options {
        goaway_after: Some(PER_CONNECTION),
        ..Options::default()
    };
    let server = Server::https(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{i}")))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "4", "--cacert", &ca, "--resolve", &resolve], &urls);
    let failures: Vec<&Record> = r.records.iter().filter(|r| !r.is_success()).collect();
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}; the server handled {} requests (per connection {:?})",
        failures.len(),
        failures[0],
        server.hits(),
        server.requests_per_connection()
    );
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let mut got: Vec<Record> = r.records.iter().map(Record::untimed).collect();
    got.sort_by_key(|r| r.size);
    let want: Vec<Record> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| success(url, i as u64, "HTTP/2.0"))
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
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let urls: Vec<String> = (0..200)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 7)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "8", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    assert_eq!(r.records.len(), 200);
    r.checked_summary();
    let got: Vec<Record> = r.sorted().iter().map(Record::untimed).collect();
    let want: Vec<Record> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| success(url, i as u64 % 7, "HTTP/2.0"))
        .collect();
    assert_eq!(got, by_url(want));
    assert_eq!(server.hits(), 200);
    assert!(
        server.accepted() <= 8,
        "{} connections for 200 URLs at -c 8",
        server.accepted()
    );
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2, nothing fetched.

#[test]
fn bad_resolve_syntax_is_a_usage_error() {
    let server = Server::start();
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
    let server = Server::start();
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
    let pki = Pki::generate();
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
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 5)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "64", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let got: Vec<Record> = r.sorted().iter().map(Record::untimed).collect();
    let want: Vec<Record> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| success(url, i as u64 % 5, "HTTP/2.0"))
        .collect();
    assert_eq!(got, by_url(want));
    assert_eq!(server.hits(), URLS);
    assert_eq!(
        (server.accepted(), server.handshakes()),
        (1, 1),
        "connections and TLS handshakes for {URLS} URLs at -c 64"
    );
}

/// An origin whose server selects `http/1.1` by ALPN: the requests that waited
/// for the first connection's answer then open their own, up to `-c`.
#[test]
fn http1_origin_by_alpn_opens_up_to_c_connections() {
    let pki = Pki::generate();
    let options = Options {
        h2: false,
        ..Options::default()
    };
    let server = Server::https(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..200)
        .map(|i| server.url_for("example.test", &format!("/bytes/3?{i}")))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let r = fetch(&["-c", "8", "--cacert", &ca, "--resolve", &resolve], &urls);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    assert!(r.records.iter().all(|r| r.is_success()
        && r.size == Some(3)
        && r.http_version.as_deref() == Some("HTTP/1.1")));
    assert_eq!(server.hits(), 200);
    assert!(
        (1..=8).contains(&server.accepted()),
        "{} connections at -c 8",
        server.accepted()
    );
}

/// A server that ends each connection with GOAWAY after 7 requests while 64
/// are in flight refuses most of every wave (the streams above its last
/// stream id, never processed): they are sent again, on new connections, as
/// often as needed, and every URL succeeds. (`--max-per-host 0`: the default
/// per-host cap would hold it to 10 in flight.)
#[test]
fn http2_goaway_under_high_concurrency_loses_no_url() {
    const URLS: usize = 500;
    let pki = Pki::generate();
    let options = Options {
        goaway_after: Some(7),
        ..Options::default()
    };
    let server = Server::https(pki.leaf(Leaf::Good), options);
    let urls: Vec<String> = (0..URLS)
        .map(|i| server.url_for("example.test", &format!("/bytes/{}?{i}", i % 3)))
        .collect();
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let args = [
        "-c",
        "64",
        "--max-per-host",
        "0",
        "-t",
        "20",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
    ];
    let r = fetch(&args, &urls);
    r.assert_all_succeeded();
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    assert_eq!(r.records.len(), URLS);
    assert!(server.hits() >= URLS);
}
