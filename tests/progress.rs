//! `--progress`: the status line on a real pseudo-terminal, its redraw rate,
//! its erasure before the summary, messages printed above it, its fit to
//! the terminal's width, records on the same terminal, and stderr left
//! exactly JSON Lines when it is not shown.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{
    lines, parse_lines, pty, read_terminal, scratch, set_size, watch_terminal, Cmd, Server, Summary,
};

/// What erases the line: carriage return, erase to the end of the line.
const ERASE: &str = "\r\x1b[K";

/// Fast URLs first, then slow ones: the run lasts about 1.6 s (4 rounds of
/// 400 ms at `-c 3`), and the fast records come in a burst that a line drawn
/// per record would follow.
fn urls(server: &Server) -> Vec<String> {
    let fast = (0..200).map(|i| server.url(&format!("/bytes/{i}")));
    let slow = (0..12).map(|i| server.url(&format!("/delay/400?{i}")));
    fast.chain(slow).collect()
}

/// The frames drawn in full: each is `\r`, the text (starting with the
/// records done, e.g. `12 done (40 read) | ...`) and `ESC[K`.
fn frames(terminal: &str) -> Vec<&str> {
    terminal
        .split('\r')
        .filter_map(|f| f.strip_suffix("\x1b[K"))
        .filter(|f| f.contains(" done (") && f.contains(" in flight | "))
        .collect()
}

/// The text between one `\r` or `\n` and the next, escape sequences
/// (`ESC [ parameters final-byte`) removed: what each draw put on a line.
fn drawn_lines(terminal: &str) -> Vec<String> {
    terminal
        .split(['\r', '\n'])
        .map(|piece| {
            let mut text = String::new();
            let mut chars = piece.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    // `[`, then parameters, up to a final byte in @..~.
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    text.push(c);
                }
            }
            text
        })
        .collect()
}

/// The cursor-up sequences (`ESC [ n A`) in `terminal`.
fn cursor_ups(terminal: &str) -> Vec<&str> {
    terminal
        .match_indices("\x1b[")
        .filter_map(|(at, _)| {
            let rest = &terminal[at + 2..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            rest[digits..]
                .starts_with('A')
                .then(|| &terminal[at..at + 3 + digits])
        })
        .collect()
}

/// The lines a terminal shows for `terminal`: `\r` goes back to column 0,
/// `ESC[K` erases to the end of the line, other escape sequences are
/// dropped, text overwrites what is under the cursor, and `\n` ends a line.
fn screen_lines(terminal: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut col = 0;
    let mut chars = terminal.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                lines.push(line.drain(..).collect());
                col = 0;
            }
            '\x1b' => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        if c == 'K' {
                            line.truncate(col);
                        }
                        break;
                    }
                }
            }
            c => {
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.resize(col, ' ');
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line.into_iter().collect());
    }
    lines
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

/// `n` URLs whose responses take `ms` milliseconds.
fn slow_urls(server: &Server, n: usize, ms: u32) -> Vec<String> {
    (0..n)
        .map(|i| server.url(&format!("/delay/{ms}?{i}")))
        .collect()
}

/// Runs `args` on `urls` with stdout and stderr on one terminal, and
/// returns what the terminal got (the run succeeded).
fn run_on_one_terminal(args: &[&str], urls: &[String]) -> String {
    let (master, slave) = pty();
    let stdout = slave.try_clone().unwrap();
    let terminal = read_terminal(master);
    let out = Cmd::new(args)
        .env("TERM", "xterm")
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(slave))
        .output(lines(urls));
    let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{seen:?}");
    seen
}

/// The terminal's own lines: what is drawn on it that is not the summary.
fn not_summary(line: &str) -> bool {
    !line.starts_with(r#"{"type":"summary""#)
}

/// On a terminal 30 or 60 columns wide, every draw fits in one column less
/// than the width (the line is cut at a field), and the cursor never moves
/// up: no redraw wraps, and nothing above the line is overwritten. Rows 0
/// is what a fresh pseudo-terminal given only `stty cols N` reports.
#[test]
fn the_line_fits_a_narrow_terminal() {
    let server = Server::start();
    let urls = slow_urls(&server, 12, 250);
    for (rows, cols) in [(0, 30), (24, 30), (0, 60)] {
        let (master, slave) = pty();
        set_size(&master, rows, cols);
        let terminal = read_terminal(master);
        let out = Cmd::new(&["-c", "4"])
            .env("TERM", "xterm")
            .stderr(Stdio::from(slave))
            .output(lines(&urls));
        let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
        assert_eq!(out.status.code(), Some(0), "{seen:?}");
        assert_eq!(parse_lines(&out.stdout).len(), urls.len());
        assert!(
            seen.contains(" done ("),
            "{cols}: no progress line: {seen:?}"
        );
        for line in drawn_lines(&seen).iter().filter(|l| not_summary(l)) {
            assert!(
                line.chars().count() < usize::from(cols),
                "{rows}x{cols}: {line:?} in {seen:?}"
            );
        }
        assert_eq!(cursor_ups(&seen), [] as [&str; 0], "{seen:?}");
        assert!(seen.ends_with("\r\n"), "{seen:?}");
    }
}

/// On a terminal 200 columns wide the whole line is drawn, even past 80
/// columns (100,000 instant failures make its numbers long), with no
/// cursor-up and no padding: each frame ends with the time elapsed.
#[test]
fn a_long_line_on_a_wide_terminal_is_drawn_whole_in_place() {
    let server = Server::start();
    let mut input = "ftp://127.0.0.1/x\n".repeat(100_000);
    let slow = slow_urls(&server, 20, 1500);
    input.push_str(&lines(&slow));
    let (master, slave) = pty();
    set_size(&master, 0, 200);
    let terminal = read_terminal(master);
    // The records are not kept: the summary counts them.
    let out = Cmd::new(&["-c", "20", "--max-per-host", "0"])
        .env("TERM", "xterm")
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .limit(Duration::from_secs(120))
        .output(input);
    let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let at = seen.find(r#"{"type":"summary""#).expect("a summary");
    let summary: Summary = serde_json::from_str(seen[at..].trim_end()).unwrap();
    assert_eq!((summary.succeeded, summary.failed), (20, 100_000));
    assert_eq!(cursor_ups(&seen), [] as [&str; 0]);
    for line in drawn_lines(&seen).iter().filter(|l| not_summary(l)) {
        assert!(line.chars().count() < 200, "{line:?}");
    }
    let frames = frames(&seen);
    let last = frames.last().expect("a progress line");
    assert!(
        frames.iter().any(|f| f.len() > 80),
        "no line past 80 columns, the last: {last:?}"
    );
    for f in &frames {
        let elapsed = f.rsplit(" | ").next().unwrap();
        assert!(
            elapsed.ends_with('s') && elapsed.starts_with(|c: char| c.is_ascii_digit()),
            "{f:?}"
        );
    }
}

/// A message printed while the line is shown: the line is erased, the
/// message ends with its own newline (not padded to some width), and the
/// line is drawn again below it.
#[test]
fn a_message_above_the_line_ends_with_a_newline() {
    let server = Server::start();
    let dir = scratch("a_message_above_the_line_ends_with_a_newline");
    let urls = slow_urls(&server, 3, 1000);
    let (master, slave) = pty();
    set_size(&master, 0, 60);
    let terminal = watch_terminal(master);
    let mut running = Cmd::new(&["-", "missing.txt"])
        .current_dir(&dir)
        .env("TERM", "xterm")
        .stderr(Stdio::from(slave))
        .start();
    let mut stdin = running.child.stdin.take().unwrap();
    stdin.write_all(lines(&urls).as_bytes()).unwrap();
    // The input error comes once stdin ends: after the line is drawn.
    assert!(terminal.wait_for(b" done (", Duration::from_secs(20)));
    drop(stdin);
    let out = running.finish();
    let seen = String::from_utf8(terminal.join()).unwrap();
    assert_eq!(out.status.code(), Some(2), "{seen:?}");
    assert_eq!(parse_lines(&out.stdout).len(), urls.len());
    let message = "fetcher-stream: error: missing.txt: No such file or directory (os error 2)";
    let at = seen.find(message).expect("the message");
    assert!(seen[..at].ends_with(ERASE), "{seen:?}");
    // The terminal turns the newline into CR LF; the line follows.
    let after = &seen[at + message.len()..];
    assert!(after.starts_with("\r\n\r"), "{seen:?}");
    assert!(
        after[3..].starts_with(|c: char| c.is_ascii_digit()) && after[3..].contains(" done ("),
        "{seen:?}"
    );
}

/// With stdout on the terminal too, `auto` draws no line: the records
/// scroll on that terminal, and stderr ends with the summary alone.
#[test]
fn auto_draws_nothing_when_stdout_is_the_terminal() {
    let server = Server::start();
    let urls = slow_urls(&server, 6, 250);
    let seen = run_on_one_terminal(&["-c", "2"], &urls);
    assert!(
        !seen.contains('\x1b') && !seen.contains(" done ("),
        "{seen:?}"
    );
    let shown = screen_lines(&seen);
    let (summary, records) = shown.split_last().unwrap();
    assert_eq!(parse_lines(&records.join("\n")).len(), urls.len());
    let summary: Summary = serde_json::from_str(summary).unwrap();
    assert_eq!(summary.succeeded, urls.len() as u64);
}

/// `--progress always` with stdout on the same terminal: the line is erased
/// before records are written, so every record is a whole line from column
/// 0 with no progress text on it, and no progress text stays on the
/// screen; the line was drawn between records.
#[test]
fn always_with_records_on_the_terminal_keeps_them_apart() {
    let server = Server::start();
    let urls = slow_urls(&server, 12, 250);
    let seen = run_on_one_terminal(&["-c", "3", "--progress", "always"], &urls);
    assert!(frames(&seen).len() > 1, "{seen:?}");
    assert_eq!(cursor_ups(&seen), [] as [&str; 0]);
    // In the raw bytes, every record starts a line or follows an erase.
    for (at, _) in seen.match_indices(r#"{"type":"#) {
        assert!(
            seen[..at].ends_with("\r\n") || seen[..at].ends_with(ERASE) || at == 0,
            "{at}: {seen:?}"
        );
    }
    // Split at every `\r` and `\n`: each piece holding a record is that
    // whole record and nothing else.
    let records: Vec<String> = drawn_lines(&seen)
        .into_iter()
        .filter(|l| l.contains(r#""url":"#))
        .collect();
    assert_eq!(records.len(), urls.len(), "{seen:?}");
    for r in &records {
        assert!(r.starts_with('{') && !r.contains(" done ("), "{r:?}");
    }
    assert_eq!(parse_lines(&records.join("\n")).len(), urls.len());
    // What the terminal shows: the records and the summary, nothing else.
    let shown = screen_lines(&seen);
    assert_eq!(shown.len(), urls.len() + 1, "{shown:#?}");
    assert!(shown.iter().all(|l| !l.contains(" done (")), "{shown:#?}");
}
