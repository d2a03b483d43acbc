//! Proxies: the binary through loopback proxies started by the tests, which
//! record what went through them: an HTTP proxy (absolute form for http,
//! `CONNECT` for https) and a SOCKS5 proxy (`socks5://` and `socks5h://`),
//! credentials from the proxy URL, curl's environment rules, and the error
//! kinds. The binary runs with a cleared environment plus exactly the
//! variables a test sets.
//!
//! Target names such as `origin.test` are resolved by the test proxies only.
//! Each such test also passes `--resolve NAME:PORT:[::1]`, where nothing
//! listens: `--resolve` applies only to names resolved here, so if the name
//! were resolved here by mistake the request would fail on loopback instead of
//! asking a DNS server.

use crate::support::{
    dead_port, lines, Cmd, HttpMode, HttpProxy, Leaf, Options, Pki, Record, Run, Server, SocksDest,
    SocksMode, SocksProxy, SocksSeen,
};

/// `user:p@ss`, as `Proxy-Authorization: Basic`.
const BASIC_USER_PASS: &str = "Basic dXNlcjpwQHNz";

/// Runs the binary with `args`, the cleared environment plus `env`, and the
/// URLs as stdin lines.
fn fetch(args: &[&str], env: &[(&str, &str)], urls: &[&str]) -> Run {
    let mut cmd = Cmd::new(args);
    for (key, value) in env {
        cmd = cmd.env(key, value);
    }
    cmd.run(lines(urls))
}

/// Runs one URL; checks the exit code, the record count and the summary, and
/// returns the record.
fn one(args: &[&str], env: &[(&str, &str)], url: &str, code: i32) -> Record {
    let r = fetch(args, env, &[url]);
    assert_eq!(r.code(), code, "stderr: {}", r.stderr);
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    r.checked_summary();
    r.records[0].clone()
}

/// The record without `elapsed_ms`, `http_version` and `error` (each checked
/// to be there).
fn strip(record: &Record) -> Record {
    let mut r = record.untimed();
    if r.is_success() {
        assert!(r.http_version.take().is_some(), "{record:?}");
    } else {
        assert!(r.error.take().is_some(), "{record:?}");
    }
    r
}

fn success(url: &str, status: u16, size: u64) -> Record {
    Record::success(url, status, size)
}

fn failure(url: &str, kind: &str) -> Record {
    Record::failure(url, kind)
}

/// The `error` of a record (empty when there is none).
fn error_of(record: &Record) -> &str {
    record.error.as_deref().unwrap_or_default()
}

/// `--resolve` for `name` at `port` to `[::1]`, where nothing listens.
fn guard(name: &str, port: u16) -> String {
    format!("{name}:{port}:[::1]")
}

// ---------------------------------------------------------------------------
// HTTP proxies.

#[test]
fn http_targets_go_in_absolute_form_with_proxy_credentials() {
    let origin = Server::start();
    let proxy = HttpProxy::start(HttpMode::RequireAuth(BASIC_USER_PASS));
    let port = origin.port();
    let url = format!("http://origin.test:{port}/bytes/5");
    let x = proxy.url("user:p%40ss@");
    let rec = one(
        &["-x", &x, "--resolve", &guard("origin.test", port)],
        &[],
        &url,
        0,
    );
    assert_eq!(strip(&rec), success(&url, 200, 5));
    assert_eq!(rec.http_version.as_deref(), Some("HTTP/1.1"));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, url, "absolute form");
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some(BASIC_USER_PASS)
    );
    // The origin got the request from the proxy, in origin form.
    let at_origin = origin.seen();
    assert_eq!(at_origin.len(), 1);
    assert_eq!(at_origin[0].target, "/bytes/5");
    assert_eq!(at_origin[0].headers["host"], format!("origin.test:{port}"));
}

#[test]
fn https_targets_go_through_a_connect_tunnel_with_tls_to_the_origin() {
    let pki = Pki::generate();
    let origin = Server::https(pki.leaf(Leaf::Good), Options::default());
    let proxy = HttpProxy::start(HttpMode::RequireAuth(BASIC_USER_PASS));
    let urls = [
        origin.url_for("example.test", "/bytes/10"),
        origin.url_for("example.test", "/bytes/20"),
    ];
    let x = proxy.url("user:p%40ss@");
    let guard = guard("example.test", origin.port());
    let r = fetch(
        &[
            "--cacert",
            &pki.ca_pem(),
            "-x",
            &x,
            "--resolve",
            &guard,
            "-c",
            "1",
        ],
        &[],
        &[&urls[0], &urls[1]],
    );
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let got: Vec<Record> = r.sorted().iter().map(strip).collect();
    assert_eq!(
        got,
        [success(&urls[0], 200, 10), success(&urls[1], 200, 20)]
    );
    // TLS ran end to end through the tunnel: ALPN chose h2 with the origin.
    assert!(r
        .records
        .iter()
        .all(|r| r.http_version.as_deref() == Some("HTTP/2.0")));
    // One tunnel, reused for the second URL.
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, format!("example.test:{}", origin.port()));
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some(BASIC_USER_PASS)
    );
    assert_eq!(origin.handshakes(), 1);
    assert_eq!(origin.hits(), 2);
}

#[test]
fn a_proxy_that_refuses_connect_is_a_proxy_failure_with_the_status() {
    let pki = Pki::generate();
    let origin = Server::https(pki.leaf(Leaf::Good), Options::default());
    let url = origin.url_for("127.0.0.1", "/");
    let ca = pki.ca_pem();

    let forbidding = HttpProxy::start(HttpMode::Refuse(403));
    let rec = one(&["--cacert", &ca, "-x", &forbidding.url("")], &[], &url, 1);
    assert_eq!(strip(&rec), failure(&url, "proxy"));
    let error = error_of(&rec);
    assert!(error.contains("refused with 403 Forbidden"), "{error}");
    assert!(
        error.contains(&forbidding.url("")),
        "names the proxy: {error}"
    );

    // No credentials: the CONNECT gets 407, a proxy failure...
    let wants_auth = HttpProxy::start(HttpMode::RequireAuth(BASIC_USER_PASS));
    let rec = one(&["--cacert", &ca, "-x", &wants_auth.url("")], &[], &url, 1);
    assert_eq!(strip(&rec), failure(&url, "proxy"));
    assert!(error_of(&rec).contains("407"), "{rec:?}");
    assert_eq!(wants_auth.seen()[0].proxy_authorization, None);
    assert_eq!(origin.accepted(), 0);

    // ...while for an http URL the proxy's 407 is the response, as with curl.
    let plain = Server::start();
    let url = plain.url("/");
    let rec = one(&["-x", &wants_auth.url("")], &[], &url, 0);
    assert_eq!(strip(&rec), success(&url, 407, 24));
    assert_eq!(plain.hits(), 0);
}

#[test]
fn an_unreachable_proxy_is_a_connect_failure() {
    let origin = Server::start();
    let url = origin.url("/");
    let port = dead_port();
    for x in [
        format!("http://127.0.0.1:{port}"),
        format!("socks5h://127.0.0.1:{port}"),
    ] {
        let rec = one(&["-x", &x], &[], &url, 1);
        assert_eq!(strip(&rec), failure(&url, "connect"), "{x}");
        let error = error_of(&rec);
        assert!(
            error.contains(&format!("cannot reach proxy {x}")),
            "{error}"
        );
    }
    // A proxy name that does not resolve is `dns`, naming the proxy.
    let rec = one(&["-x", "http://proxy.invalid:8080"], &[], &url, 1);
    assert_eq!(strip(&rec), failure(&url, "dns"));
    let error = error_of(&rec);
    assert!(
        error.contains("cannot reach proxy http://proxy.invalid:8080"),
        "{error}"
    );
    assert_eq!(origin.hits(), 0);
}

#[test]
fn proxy_credentials_never_reach_an_origin_reached_directly() {
    let origin = Server::start();
    let url = origin.url("/");
    let proxy = HttpProxy::start(HttpMode::Open);
    let x = proxy.url("user:p%40ss@");
    let rec = one(&["-x", &x, "--noproxy", "127.0.0.1"], &[], &url, 0);
    assert_eq!(strip(&rec), success(&url, 200, 2));
    assert_eq!(proxy.connections(), 0);
    let seen = origin.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].headers.contains_key("proxy-authorization"),
        "{seen:?}"
    );
}

#[test]
fn names_under_invalid_fail_before_reaching_the_proxy() {
    let proxy = HttpProxy::start(HttpMode::Open);
    let url = "http://never.invalid/";
    let rec = one(&["-x", &proxy.url("")], &[], url, 1);
    assert_eq!(strip(&rec), failure(url, "dns"));
    assert_eq!(proxy.connections(), 0);
}

#[test]
fn each_redirect_hop_chooses_its_proxy() {
    let origin = Server::start();
    let port = origin.port();
    // The first hop (127.0.0.1) goes through the proxy; the second (localhost)
    // is in --noproxy and goes direct.
    let next = format!("http://localhost:{port}/bytes/4");
    let url = origin.url(&format!("/to?{next}"));
    let proxy = HttpProxy::start(HttpMode::Open);
    let rec = one(
        &["-x", &proxy.url(""), "--noproxy", "localhost"],
        &[],
        &url,
        0,
    );
    assert_eq!(
        strip(&rec),
        success(&url, 200, 4)
            .with_final_url(&next)
            .with_redirects(1)
    );
    let seen: Vec<String> = proxy.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(seen, [url]);
    assert_eq!(origin.hits(), 2);
}

// ---------------------------------------------------------------------------
// SOCKS5.

#[test]
fn socks5h_sends_the_host_name_for_the_proxy_to_resolve() {
    let pki = Pki::generate();
    let tls = Server::https(pki.leaf(Leaf::Good), Options::default());
    let plain = Server::start();
    let proxy = SocksProxy::start(SocksMode::Open);
    let port = plain.port();
    let http_url = format!("http://origin.test:{port}/bytes/7");
    let https_url = tls.url_for("example.test", "/bytes/3");
    let (g1, g2) = (
        guard("origin.test", port),
        guard("example.test", tls.port()),
    );
    let x = proxy.url("socks5h", "");
    let args = [
        "-x",
        &x,
        "--cacert",
        &pki.ca_pem(),
        "--resolve",
        &g1,
        "--resolve",
        &g2,
    ];
    let r = fetch(&args, &[], &[&http_url, &https_url]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr);
    r.checked_summary();
    let got: Vec<Record> = r.sorted().iter().map(strip).collect();
    assert_eq!(
        got,
        [success(&http_url, 200, 7), success(&https_url, 200, 3)]
    );
    let mut seen = proxy.seen();
    seen.sort_by_key(|s| s.port);
    let mut want = vec![
        SocksSeen {
            dest: SocksDest::Name("origin.test".into()),
            port,
            credentials: None,
        },
        SocksSeen {
            dest: SocksDest::Name("example.test".into()),
            port: tls.port(),
            credentials: None,
        },
    ];
    want.sort_by_key(|s| s.port);
    assert_eq!(seen, want);
    // Origin form to the origin (a SOCKS tunnel is not an HTTP proxy).
    assert_eq!(plain.seen()[0].target, "/bytes/7");
    assert_eq!(tls.handshakes(), 1);
}

#[test]
fn socks5_resolves_here_with_resolve_and_sends_the_address() {
    let origin = Server::start();
    let proxy = SocksProxy::start(SocksMode::Open);
    let port = origin.port();
    let url = format!("http://origin.test:{port}/bytes/2");
    let resolve = format!("origin.test:{port}:127.0.0.1");
    let rec = one(
        &["-x", &proxy.url("socks5", ""), "--resolve", &resolve],
        &[],
        &url,
        0,
    );
    assert_eq!(strip(&rec), success(&url, 200, 2));
    assert_eq!(
        proxy.seen(),
        [SocksSeen {
            dest: SocksDest::Ip("127.0.0.1".parse().unwrap()),
            port,
            credentials: None,
        }]
    );
}

#[test]
fn socks5_credentials_come_from_the_proxy_url() {
    let origin = Server::start();
    let url = origin.url("/bytes/1");
    let proxy = SocksProxy::start(SocksMode::RequireAuth("user", "p@ss"));
    let rec = one(
        &["-x", &proxy.url("socks5h", "us%65r:p%40ss@")],
        &[],
        &url,
        0,
    );
    assert_eq!(strip(&rec), success(&url, 200, 1));
    let seen = proxy.seen();
    assert_eq!(
        seen[0].credentials,
        Some(("user".to_owned(), "p@ss".to_owned()))
    );

    // Wrong credentials and a refused CONNECT are proxy failures.
    let rec = one(&["-x", &proxy.url("socks5h", "user:nope@")], &[], &url, 1);
    assert_eq!(strip(&rec), failure(&url, "proxy"));
    assert!(error_of(&rec).contains("credentials"), "{rec:?}");
    let refusing = SocksProxy::start(SocksMode::Refuse(2));
    let rec = one(&["-x", &refusing.url("socks5", "")], &[], &url, 1);
    assert_eq!(strip(&rec), failure(&url, "proxy"));
    let error = error_of(&rec);
    assert!(error.contains("connection not allowed"), "{error}");
    assert_eq!(origin.hits(), 1);
}

// ---------------------------------------------------------------------------
// The environment, --proxy and --noproxy (curl's rules).

/// Runs `url` with `args` and `env`; returns how many requests the proxy and
/// the origin saw (the record must be a 200 success either way).
fn routed(args: &[&str], env: &[(&str, &str)]) -> (usize, usize) {
    let origin = Server::start();
    let url = origin.url("/");
    let proxy = HttpProxy::start(HttpMode::Open);
    let p = proxy.url("");
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "PROXY" { p.as_str() } else { a })
        .collect();
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (*k, if *v == "PROXY" { p.as_str() } else { v }))
        .collect();
    let rec = one(&args, &env, &url, 0);
    assert_eq!(strip(&rec), success(&url, 200, 2), "{args:?} {env:?}");
    assert_eq!(origin.hits(), 1);
    (proxy.seen().len(), origin.hits())
}

const VIA_PROXY: (usize, usize) = (1, 1);
const DIRECT: (usize, usize) = (0, 1);

#[test]
fn the_environment_is_read_with_curls_rules() {
    // http_proxy in lower case only (httpoxy); all_proxy in either case.
    assert_eq!(routed(&[], &[("http_proxy", "PROXY")]), VIA_PROXY);
    assert_eq!(routed(&[], &[("HTTP_PROXY", "PROXY")]), DIRECT);
    assert_eq!(routed(&[], &[("ALL_PROXY", "PROXY")]), VIA_PROXY);
    // https_proxy is for https URLs only.
    assert_eq!(routed(&[], &[("https_proxy", "PROXY")]), DIRECT);
    // no_proxy: addresses, CIDR ranges, and `*`.
    let env = [
        ("http_proxy", "PROXY"),
        ("no_proxy", "example.com,127.0.0.1"),
    ];
    assert_eq!(routed(&[], &env), DIRECT);
    let env = [("http_proxy", "PROXY"), ("NO_PROXY", "127.0.0.0/8")];
    assert_eq!(routed(&[], &env), DIRECT);
    let env = [("http_proxy", "PROXY"), ("no_proxy", "*")];
    assert_eq!(routed(&[], &env), DIRECT);
    let env = [("http_proxy", "PROXY"), ("no_proxy", "127.0.0.2,localhost")];
    assert_eq!(routed(&[], &env), VIA_PROXY);
}

#[test]
fn flags_override_the_environment() {
    // --noproxy replaces no_proxy; an empty list proxies every host.
    let env = [("http_proxy", "PROXY"), ("no_proxy", "*")];
    assert_eq!(routed(&["--noproxy", ""], &env), VIA_PROXY);
    let env = [("http_proxy", "PROXY")];
    assert_eq!(routed(&["--noproxy", "127.0.0.1"], &env), DIRECT);
    // --proxy '' turns the environment's proxies off.
    assert_eq!(routed(&["--proxy", ""], &env), DIRECT);
    // --proxy wins over the variables, and no_proxy still applies to it.
    let broken = [("http_proxy", "http://127.0.0.1:1")];
    assert_eq!(routed(&["-x", "PROXY"], &broken), VIA_PROXY);
    let env = [("no_proxy", "127.0.0.1")];
    assert_eq!(routed(&["-x", "PROXY"], &env), DIRECT);
}

#[test]
fn unsupported_proxies_are_usage_errors() {
    let r = fetch(
        &["-x", "socks4://127.0.0.1:1080"],
        &[],
        &["http://127.0.0.1:1/"],
    );
    assert_eq!(r.code(), 2, "stderr: {}", r.stderr);
    assert!(r.records.is_empty());
    assert!(
        r.stderr.contains("unsupported proxy scheme 'socks4://'"),
        "{}",
        r.stderr
    );
}

/// A proxy variable this tool cannot use fails only the URLs that would go
/// through it, as `proxy` failures naming the variable (never sent directly
/// instead); URLs it does not concern are fetched, as curl does.
#[test]
fn an_unusable_proxy_variable_fails_only_the_urls_that_would_use_it() {
    let origin = Server::start();
    let url = origin.url("/");
    let env = [("https_proxy", "https://user:secret@127.0.0.1:1")];
    // An http URL does not use https_proxy.
    assert_eq!(strip(&one(&[], &env, &url, 0)), success(&url, 200, 2));
    // An https URL would: it fails without any connection.
    let https = "https://127.0.0.1:9/";
    let r = one(&[], &env, https, 1);
    assert_eq!(strip(&r), failure(https, "proxy"));
    let error = error_of(&r);
    assert!(
        error.contains("https_proxy: unsupported proxy scheme 'https://'"),
        "{error}"
    );
    assert!(!error.contains("secret"), "{error}");
    // --noproxy and --proxy make it irrelevant.
    let env = [("ALL_PROXY", "socks4://127.0.0.1:1")];
    assert_eq!(
        strip(&one(&["--noproxy", "*"], &env, &url, 0)),
        success(&url, 200, 2)
    );
    assert_eq!(
        strip(&one(&["-x", ""], &env, &url, 0)),
        success(&url, 200, 2)
    );
    assert_eq!(origin.hits(), 3);
}
