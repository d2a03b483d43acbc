//! A closed stdout and interrupting signals (issue 2, item 12).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{command, exact, parse_lines, wait_with_limit, Misbehave, RawServer, Server};

/// `fetcher-stream | head -n 3` while other requests hang: the process ends
/// promptly, silently, with status 141.
#[test]
fn closed_stdout_ends_the_run_with_141() {
    let server = Server::start();
    let hang = RawServer::start(Misbehave::Hang);
    let mut input = String::new();
    for i in 0..3 {
        input += &format!("{}\n", server.url(&format!("/bytes/{i}")));
    }
    for i in 0..5 {
        input += &format!("{}\n", hang.url(&format!("/{i}")));
    }
    let mut child = command(&["-c", "8", "-t", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // The reader: three lines, then it goes away (closing the pipe).
    let stdout = child.stdout.take().unwrap();
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
            let _ = child.kill();
            let _ = child.wait();
            panic!("three records never came: {e}");
        }
    };
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    let took = closed_at.elapsed();
    assert_eq!(status.signal(), None, "{status:?}");
    assert_eq!(status.code(), Some(141), "{status:?}");
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after the reader left"
    );
    assert_eq!(stderr.join().unwrap(), "");
    // The three lines read were the three fast URLs.
    let mut records = parse_lines(&lines.join("\n"));
    records.sort_by(|a, b| a["url"].as_str().cmp(&b["url"].as_str()));
    assert_eq!(
        exact(&records),
        (0..3)
            .map(|i| {
                json!({
                    "type": "success", "url": server.url(&format!("/bytes/{i}")),
                    "status": 200, "size": i,
                })
            })
            .collect::<Vec<_>>()
    );
}

/// Sends `signal` while `hanging` URLs (at `-c 3`) hang and stdin stays open,
/// and checks every URL read got a `cancelled` record, the summary says
/// `interrupted`, and the exit status is 130.
fn interrupt(signal: libc::c_int, hanging: usize, extra: &[&str]) {
    let hang = RawServer::start(Misbehave::Hang);
    let urls: Vec<String> = (0..hanging).map(|i| hang.url(&format!("/{i}"))).collect();
    let mut child = command(&[&["-c", "3", "-t", "30"], extra].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // One write: every line is read at once, before the signal.
    stdin
        .write_all(format!("{}\n", urls.join("\n")).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    hang.wait_for_requests(3);
    // SAFETY: kill(2) on our own, still unreaped child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let sent = Instant::now();
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    drop(stdin);
    assert_eq!(status.code(), Some(130), "{status:?}");
    let mut records = parse_lines(&out.join().unwrap());
    records.sort_by(|a, b| a["url"].as_str().cmp(&b["url"].as_str()));
    let mut want: Vec<_> = urls
        .iter()
        .map(|u| {
            json!({"type": "failure", "url": u, "error": "cancelled", "error_kind": "cancelled"})
        })
        .collect();
    want.sort_by(|a, b| a["url"].as_str().cmp(&b["url"].as_str()));
    assert_eq!(exact(&records), want);
    assert_eq!(hang.requests(), 3, "only -c 3 requests were started");
    let stderr = err.join().unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let mut summary: serde_json::Value = serde_json::from_str(stderr.trim_end()).unwrap();
    assert!(summary["elapsed_ms"].is_number(), "{summary}");
    summary.as_object_mut().unwrap().remove("elapsed_ms");
    assert_eq!(
        summary,
        json!({
            "type": "summary", "total": hanging, "succeeded": 0, "failed": hanging,
            "interrupted": true,
        })
    );
}

#[test]
fn sigint_cancels_what_is_in_flight_and_exits_130() {
    interrupt(libc::SIGINT, 3, &[]);
}

#[test]
fn sigterm_cancels_what_is_in_flight_and_exits_130() {
    interrupt(libc::SIGTERM, 3, &[]);
}

/// Lines already read but still waiting for a slot get a record too.
#[test]
fn sigint_answers_lines_read_but_not_started() {
    interrupt(libc::SIGINT, 5, &[]);
}

/// The same with the per-host scheduler: lines waiting in its look-ahead
/// window end as `cancelled` records at once.
#[test]
fn sigint_answers_the_lookahead_window() {
    interrupt(libc::SIGINT, 8, &["--max-per-host", "3"]);
}

/// Lines that arrive on stdin while every slot is busy are not read before the
/// signal; after it, no new read may consume them without a record. The test
/// keeps its own copy of the pipe's read end, so after the run it can count
/// the bytes the process left unread: records must equal the lines it read.
#[test]
fn sigint_reads_no_line_it_does_not_answer() {
    reads_no_line_it_does_not_answer(&[]);
}

/// The same with the per-host scheduler (`--lookahead 5`: two lines wait in
/// its window, the rest in the pipe).
#[test]
fn sigint_reads_no_line_it_does_not_answer_with_the_scheduler() {
    reads_no_line_it_does_not_answer(&["--max-per-host", "3", "--lookahead", "5"]);
}

fn reads_no_line_it_does_not_answer(extra: &[&str]) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let hang = RawServer::start(Misbehave::Hang);
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; both ends are owned right below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ours = read_end.try_clone().unwrap();
    let mut child = command(&[&["-c", "3", "-t", "30"], extra].concat())
        .stdin(Stdio::from(read_end))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let records = parse_lines(&out);
    // What the process did not read is still in the pipe.
    drop(pipe);
    let mut unread = String::new();
    std::fs::File::from(ours)
        .read_to_string(&mut unread)
        .unwrap();
    let read_lines = 23 - unread.lines().count();
    assert_eq!(
        records.len(),
        read_lines,
        "records {records:?}\nunread {unread:?}"
    );
    assert!(
        records.iter().all(|r| r["error_kind"] == "cancelled"),
        "{records:?}"
    );
}
