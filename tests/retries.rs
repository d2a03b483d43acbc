//! Retries: transient failures are tried again with backoff, the record is the last attempt's with `attempts`, non-idempotent
//! methods only with `--retry-all`, and `Retry-After` is waited for.

use std::time::{Duration, Instant};

use crate::support::{dead_port, exact, lines, run, RawServer, Record, Reply, Server};
use fetcher_stream::{fetch_all, fetch_stream, Config, FetchResult};
use futures::StreamExt;
use http::Method;

fn status(code: u16) -> Reply {
    Reply::status(code, &[])
}

fn retry_after(code: u16, value: &str) -> Reply {
    Reply::status(code, &[("Retry-After", value)])
}

/// A quick retry schedule for tests: `--retries N --retry-delay 0.01`.
fn fast_retries(n: &str) -> Vec<&str> {
    vec!["--retries", n, "--retry-delay", "0.01"]
}

/// Transient statuses are retried until a success; out of retries, the
/// record is the last attempt's (its status) with the number of attempts;
/// `--retries 0` (the default) tries once, and `attempts` is left out.
#[test]
fn transient_statuses_are_retried_and_the_record_is_the_last_attempts() {
    // Name, the statuses before a 200, `--retries`, the record's status and
    // attempts.
    type Case = (
        &'static str,
        Vec<u16>,
        &'static [&'static str],
        u16,
        Option<u32>,
    );
    let cases: [Case; 3] = [
        (
            "until success",
            vec![503, 502, 429, 504],
            &["4"],
            200,
            Some(5),
        ),
        ("out of retries", vec![503, 502, 504], &["2"], 504, Some(3)),
        ("no retries by default", vec![503], &[], 503, None),
    ];
    for (name, statuses, retries, want_status, attempts) in cases {
        let server = RawServer::scripted(statuses.into_iter().map(status).collect());
        let url = server.url("/x");
        let args = match retries {
            [n] => fast_retries(n),
            _ => Vec::new(),
        };
        let r = run(&args, format!("{url}\n"));
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr);
        let want = Record {
            attempts,
            ..Record::success(&url, want_status, 10)
        };
        assert_eq!(exact(&r.records), [want], "{name}");
        assert_eq!(server.requests(), attempts.unwrap_or(1) as usize, "{name}");
    }
}

/// A reset connection (`io`) and a request that times out (`timeout`, the
/// deadline applies per attempt) are retried.
#[test]
fn io_and_timeout_failures_are_retried() {
    // Each reset comes on a new connection's first request, so the client
    // does not send it again by itself (that is only for kept-alive
    // connections): one reset per attempt.
    let server = RawServer::scripted(vec![Reply::reset(), Reply::reset()]);
    let url = server.url("/reset");
    let r = run(&fast_retries("0"), format!("{url}\n"));
    assert_eq!(
        r.records[0].error_kind.as_deref(),
        Some("io"),
        "{:?}",
        r.records
    );
    assert_eq!(r.records[0].attempts, None);
    let r = run(&fast_retries("1"), format!("{url}\n"));
    assert_eq!(
        r.records[0].exact(),
        Record::success(&url, 200, 10).with_attempts(2)
    );

    let server = RawServer::scripted(vec![Reply::hang()]);
    let url = server.url("/hang");
    let mut args = fast_retries("1");
    args.extend(["-t", "0.5"]);
    let r = run(&args, format!("{url}\n"));
    assert_eq!(r.records[0].status, Some(200), "{:?}", r.records);
    assert_eq!(r.records[0].attempts, Some(2));
    // `elapsed_ms` covers both attempts.
    assert!(r.records[0].elapsed_ms >= 500.0);
}

/// A refused connection (`connect`) is retried; out of retries, the record
/// is the last failure with the number of attempts.
#[test]
fn connect_failures_are_retried() {
    let url = format!("http://127.0.0.1:{}/", dead_port());
    let r = run(&fast_retries("2"), format!("{url}\n"));
    assert_eq!(r.code(), 1);
    assert_eq!(
        r.records[0].without_error(),
        Record::failure(&url, "connect").with_attempts(3)
    );
}

/// 404, `invalid_url`, `unsupported_scheme` and `tls` are never retried.
#[test]
fn permanent_failures_are_not_retried() {
    let server = Server::start();
    let input = format!(
        "{}\nhttp://[\nftp://x/\nhttps://{}/\n",
        server.url("/status/404"),
        server.addr()
    );
    let r = run(&fast_retries("3"), input);
    let kinds: Vec<String> = r
        .sorted()
        .iter()
        .map(|x| {
            assert_eq!(x.attempts, None, "{x:?}");
            x.error_kind
                .clone()
                .unwrap_or_else(|| x.status.unwrap().to_string())
        })
        .collect();
    assert_eq!(kinds.len(), 4);
    for want in ["404", "invalid_url", "unsupported_scheme", "tls"] {
        assert!(kinds.iter().any(|k| k == want), "{want} not in {kinds:?}");
    }
    assert_eq!(server.hits(), 1, "the 404 was asked once");
    assert_eq!(
        server.accepted(),
        2,
        "one connection for the 404, one for TLS"
    );
}

/// Non-idempotent methods (here POST, through the library) are not retried
/// unless `retry_all` (`--retry-all`) is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_is_retried_only_with_retry_all() {
    for (retry_all, want_status, want_requests) in [(false, 503, 1), (true, 200, 2)] {
        let server = RawServer::scripted(vec![status(503)]);
        let config = Config {
            method: Some(Method::POST),
            retries: 2,
            retry_delay: Duration::from_millis(10),
            retry_all,
            ..Config::default()
        };
        let r = fetch_all(futures::stream::iter([server.url("/p")]), config).await;
        match &r[0] {
            FetchResult::Success {
                status, attempts, ..
            } => {
                assert_eq!(*status, want_status, "retry_all {retry_all}");
                assert_eq!(*attempts, (want_requests > 1).then_some(want_requests));
            }
            other => panic!("{other:?}"),
        }
        let lines = server.lines();
        assert_eq!(lines.len(), want_requests as usize);
        assert!(lines.iter().all(|l| l.starts_with("POST /p ")), "{lines:?}");
    }
}

/// A 429 with `Retry-After: 1` makes the retry wait a second (the backoff
/// alone would be ~10 ms), pauses the host: a second URL to it, read while
/// the pause lasts, is not sent before the pause ends; `elapsed_ms` covers
/// the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_for_and_pauses_the_host() {
    let server = RawServer::scripted(vec![retry_after(429, "1")]);
    let (first, second) = (server.url("/first"), server.url("/second"));
    let lines = futures::stream::iter([first.clone(), second.clone()]).then(|u| async move {
        if u.ends_with("/second") {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        u
    });
    let config = Config {
        retries: 1,
        retry_delay: Duration::from_millis(10),
        ..Config::default()
    };
    let records: Vec<FetchResult> = fetch_stream(lines, config).collect().await;
    assert_eq!(records.len(), 2);
    let seen = server.heads();
    let lines = server.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("GET /first "), "{lines:?}");
    let t0 = seen[0].at;
    for (head, line) in seen[1..].iter().zip(&lines[1..]) {
        let after = head.at - t0;
        assert!(
            after >= Duration::from_millis(900),
            "{line} after {after:?}"
        );
    }
    for r in &records {
        let FetchResult::Success {
            url,
            status,
            attempts,
            elapsed_ms,
            ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(*status, 200);
        if *url == first {
            assert_eq!(*attempts, Some(2));
            assert!(*elapsed_ms >= 900.0, "{elapsed_ms}");
        } else {
            assert_eq!(*attempts, None);
        }
    }
}

/// `--max-retry-after` caps a long `Retry-After` (here an HTTP-date an hour
/// ahead).
#[test]
fn max_retry_after_caps_the_wait() {
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    let server = RawServer::scripted(vec![retry_after(503, &later)]);
    let url = server.url("/x");
    let mut args = fast_retries("1");
    args.extend(["--max-retry-after", "1"]);
    let started = Instant::now();
    let r = run(&args, format!("{url}\n"));
    assert_eq!(r.records[0].status, Some(200), "{:?}", r.records);
    assert_eq!(r.records[0].attempts, Some(2));
    let seen = server.heads();
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(900), "{gap:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Cancelling during a backoff wait gives a prompt `cancelled` record, with
/// the number of attempts made (here 2: the second answer asked for 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_backoff_is_prompt() {
    let server = RawServer::scripted(vec![status(503), retry_after(503, "30")]);
    let config = Config {
        retries: 2,
        retry_delay: Duration::from_millis(10),
        ..Config::default()
    };
    let cancel = config.cancel.clone();
    let run = tokio::spawn(fetch_all(futures::stream::iter([server.url("/x")]), config));
    while server.requests() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    cancel.cancel();
    let records = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("prompt")
        .unwrap();
    assert!(asked.elapsed() < Duration::from_secs(1));
    let FetchResult::Failure {
        error_kind,
        attempts,
        elapsed_ms,
        ..
    } = &records[0]
    else {
        panic!("{records:?}")
    };
    assert_eq!(error_kind.as_str(), "cancelled");
    assert_eq!(*attempts, Some(2));
    assert!(*elapsed_ms >= 100.0, "{elapsed_ms}");
    assert_eq!(server.requests(), 2);
}

/// A retry waits for its `Retry-After` in the look-ahead window, not in its
/// slots: two hosts answer their first two requests with `429 Retry-After:
/// 2`, and at `-c 4 --max-per-host 2 --retries 1` their four URLs take every
/// slot first. The 20 URLs to a third host still all go at once (within
/// 1.5 s, a margin for a busy machine, before the 2 s pause ends), and the retries wait for the
/// pause; their records say 2 attempts and count the wait.
///
/// Which request of a paused host arrives second depends on the machine: the
/// host's second URL goes out with the first if it is dispatched before the
/// first 429 comes back, else it waits out the pause and goes with the retry.
/// Either way nothing after the first two requests reaches the host before
/// the first 429's pause has ended.
#[test]
fn waiting_retries_hold_no_slot_with_max_per_host() {
    let pausing = || RawServer::scripted(vec![retry_after(429, "2"), retry_after(429, "2")]);
    let (a, b, fast) = (pausing(), pausing(), RawServer::scripted(vec![]));
    let mut input = vec![a.url("/1"), b.url("/1"), a.url("/2"), b.url("/2")];
    input.extend((0..20).map(|i| fast.url(&format!("/{i}"))));
    let started = Instant::now();
    let r = run(
        &["-c", "4", "--max-per-host", "2", "--retries", "1"],
        lines(&input),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert_eq!(r.records.len(), 24);
    let fast_times = fast.times_since(started);
    assert_eq!(fast_times.len(), 20);
    assert!(
        fast_times.iter().all(|t| *t < Duration::from_millis(1500)),
        "the fast host's requests came at {fast_times:?}"
    );
    for server in [&a, &b] {
        let seen = server.heads();
        assert_eq!(seen.len(), 4, "{seen:?}");
        let gap = seen[2].at - seen[0].at;
        assert!(
            gap >= Duration::from_millis(1900),
            "third request after {gap:?}"
        );
    }
    // Completion order: every fast URL before any paused one.
    let paused: Vec<bool> = r
        .records
        .iter()
        .map(|x| !x.url.starts_with(&fast.url("/")))
        .collect();
    assert_eq!(paused.iter().position(|p| *p), Some(20), "{paused:?}");
    for x in &r.records[20..] {
        assert_eq!((x.status, x.attempts), (Some(200), Some(2)), "{x:?}");
        assert!(x.elapsed_ms >= 1900.0, "{x:?}");
    }
    assert!(r.records[..20]
        .iter()
        .all(|x| x.status == Some(200) && x.attempts.is_none()));
}

/// Without per-host flags, `--retries` uses the look-ahead window too: at
/// `-c 2 --retries 1` one host pausing both its URLs with `Retry-After: 2`
/// does not stop a second host's URLs, which all go within 1.5 s (before the
/// pause ends). With `--keep-order` the records still come in input order (the
/// window is made to hold all 12 lines: in input order the paused URLs'
/// records hold the window back, as documented for `--keep-order`).
#[test]
fn a_paused_host_does_not_stop_others_with_retries_alone() {
    for keep_order in [false, true] {
        let paused = RawServer::scripted(vec![retry_after(429, "2"), retry_after(429, "2")]);
        let other = RawServer::scripted(vec![]);
        let mut input = vec![paused.url("/1"), paused.url("/2")];
        input.extend((0..10).map(|i| other.url(&format!("/{i}"))));
        let mut args = vec!["-c", "2", "--retries", "1"];
        if keep_order {
            args.extend(["--keep-order", "--lookahead", "12"]);
        }
        let started = Instant::now();
        let r = run(&args, lines(&input));
        assert_eq!(r.code(), 0, "{}", r.stderr);
        assert_eq!(r.records.len(), 12);
        let times = other.times_since(started);
        assert_eq!(times.len(), 10);
        assert!(
            times.iter().all(|t| *t < Duration::from_millis(1500)),
            "keep_order {keep_order}: the other host's requests came at {times:?}"
        );
        let seen = paused.heads();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen[2].at - seen[1].at >= Duration::from_millis(1900));
        let urls = r.urls();
        if keep_order {
            assert_eq!(urls, input.iter().map(String::as_str).collect::<Vec<_>>());
        } else {
            assert!(
                urls[10..].iter().all(|u| u.starts_with(&paused.url("/"))),
                "{urls:?}"
            );
        }
        for x in &r.records {
            let want = if x.url.starts_with(&paused.url("/")) {
                Some(2)
            } else {
                None
            };
            assert_eq!(x.status, Some(200), "{x:?}");
            assert_eq!(x.attempts, want, "{x:?}");
        }
    }
}

/// A `Retry-After` that comes after a redirect pauses the host that sent it,
/// not the input URL's host. Host A redirects to host B,
/// which answers `503 Retry-After: 2` once; at `-c 1 --max-per-host 1` a
/// further URL to A goes at once, and one to B waits for the pause.
#[test]
fn retry_after_pauses_the_host_that_sent_it() {
    let b = RawServer::scripted(vec![retry_after(503, "2")]);
    let moved = || Reply::status(302, &[("Location", &b.url("/busy"))]);
    // A's requests: /moved, /now, then /moved again (the retry).
    let a = RawServer::scripted(vec![moved(), status(200), moved()]);
    let input = [a.url("/moved"), b.url("/later"), a.url("/now")];
    let started = Instant::now();
    let r = run(
        &["-c", "1", "--max-per-host", "1", "--retries", "1"],
        lines(&input),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let order = r.urls();
    assert_eq!(order[0], input[2], "{order:?}");
    let to_b = b.times_since(started);
    assert_eq!(to_b.len(), 3, "{to_b:?}");
    assert!(to_b[1] >= Duration::from_millis(1900), "{to_b:?}");
    let to_a = a.times_since(started);
    assert!(to_a[1] < Duration::from_millis(1500), "{to_a:?}");
}

/// Durations far beyond any clock, from flags and from a server's
/// `Retry-After: 99999999999999999999`, never panic: each run gives its one
/// record per line.
#[test]
fn huge_durations_from_flags_and_servers_never_panic() {
    let server = RawServer::every(retry_after(429, "99999999999999999999"));
    let url = server.url("/x");
    let huge = "1e19";
    let runs: [&[&str]; 4] = [
        &["--max-retry-after", huge],
        // The scheduler on: the 429 pauses the host for its Retry-After.
        &["--max-retry-after", huge, "--max-per-host", "1"],
        &["-t", huge, "--connect-timeout", huge, "--retry-delay", huge],
        &[
            "--retry-max-delay",
            huge,
            "--rate",
            "1/d",
            "--rate-per-host",
            "4294967295",
            "--lookahead",
            "4294967295",
            "-c",
            "4294967295",
        ],
    ];
    for args in runs {
        let r = run(args, format!("{url}\n"));
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert_eq!(r.code(), 0, "{args:?}: {}", r.stderr);
        assert_eq!(
            exact(&r.records),
            [Record::success(&url, 429, 10)],
            "{args:?}"
        );
    }
}

/// A retry due in the far future (a huge `Retry-After` allowed by a huge
/// `--max-retry-after`, or a huge backoff) waits without panicking, the other
/// URLs go on, and an interrupt still answers every line.
#[test]
fn a_retry_due_in_the_far_future_waits_and_an_interrupt_answers_it() {
    let limited = RawServer::every(retry_after(429, "99999999999999999999"));
    let failing = RawServer::every(status(503));
    let fine = Server::start();
    let urls = [limited.url("/x"), failing.url("/y"), fine.url("/z")];
    let mut running = crate::support::Cmd::new(&[
        "--retries",
        "1",
        "--max-retry-after",
        "1e19",
        "--retry-delay",
        "1e19",
        "--retry-max-delay",
        "1e19",
    ])
    .start();
    let mut stdin = running.child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, lines(&urls).as_bytes()).unwrap();
    drop(stdin);
    limited.wait_for_requests(1);
    failing.wait_for_requests(1);
    std::thread::sleep(Duration::from_millis(300));
    running.signal(libc::SIGINT);
    let out = running.finish().parse();
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.code(), 130, "{}", out.stderr);
    assert_eq!(out.records.len(), 3, "{:#?}", out.records);
    for r in &out.records {
        let want = if r.url == urls[2] {
            None
        } else {
            Some("cancelled")
        };
        assert_eq!(r.error_kind.as_deref(), want, "{r:?}");
    }
    assert_eq!((limited.requests(), failing.requests()), (1, 1));
}
