//! The README's "Safety and guarantees" claims that no other test target
//! covers: response bodies never reach stdout or stderr, and control
//! characters in input lines are escaped in the JSON (so a hostile URL list
//! cannot drive the terminal). The other claims are tested where they live:
//! TLS verification (tests/tls.rs), credentials across origins and CR/LF in
//! `-H` (tests/integration), one record per line (tests/conservation.rs).

#[allow(dead_code)]
#[path = "integration/util.rs"]
mod util;

use std::io::Write;
use std::process::Stdio;

use util::{command, Server};

#[test]
fn response_bodies_never_reach_stdout_or_stderr() {
    // `/status/N` answers with the body "status N"; `/chunked` with 'c's. The
    // marker status is chosen so its body text appears nowhere else.
    let server = Server::start();
    let input = format!(
        "{}\n{}\n",
        server.url("/status/299"),
        server.url("/chunked/4096")
    );
    let run = util::run(&[], input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2);
    let out = serde_json::to_string(&run.records).unwrap();
    assert!(!out.contains("status 299"), "{out}");
    assert!(!out.contains("cccccccc"), "{out}");
    assert!(!run.stderr.contains("status 299"), "{}", run.stderr);
    assert!(!run.stderr.contains("cccccccc"), "{}", run.stderr);
}

#[test]
fn control_characters_in_input_are_escaped_in_the_json() {
    // ESC sequences (clear screen, set title), BEL, backspace, DEL and C1
    // controls inside a line: the line is still one record, and the raw bytes
    // written to stdout contain no control character but the line feeds.
    let hostile = "http://a\u{1b}[2J\u{1b}]0;owned\u{7}b\u{8}\u{7f}\u{9b}c.invalid/x";
    let mut child = command(&["-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{hostile}\nnot\u{1b}[31ma url\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text:?}");
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "raw control character {c:?} in {text:?}"
        );
    }
    // The escaped text round-trips: the url field is the input line exactly.
    let urls: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["url"].clone())
        .collect();
    assert!(urls.contains(&serde_json::Value::from(hostile)), "{urls:?}");
    assert!(out.stderr.is_empty(), "{:?}", out.stderr);
}
