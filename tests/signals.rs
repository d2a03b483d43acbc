//! A closed stdout and interrupting signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{
    by_url, counts, exact, parse_lines, schema, Cmd, RawServer, Record, Reply, Running, Server,
    Summary,
};

/// How long a run here may take: up to 10 s until the moment the test
/// waits for (records, requests), then 10 s to exit.
const LIMIT: Duration = Duration::from_secs(20);

/// `fetcher-stream | head -n 3` while other requests hang: the process ends
/// promptly, silently, with status 141.
#[test]
fn closed_stdout_ends_the_run_with_141() {
    let server = Server::start();
    let hang = RawServer::every(Reply::hang());
    let mut input = String::new();
    for i in 0..3 {
        input += &format!("{}\n", server.url(&format!("/bytes/{i}")));
    }
    for i in 0..5 {
        input += &format!("{}\n", hang.url(&format!("/{i}")));
    }
    let mut running = Cmd::new(&["-c", "8", "-t", "30"]).limit(LIMIT).start();
    let mut stdin = running.child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    // The reader: three lines, then it goes away (closing the pipe).
    let stdout = running.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let got: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
        drop(lines);
        let _ = tx.send((got, Instant::now()));
    });
    let (lines, closed_at) = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(v) => v,
        Err(e) => {
            let _ = running.child.kill();
            let _ = running.child.wait();
            panic!("three records never came: {e}");
        }
    };
    let out = running.finish();
    let took = closed_at.elapsed();
    assert_eq!(out.status.signal(), None, "{:?}", out.status);
    assert_eq!(out.status.code(), Some(141), "{:?}", out.status);
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after the reader left"
    );
    assert_eq!(out.stderr, "");
    // The three lines read were the three fast URLs.
    let lines = lines.join("\n");
    schema::check_stdout(&lines);
    let records = by_url(parse_lines(&lines));
    let want: Vec<Record> = (0..3)
        .map(|i| Record::success(&server.url(&format!("/bytes/{i}")), 200, i))
        .collect();
    assert_eq!(exact(&records), want);
}

/// Starts the binary with `-c 3 -t 30` and `extra`, writes `urls` to its
/// stdin in one write (so every line is read at once; stdin stays open), and
/// waits until `hang` has the first 3 requests.
fn start_hanging(hang: &RawServer, urls: &[String], extra: &[&str]) -> (Running, ChildStdin) {
    let mut running = Cmd::new(&[&["-c", "3", "-t", "30"], extra].concat())
        .limit(LIMIT)
        .start();
    let mut stdin = running.child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", urls.join("\n")).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    hang.wait_for_requests(3);
    (running, stdin)
}

/// Sends `signal` while `hanging` URLs (at `-c 3`) hang and stdin stays open,
/// and checks every URL read got a `cancelled` record, the summary says
/// `interrupted`, and the exit status is 130.
fn interrupt(signal: libc::c_int, hanging: usize, extra: &[&str]) {
    let hang = RawServer::every(Reply::hang());
    let urls: Vec<String> = (0..hanging).map(|i| hang.url(&format!("/{i}"))).collect();
    let (running, stdin) = start_hanging(&hang, &urls, extra);
    running.signal(signal);
    let sent = Instant::now();
    let run = running.finish().parse();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    drop(stdin);
    assert_eq!(run.status.code(), Some(130), "{:?}", run.status);
    let want: Vec<Record> = by_url(
        urls.iter()
            .map(|u| Record::failure(u, "cancelled").with_error("cancelled"))
            .collect(),
    );
    assert_eq!(exact(&run.sorted()), want);
    assert_eq!(hang.requests(), 3, "only -c 3 requests were started");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let summary = run.summary();
    assert!(summary.elapsed_ms >= 0.0, "{summary:?}");
    let n = hanging as u64;
    // The three requests in flight reached the network; the lines still
    // waiting did not, and are left out of the percentiles.
    summary
        .record_elapsed_ms
        .expect("the requests in flight are timed")
        .check(f64::MAX);
    assert_eq!(
        summary,
        Summary {
            kind: "summary".into(),
            total: n,
            succeeded: 0,
            failed: 0,
            cancelled: n,
            skipped: None,
            elapsed_ms: summary.elapsed_ms,
            urls_per_second: summary.urls_per_second,
            bytes: 0,
            retries: 0,
            connections_opened: 3,
            dns_lookups: 0,
            status_counts: counts::<u16>(&[]),
            error_kinds: counts(&[("cancelled", n)]),
            record_elapsed_ms: summary.record_elapsed_ms,
            ttfb_ms: None,
            interrupted: Some(true),
            other_shard: None,
        }
    );
    assert_eq!(hang.connections(), 3);
}

/// An interrupted run counts its cancelled records apart: a success and a
/// real failure before the signal keep their counts, and the records of
/// the URLs in flight or waiting are `cancelled`, not `failed`.
#[test]
fn an_interrupted_summary_counts_cancelled_apart_from_failed() {
    let server = Server::start();
    let hang = RawServer::every(Reply::hang());
    let done = [
        server.url("/bytes/5"),
        format!("http://127.0.0.1:{}/", crate::support::dead_port()),
    ];
    let hanging: Vec<String> = (0..5).map(|i| hang.url(&format!("/{i}"))).collect();
    let urls = [&done[..], &hanging[..]].concat();
    let (running, stdin) = start_hanging(&hang, &urls, &[]);
    running.signal(libc::SIGINT);
    let run = running.finish().parse();
    drop(stdin);
    assert_eq!(run.status.code(), Some(130), "{:?}", run.status);
    let s = run.checked_summary();
    assert_eq!(
        (s.total, s.succeeded, s.failed, s.cancelled),
        (7, 1, 1, 5),
        "{s:?}"
    );
    assert_eq!(s.error_kinds, counts(&[("cancelled", 5), ("connect", 1)]));
    assert_eq!(s.status_counts, counts(&[(200, 1)]));
    assert_eq!((s.bytes, s.retries, s.dns_lookups), (5, 0, 0));
    assert_eq!(s.connections_opened, (server.accepted() + 3) as u64);
    assert_eq!(s.interrupted, Some(true));
}

/// Each signal and the lines in flight or waiting: SIGINT and SIGTERM cancel
/// what is in flight; lines already read but still waiting for a slot get a
/// record too; and with the per-host scheduler, lines waiting in its
/// look-ahead window end as `cancelled` records at once. Two signals that
/// arrive together (GNU `timeout` signals the process and then its group) are
/// one interruption, not the "second signal" that ends the run at once.
#[test]
fn a_signal_cancels_every_line_read_and_exits_130() {
    let cases: [(&str, libc::c_int, usize, &[&str]); 4] = [
        ("SIGINT, in flight", libc::SIGINT, 3, &[]),
        ("SIGTERM, in flight", libc::SIGTERM, 3, &[]),
        ("SIGINT, lines read but not started", libc::SIGINT, 5, &[]),
        (
            "SIGINT, the look-ahead window",
            libc::SIGINT,
            8,
            &["--max-per-host", "3"],
        ),
    ];
    for (name, signal, hanging, extra) in cases {
        eprintln!("case: {name}");
        interrupt(signal, hanging, extra);
    }
}

/// Two signals 100 ms apart (GNU `timeout` signals the process and then its
/// group) are one interruption: every line read still gets its record and the
/// summary is written. The records are larger than the stdout pipe holds and
/// nobody reads them until after the second signal, so a run that ended at
/// the second signal would lose most of them.
#[test]
fn two_signals_together_are_one_interruption() {
    let hang = RawServer::every(Reply::hang());
    let long = "x".repeat(6_000);
    let urls: Vec<String> = (0..30).map(|i| hang.url(&format!("/{i}/{long}"))).collect();
    let extra = ["--max-per-host", "3", "--lookahead", "100"];
    let (running, stdin) = start_hanging(&hang, &urls, &extra);
    running.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    running.signal(libc::SIGINT);
    let run = running.finish().parse();
    drop(stdin);
    assert_eq!(run.status.code(), Some(130), "{:?}", run.status);
    let summary = run.summary();
    assert_eq!(summary.interrupted, Some(true), "{summary:?}");
    // At least the bytes the stdin write needed the reader to take (180 KB
    // written, 64 KiB of pipe): far more records than the stdout pipe holds.
    assert!(run.records.len() >= 15, "{} records", run.records.len());
    assert_eq!(summary.total, run.records.len() as u64);
    assert!(
        run.records
            .iter()
            .all(|r| r.error_kind.as_deref() == Some("cancelled")),
        "{:?}",
        run.records
            .iter()
            .map(|r| &r.error_kind)
            .collect::<Vec<_>>()
    );
    assert_eq!(hang.requests(), 3, "only -c 3 requests were started");
}

/// Lines that arrive on stdin while every slot is busy are not read before the
/// signal; after it, no new read may consume them without a record. The test
/// keeps its own copy of the pipe's read end, so after the run it can count
/// the bytes the process left unread: records must equal the lines it read.
/// The same with the per-host scheduler (`--lookahead 5`: two lines wait in
/// its window, the rest in the pipe).
#[test]
fn sigint_reads_no_line_it_does_not_answer() {
    for extra in [&[][..], &["--max-per-host", "3", "--lookahead", "5"]] {
        reads_no_line_it_does_not_answer(extra);
    }
}

fn reads_no_line_it_does_not_answer(extra: &[&str]) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let hang = RawServer::every(Reply::hang());
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; both ends are owned right below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ours = read_end.try_clone().unwrap();
    let running = Cmd::new(&[&["-c", "3", "-t", "30"], extra].concat())
        .stdin(Stdio::from(read_end))
        .limit(LIMIT)
        .start();
    let mut pipe = std::fs::File::from(write_end);
    for i in 0..3 {
        writeln!(pipe, "{}", hang.url(&format!("/first/{i}"))).unwrap();
    }
    hang.wait_for_requests(3);
    // Every slot is busy now: these wait in the pipe.
    for i in 0..20 {
        writeln!(pipe, "{}", hang.url(&format!("/later/{i}"))).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    running.signal(libc::SIGINT);
    let run = running.finish().parse();
    assert_eq!(run.status.code(), Some(130), "{extra:?}");
    // What the process did not read is still in the pipe.
    drop(pipe);
    let mut unread = String::new();
    std::fs::File::from(ours)
        .read_to_string(&mut unread)
        .unwrap();
    let read_lines = 23 - unread.lines().count();
    assert_eq!(
        run.records.len(),
        read_lines,
        "{extra:?}: records {:?}\nunread {unread:?}",
        run.records
    );
    assert!(
        run.records
            .iter()
            .all(|r| r.error_kind.as_deref() == Some("cancelled")),
        "{extra:?}: {:?}",
        run.records
    );
}
