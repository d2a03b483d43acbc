//! `--progress`: the status line on a real pseudo-terminal, its redraw rate,
//! its erasure before the summary, messages printed above it, and stderr
//! left exactly JSON Lines when it is not shown.

use std::process::Stdio;
use std::time::Duration;

use crate::support::{lines, parse_lines, pty, read_terminal, scratch, Cmd, Server, Summary};

/// What erases the line (indicatif's clear: carriage return, erase line).
const ERASE: &str = "\r\x1b[2K";

/// Fast URLs first, then slow ones: the run lasts about 1.6 s (4 rounds of
/// 400 ms at `-c 3`), and the fast records come in a burst that a line drawn
/// per record would follow.
fn urls(server: &Server) -> Vec<String> {
    let fast = (0..200).map(|i| server.url(&format!("/bytes/{i}")));
    let slow = (0..12).map(|i| server.url(&format!("/delay/400?{i}")));
    fast.chain(slow).collect()
}

/// The frames drawn: each starts with the records done, e.g.
/// `12 done (40 read) | ...`, and is followed by an erase.
fn frames(terminal: &str) -> Vec<&str> {
    terminal
        .split(ERASE)
        .filter(|f| f.contains(" done (") && f.contains(" in flight | "))
        .collect()
}

/// On a terminal the line shows the counts, is redrawn at most 10 times a
/// second, is erased before the summary, and the summary (JSON) is the last
/// line. An input error is printed above the line as plain text.
#[test]
fn a_terminal_shows_the_progress_line_and_erases_it_before_the_summary() {
    let server = Server::start();
    let dir = scratch("a_terminal_shows_the_progress_line");
    let urls = urls(&server);
    let (master, slave) = pty();
    let terminal = read_terminal(master);
    let out = Cmd::new(&["-c", "3", "missing.txt", "-"])
        .current_dir(&dir)
        .env("TERM", "xterm")
        .stderr(Stdio::from(slave))
        .limit(Duration::from_secs(30))
        .output(lines(&urls));
    let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(2), "{seen:?}");
    assert_eq!(parse_lines(&out.stdout).len(), urls.len());

    let frames = frames(&seen);
    assert!(!frames.is_empty(), "no progress line: {seen:?}");
    // Every frame has every count; at least one shows records done.
    let done: Vec<u64> = frames
        .iter()
        .map(|f| {
            for part in ["/s | ", " ok | ", " failed | ", " in flight | "] {
                assert!(f.contains(part), "{part:?} missing in {f:?}");
            }
            let n = f[..f.find(" done (").unwrap()].rsplit(' ').next().unwrap();
            n.parse().unwrap_or_else(|e| panic!("{e}: {f:?}"))
        })
        .collect();
    assert!(done.iter().any(|&n| n > 0), "{frames:?}");
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    // At most 10 draws a second over the run, plus the one after the
    // message and a little slack (drawn per record, the burst of fast
    // records alone would pass it).
    let limit = (out.elapsed.as_secs_f64() * 10.0).ceil() as usize + 5;
    assert!(
        frames.len() <= limit,
        "{} frames in {:?}",
        frames.len(),
        out.elapsed
    );

    // The input error, above the line as plain text (not JSON).
    assert!(
        seen.contains("fetcher-stream: error: missing.txt: No such file"),
        "{seen:?}"
    );
    assert!(!seen.contains(r#"{"type":"error""#), "{seen:?}");

    // The line is erased, then the summary is the last line (the terminal
    // turns its newline into CR LF).
    let at = seen.find(r#"{"type":"summary""#).expect("a summary");
    assert!(seen[..at].ends_with(ERASE), "{seen:?}");
    let last = seen[at..].strip_suffix("\r\n").expect("one line");
    assert!(!last.contains(['\r', '\n', '\x1b']), "{last:?}");
    let summary: Summary = serde_json::from_str(last).unwrap();
    assert_eq!(
        (summary.total, summary.succeeded),
        (urls.len() as u64, urls.len() as u64)
    );
}

/// `--progress never` and `-q` (with `auto`) on a terminal: no line, and
/// stderr is the summary alone (or nothing with `-q`).
#[test]
fn never_and_quiet_show_no_progress_on_a_terminal() {
    let server = Server::start();
    let url = server.url("/delay/300");
    for (args, want_summary) in [(&["--progress", "never"][..], true), (&["-q"][..], false)] {
        let (master, slave) = pty();
        let terminal = read_terminal(master);
        let out = Cmd::new(args)
            .env("TERM", "xterm")
            .stderr(Stdio::from(slave))
            .output(lines(&[&url]));
        let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {seen:?}");
        assert!(
            !seen.contains('\x1b') && !seen.contains(" done ("),
            "{seen:?}"
        );
        if want_summary {
            let line = seen.strip_suffix("\r\n").expect("one line");
            let s: Summary = serde_json::from_str(line).unwrap();
            assert_eq!(s.total, 1);
        } else {
            assert_eq!(seen, "", "{args:?}");
        }
    }
}

/// With stderr a pipe, `auto` draws nothing: stderr is exactly JSON Lines
/// (a warning's JSON line, then the summary), with no carriage return or
/// escape sequence. `always` draws the line there too.
#[test]
fn a_pipe_gets_json_lines_only_unless_always() {
    let server = Server::start();
    let dir = scratch("a_pipe_gets_json_lines_only_unless_always");
    let url = server.url("/delay/300");
    let out = Cmd::new(&["missing.txt", "-"])
        .current_dir(&dir)
        .env("TERM", "xterm")
        .run(lines(&[&url]));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(!out.stderr.contains(['\r', '\x1b']), "{:?}", out.stderr);
    let notices = out.notices();
    assert_eq!(notices.len(), 1, "{}", out.stderr);
    assert_eq!(notices[0]["kind"], "input");
    assert_eq!(out.summary().total, 1);

    let out = Cmd::new(&["--progress", "always"]).run(lines(&[&url]));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(!frames(&out.stderr).is_empty(), "{:?}", out.stderr);
    let at = out.stderr.find(r#"{"type":"summary""#).unwrap();
    assert!(out.stderr[..at].ends_with(ERASE), "{:?}", out.stderr);
    let last = out.stderr[at..].strip_suffix('\n').expect("one line");
    let summary: Summary = serde_json::from_str(last).unwrap();
    assert_eq!(summary.succeeded, 1);
}
