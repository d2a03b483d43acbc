//! Transport failures and their kinds.

use std::time::Duration;

use crate::support::{dead_port, run, RawServer, Record, Reply, Run};

/// Runs the binary on one URL of a raw server that answers with `reply`,
/// checks the server saw one request, the exit status 1, one record and the
/// summary, and returns the URL and the run.
fn one_failure(reply: Reply, args: &[&str]) -> (String, Run) {
    let server = RawServer::every(reply);
    let url = server.url("/x");
    let run = run(args, format!("{url}\n"));
    assert_eq!(server.requests(), 1);
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(run.records.len(), 1, "{:?}", run.records);
    run.checked_summary();
    (url, run)
}

/// Each misbehaviour, the flags, and the record it gives; the `error` text
/// is compared where given, else only checked to be there.
#[test]
fn each_misbehaving_server_gives_its_failure_kind() {
    // Name, reply, flags, kind, error text.
    type Case = (
        &'static str,
        Reply,
        &'static [&'static str],
        &'static str,
        Option<&'static str>,
    );
    let cases: [Case; 8] = [
        (
            "hang",
            Reply::hang(),
            &["-t", "1"],
            "timeout",
            Some("timeout after 1s"),
        ),
        (
            "hang, fractional -t",
            Reply::hang(),
            &["-t", "0.5"],
            "timeout",
            Some("timeout after 0.5s"),
        ),
        // The deadline covers the whole body, not just the response head.
        (
            "drip",
            Reply::drip(),
            &["-t", "1"],
            "timeout",
            Some("timeout after 1s"),
        ),
        (
            "body shorter than Content-Length",
            Reply::truncated(),
            &["-t", "5"],
            "protocol",
            None,
        ),
        (
            "malformed chunk",
            Reply::bad_chunk(),
            &["-t", "5"],
            "protocol",
            None,
        ),
        (
            "reset while reading the body",
            Reply::reset_in_body(),
            &["-t", "5"],
            "body",
            None,
        ),
        // A server that answers a new connection's first request by closing
        // or resetting it gets that one request (`one_failure` checks the
        // count): only a kept-alive connection that had answered before is
        // taken for stale and the request sent again.
        (
            "closed before any response",
            Reply::close(),
            &["-t", "5"],
            "protocol",
            None,
        ),
        (
            "reset before any response",
            Reply::reset(),
            &["-t", "5"],
            "io",
            None,
        ),
    ];
    for (name, reply, args, kind, error) in cases {
        let (url, run) = one_failure(reply, args);
        let want = Record::failure(&url, kind);
        match error {
            Some(e) => assert_eq!(run.records[0].exact(), want.with_error(e), "{name}"),
            None => assert_eq!(run.records[0].without_error(), want, "{name}"),
        }
        if kind == "timeout" {
            // The record counts the time until the deadline fired.
            let deadline_ms = args[1].parse::<f64>().unwrap() * 1000.0;
            let ms = run.records[0].elapsed_ms;
            assert!((deadline_ms..3000.0).contains(&ms), "{name}: {ms}");
            assert!(
                run.elapsed < Duration::from_secs(3),
                "{name}: {:?}",
                run.elapsed
            );
        }
    }
}

/// A refused connection is `connect`; a name under `.invalid` never resolves
/// (RFC 6761) and is `dns`, without a query.
#[test]
fn refused_connection_is_connect_and_unresolvable_name_is_dns() {
    let refused = format!("http://127.0.0.1:{}/", dead_port());
    for (url, kind) in [
        (refused.as_str(), "connect"),
        ("http://no-such-host.invalid/", "dns"),
    ] {
        let run = run(&["-t", "5"], format!("{url}\n"));
        assert_eq!(run.code(), 1, "{url}");
        assert_eq!(run.records[0].without_error(), Record::failure(url, kind));
    }
}
