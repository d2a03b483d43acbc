//! Exit statuses, usage errors, the summary line and prompt output.

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{run, schema, Cmd, Kind, RawServer, Record, Reply, Server};

#[test]
fn exit_zero_when_every_record_is_a_success() {
    let server = Server::start();
    let input = format!(
        "{}\n{}\n",
        server.url("/bytes/1"),
        server.url("/status/404")
    );
    let run = run(&[], input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2);
}

#[test]
fn exit_one_when_some_record_is_a_failure() {
    let server = Server::start();
    let input = format!("{}\nftp://x/\n", server.url("/bytes/1"));
    let run = run(&[], input);
    assert_eq!(run.code(), 1, "{}", run.stderr);
    let kinds: Vec<Kind> = run.sorted().iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [Kind::Failure, Kind::Success]);
}

#[test]
fn empty_input_gives_an_empty_run() {
    let run = run(&[], "# only a comment\n\n");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert!(run.records.is_empty());
    let s = run.checked_summary();
    assert_eq!(s.total, 0);
}

/// A bad flag or value: exit 2, a message, nothing fetched.
#[test]
fn usage_errors_exit_two_and_fetch_nothing() {
    let server = Server::start();
    let input = format!("{}\n", server.url("/bytes/1"));
    let bad: &[&[&str]] = &[
        &["-c", "0"],
        &["-c", "-1"],
        &["-t", "abc"],
        &["-t", "0"],
        &["-t", "-1"],
        &["-H", "bad"],
        &["-H", "bad name: 1"],
        // Header injection: CR or LF in a value is refused, not sent.
        &["-H", "X-A: 1\r\nInjected: yes"],
        &["-H", "X-A: 1\nInjected: yes"],
        &["-A", "agent\r\nInjected: yes"],
        &["-X", "GE T"],
        &["-X", ""],
        &["-d", "@/nonexistent/body"],
        &["--http1.1", "--http2-prior-knowledge"],
        &["--max-size", "1T"],
        &["--input", "csv"],
        &["--max-redirects", "x"],
        &["--default-scheme", "ftp"],
        &["--no-such-flag"],
        &["--accept", "2xx"],
        &["--accept", ""],
        &["--accept", "..100"],
    ];
    for args in bad {
        let run = run(args, input.clone());
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr);
        assert!(run.records.is_empty(), "{args:?}");
        assert!(!run.stderr.trim().is_empty(), "{args:?}: no message");
        assert!(
            !run.stderr.contains("\"summary\""),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(server.hits(), 0);
}

#[test]
fn summary_is_the_last_stderr_line_and_counts_the_records() {
    let server = Server::start();
    let input = format!(
        "{}\n{}\nnot a url\nftp://x/\n",
        server.url("/bytes/1"),
        server.url("/status/404")
    );
    let run = run(&[], input);
    assert_eq!(run.code(), 1);
    // Nothing else was written to stderr.
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let s = run.checked_summary();
    assert_eq!((s.total, s.succeeded, s.failed), (4, 2, 2));
    assert_eq!(s.interrupted, None, "{s:?}");
}

#[test]
fn quiet_writes_no_summary() {
    let server = Server::start();
    let run = run(&["-q"], format!("{}\n", server.url("/bytes/1")));
    assert_eq!(run.code(), 0);
    assert_eq!(run.records.len(), 1);
    assert_eq!(run.stderr, "");
}

/// A record is written (and flushed) as soon as it completes, while input is
/// still open and another request is pending.
#[test]
fn a_finished_record_is_visible_before_the_run_ends() {
    let server = Server::start();
    let hang = RawServer::every(Reply::hang());
    // 10 s for the first record, 10 s for the exit.
    let mut running = Cmd::new(&["-t", "1"])
        .limit(Duration::from_secs(20))
        .start();
    let mut stdin = running.child.stdin.take().unwrap();
    let fast = server.url("/bytes/7");
    writeln!(stdin, "{}\n{fast}", hang.url("/")).unwrap();
    stdin.flush().unwrap();
    let stdout = BufReader::new(running.child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let first = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(line) => line,
        Err(e) => {
            let _ = running.child.kill();
            let _ = running.child.wait();
            panic!("no record while the input is open: {e}");
        }
    };
    // The run is still going: the input is open.
    assert!(running.child.try_wait().unwrap().is_none());
    schema::check_stdout(&first);
    let record: Record = serde_json::from_str(&first).expect(&first);
    assert_eq!(record.url, fast);
    assert_eq!(record.size, Some(7));
    drop(stdin);
    assert_eq!(running.wait().code(), Some(1));
    let rest: Vec<String> = rx.iter().collect();
    schema::check_stdout(&rest.join("\n"));
    assert_eq!(rest.len(), 1, "{rest:?}");
    let last: Record = serde_json::from_str(&rest[0]).expect(&rest[0]);
    assert_eq!(last.error_kind.as_deref(), Some("timeout"), "{rest:?}");
}
