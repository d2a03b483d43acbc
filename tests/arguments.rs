//! URL arguments and `--url`: an argument starting with http:// or https://
//! is a URL line, any other a file; `--url` values come first; with URLs alone
//! stdin is not read; on a terminal with no input a hint goes to stderr.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{exact, pty, read_terminal, run, schema, scratch, Cmd, Record, Server};

/// URL arguments alone: stdin is left alone, even while it stays open (a
/// run that read it would wait until the limit).
#[test]
fn url_arguments_are_fetched_without_reading_stdin() {
    let server = Server::start();
    let (a, b) = (server.url("/bytes/1"), server.url("/bytes/2"));
    let out = Cmd::new(&["--keep-order", &a, &b])
        .limit(Duration::from_secs(10))
        .start()
        .finish()
        .parse();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        exact(&out.records),
        [Record::success(&a, 200, 1), Record::success(&b, 200, 2)]
    );
    out.checked_summary();
    // --url alone does not read it either; its value may lack a scheme.
    let bare = server.url("/bytes/3").replace("http://", "");
    let out = Cmd::new(&["--default-scheme", "http", "--url", &bare])
        .limit(Duration::from_secs(10))
        .start()
        .finish()
        .parse();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(exact(&out.records), [Record::success(&bare, 200, 3)]);
}

/// The input order: the --url values (in their order), then each argument
/// in turn, a URL as one line, a file read whole, `-` reading stdin there.
#[test]
fn urls_files_and_stdin_keep_command_line_order() {
    let server = Server::start();
    let dir = scratch("urls_files_and_stdin_keep_command_line_order");
    let u: Vec<String> = (1..=7)
        .map(|n| server.url(&format!("/bytes/{n}")))
        .collect();
    let file = dir.join("list.txt");
    std::fs::write(&file, format!("{}\n{}\n", u[2], u[3])).unwrap();
    let upper = u[4].replace("http://", "HTTP://");
    let run = run(
        &[
            "--keep-order",
            "-c",
            "1",
            "--url",
            &u[0],
            file.to_str().unwrap(),
            &upper,
            "--url",
            &u[1],
            "-",
            &u[6],
        ],
        format!("{}\n", u[5]),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want = [&u[0], &u[1], &u[2], &u[3], &upper, &u[5], &u[6]];
    assert_eq!(run.urls(), want);
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    let paths: Vec<String> = (1..=7).map(|n| format!("/bytes/{n}")).collect();
    assert_eq!(targets, paths);
}

/// `./NAME` is a file even when NAME starts like a URL: `./http://list` is
/// the file `list` in the directory `http:`.
#[test]
fn a_dot_slash_name_is_always_a_file() {
    let server = Server::start();
    let dir = scratch("a_dot_slash_name_is_always_a_file");
    std::fs::create_dir_all(dir.join("http:")).unwrap();
    let url = server.url("/bytes/5");
    std::fs::write(dir.join("http:").join("list"), format!("{url}\n")).unwrap();
    let out = Cmd::new(&["./http://list"]).current_dir(&dir).run("");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(exact(&out.records), [Record::success(&url, 200, 5)]);
    // A missing one is reported as a file, not fetched.
    let out = Cmd::new(&["./http://missing"]).current_dir(&dir).run("");
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.records.is_empty());
    let notices = out.notices();
    assert_eq!(notices.len(), 1, "{}", out.stderr);
    assert_eq!(notices[0]["type"], "error");
    assert_eq!(notices[0]["kind"], "input");
    assert_eq!(notices[0]["file"], "./http://missing");
    let message = notices[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("./http://missing: No such file"),
        "{message}"
    );
    assert_eq!(out.summary().total, 0);
}

/// A URL argument follows the line rules: one that is not a URL is one
/// failure record, like a bad line of a file.
#[test]
fn a_bad_url_argument_is_one_failure_record() {
    let run = run(&["http://[::1"], "");
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        run.records
            .iter()
            .map(|r| (r.url.as_str(), r.error_kind.as_deref()))
            .collect::<Vec<_>>(),
        [("http://[::1", Some("invalid_url"))]
    );
}

/// Every --url value and every URL argument gives exactly one record, even
/// one that would be skipped as a line of a file: an empty or blank value
/// is an `invalid_url` failure, and one starting with `#` is a URL (here a
/// bad one). Stdin is not read, even while it stays open.
#[test]
fn an_empty_or_comment_like_url_value_is_one_record() {
    let server = Server::start();
    let url = server.url("/bytes/1");
    let out = Cmd::new(&[
        "--keep-order",
        "--url",
        "",
        "--url",
        "#x",
        "--url",
        "  ",
        &url,
    ])
    .limit(Duration::from_secs(10))
    .start()
    .finish()
    .parse();
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let got: Vec<(&str, Option<&str>, Option<&str>)> = out
        .records
        .iter()
        .map(|r| (r.url.as_str(), r.error_kind.as_deref(), r.error.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("", Some("invalid_url"), Some("invalid URL: empty argument")),
            ("#x", Some("invalid_url"), Some("invalid URL: empty host")),
            ("", Some("invalid_url"), Some("invalid URL: empty argument")),
            (url.as_str(), None, None),
        ]
    );
    assert_eq!(out.checked_summary().total, 4);
}

/// An empty file name is named as the shell writes it, `''`; the `file`
/// key holds it as given.
#[test]
fn an_empty_file_name_is_named() {
    let out = run(&[""], "");
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let notices = out.notices();
    assert_eq!(notices.len(), 1, "{}", out.stderr);
    assert_eq!(notices[0]["file"], "");
    let message = notices[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("'': No such file or directory"),
        "{message}"
    );
}

/// With no input named and a terminal on stdin, one line on stderr says
/// what is going on before the run waits for typed URLs; Ctrl-D ends them.
#[test]
fn a_terminal_without_input_gets_a_hint() {
    let (mut master, slave) = pty();
    let mut running = Cmd::new(&[])
        .stdin(Stdio::from(slave))
        .limit(Duration::from_secs(10))
        .start();
    let stderr = BufReader::new(running.child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let hint = rx.recv_timeout(Duration::from_secs(5));
    // Ctrl-D at the start of a line: end of input on the terminal.
    master.write_all(b"\x04").unwrap();
    let status = running.wait();
    let hint = hint.expect("no hint on stderr");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&hint).unwrap(),
        serde_json::json!({
            "type": "warning",
            "kind": "terminal_input",
            "message": "reading URLs from the terminal, one a line (Ctrl-D to end); see --help",
        })
    );
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = rx.iter().collect();
    schema::check_stderr(&rest.join("\n"));
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(
        rest[0].starts_with(r#"{"type":"summary","total":0,"#),
        "{rest:?}"
    );
}

/// URL arguments on a terminal: no hint, and the terminal is not read.
#[test]
fn url_arguments_on_a_terminal_get_no_hint() {
    let server = Server::start();
    let url = server.url("/bytes/1");
    let (_master, slave) = pty();
    let out = Cmd::new(&[&url])
        .stdin(Stdio::from(slave))
        .limit(Duration::from_secs(10))
        .start()
        .finish()
        .parse();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(exact(&out.records), [Record::success(&url, 200, 1)]);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// With stderr a terminal too, the hint is plain text for the person
/// reading it, not JSON.
#[test]
fn a_terminal_hint_on_a_terminal_is_plain_text() {
    let (master, slave) = pty();
    let mut keys = master.try_clone().unwrap();
    let terminal = read_terminal(master);
    let stdin = slave.try_clone().unwrap();
    let mut running = Cmd::new(&["-q"])
        .stdin(Stdio::from(stdin))
        .stderr(Stdio::from(slave))
        .limit(Duration::from_secs(10))
        .start();
    // Ctrl-D at the start of a line: end of input on the terminal (kept by
    // the terminal until the run reads it).
    keys.write_all(b"\x04").unwrap();
    let status = running.wait();
    drop(keys);
    let seen = String::from_utf8(terminal.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(0), "{seen:?}");
    assert_eq!(
        seen.trim_end(),
        "fetcher-stream: reading URLs from the terminal, one a line (Ctrl-D to end); see --help"
    );
}
