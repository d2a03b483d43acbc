//! `--accept`: a final status outside the set is a `status` failure that
//! keeps `status`, the exit status follows, and redirects and retries count
//! by their last response.

use crate::support::{exact, lines, run, RawServer, Record, Reply, Server};

/// A `status` failure as the tests write it.
fn rejected(url: &str, status: u16) -> Record {
    Record {
        status: Some(status),
        ..Record::failure(url, "status").with_error(&format!("status {status} is not in --accept"))
    }
}

#[test]
fn statuses_outside_the_set_are_failures_that_keep_their_status() {
    let server = Server::start();
    let urls = ["/status/200", "/status/404", "/status/500"].map(|p| server.url(p));
    let run = run(&["--keep-order", "--accept", "200..=299"], lines(&urls));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [
            Record::success(&urls[0], 200, 10),
            rejected(&urls[1], 404),
            rejected(&urls[2], 500),
        ]
    );
    let s = run.checked_summary();
    assert_eq!((s.succeeded, s.failed), (1, 2));
}

#[test]
fn a_list_of_ranges_and_single_statuses() {
    let server = Server::start();
    let urls = ["/status/200", "/status/404", "/status/500"].map(|p| server.url(p));
    let run = run(
        &["--keep-order", "--accept", "200..=299, 404"],
        lines(&urls),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [
            Record::success(&urls[0], 200, 10),
            Record::success(&urls[1], 404, 10),
            rejected(&urls[2], 500),
        ]
    );
    // An exclusive end: 500..600 holds 500.
    let run = crate::support::run(&["--accept", "200..300,500..600"], lines(&urls));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    let bad: Vec<_> = run.records.iter().filter(|r| !r.is_success()).collect();
    assert_eq!(bad.len(), 1, "{:?}", run.records);
    assert_eq!(bad[0].status, Some(404));
}

/// Without --accept nothing changes: every status is a success.
#[test]
fn without_accept_every_status_is_a_success() {
    let server = Server::start();
    let urls = ["/status/404", "/status/500"].map(|p| server.url(p));
    let run = run(&[], lines(&urls));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    run.assert_all_succeeded();
}

/// A list that does not parse is a usage error that names the bad item.
#[test]
fn bad_lists_are_usage_errors() {
    let server = Server::start();
    let input = lines(&[server.url("/status/200")]);
    let cases = [
        ("2xx", "'2xx' is not a status or a range"),
        ("200-299", "'200-299' is not a status or a range"),
        ("200..=299,", "is not a status or a range"),
        ("", "no status given"),
        ("300..=200", "'300..=200' is an empty range"),
        ("99", "a status is a number from 100 to 999"),
        ("200..=1000", "a status is a number from 100 to 999"),
    ];
    for (value, message) in cases {
        let run = run(&["--accept", value], input.clone());
        assert_eq!(run.code(), 2, "{value:?}: {}", run.stderr);
        assert!(run.records.is_empty(), "{value:?}");
        assert!(run.stderr.contains(message), "{value:?}: {}", run.stderr);
    }
    assert_eq!(server.hits(), 0);
}

/// The status that counts is the final one, after redirects: a chain that
/// ends in 200 is a success, one that ends in 404 a failure with 404, and
/// with --max-redirects 0 the 3xx itself is the final status.
#[test]
fn the_final_status_after_redirects_counts() {
    let server = Server::start();
    let to_ok = server.url("/redirect/2");
    let to_missing = server.url(&format!("/to?{}", server.url("/status/404")));
    let run = run(
        &["--keep-order", "--accept", "200..=299"],
        lines(&[&to_ok, &to_missing]),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [
            Record::success(&to_ok, 200, 4)
                .with_final_url(&server.url("/redirect/0"))
                .with_redirects(2),
            // A status failure has the final response's facts too,
            // where the redirects led included.
            rejected(&to_missing, 404)
                .with_final_url(&server.url("/status/404"))
                .with_redirects(1),
        ]
    );
    let run = crate::support::run(
        &["--max-redirects", "0", "--accept", "200..=299"],
        lines(&[&to_ok]),
    );
    assert_eq!(
        exact(&run.records),
        [rejected(&to_ok, 302).with_location(&server.url("/redirect/1"))]
    );
    let run = crate::support::run(
        &["--max-redirects", "0", "--accept", "200..=299,300..400"],
        lines(&[&to_ok]),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
}

/// Retries come first: a transient status is tried again, and only the last
/// attempt's status is checked against the set.
#[test]
fn the_last_attempts_status_counts() {
    let retry = ["--retries", "1", "--retry-delay", "0.01", "--accept", "200"];
    let server = RawServer::scripted(vec![Reply::status(503, &[]), Reply::status(200, &[])]);
    let url = server.url("/x");
    let run = run(&retry, lines(&[&url]));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 200, 10).with_attempts(2)]
    );
    let server = RawServer::scripted(vec![Reply::status(503, &[]), Reply::status(503, &[])]);
    let url = server.url("/x");
    let run = crate::support::run(&retry, lines(&[&url]));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(exact(&run.records), [rejected(&url, 503).with_attempts(2)]);
}
