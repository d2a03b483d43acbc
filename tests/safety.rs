//! The README's "Safety and guarantees" claims that no other area covers:
//! response bodies never reach stdout or stderr, and control characters in
//! input lines are escaped in the JSON (so a hostile URL list cannot drive the
//! terminal). The other claims are tested where they live: TLS verification
//! (`tls`), credentials across origins and CR/LF in `-H` (`redirects`,
//! `cli`), one record per line (`tests/conservation.rs`).

use crate::support::{run, Server};

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
    let run = run(&[], input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 2);
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains("status 299"), "{name}: {text}");
        assert!(!text.contains("cccccccc"), "{name}: {text}");
    }
}

#[test]
fn control_characters_in_input_are_escaped_in_the_json() {
    // ESC sequences (clear screen, set title), BEL, backspace, DEL and C1
    // controls inside a line: the line is still one record, and the raw bytes
    // written to stdout contain no control character but the line feeds.
    let hostile = "http://a\u{1b}[2J\u{1b}]0;owned\u{7}b\u{8}\u{7f}\u{9b}c.invalid/x";
    let run = run(&["-q"], format!("{hostile}\nnot\u{1b}[31ma url\n"));
    assert_eq!(run.code(), 1);
    let text = &run.stdout;
    assert_eq!(text.lines().count(), 2, "{text:?}");
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "raw control character {c:?} in {text:?}"
        );
    }
    // The escaped text round-trips: the url field is the input line exactly.
    assert!(run.urls().contains(&hostile), "{:?}", run.records);
    assert!(run.stderr.is_empty(), "{:?}", run.stderr);
}
