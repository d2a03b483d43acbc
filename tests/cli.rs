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

/// Every numeric flag: a negative number, a zero where zero means nothing,
/// and text that is not a number each give exit 2 and one plain line naming
/// the flag; so do the pairs of flags that exclude each other, without a
/// usage line built from them. A --user value is never echoed.
#[test]
fn bad_numbers_and_conflicts_are_one_clear_line() {
    let table: &[(&[&str], &str)] = &[
        (
            &["-c", "-1"],
            "-c/--max-concurrency must not be negative, got '-1'",
        ),
        (
            &["-c", "0"],
            "-c/--max-concurrency must be at least 1, got '0'",
        ),
        (
            &["-c", "x"],
            "-c/--max-concurrency must be a whole number, got 'x'",
        ),
        (
            &["-c", "5000000000"],
            "-c/--max-concurrency must be at most 4294967295",
        ),
        (
            &["--timeout", "-1"],
            "-t/--timeout must not be negative, got '-1'",
        ),
        (&["-m", "0"], "-t/--timeout must be greater than 0, got '0'"),
        (&["-t", "x"], "-t/--timeout: 'x' is not a number of seconds"),
        (
            &["--max-redirects", "-1"],
            "--max-redirects must not be negative",
        ),
        (
            &["--max-redirects", "x"],
            "--max-redirects must be a whole number",
        ),
        (
            &["--connect-timeout", "-2"],
            "--connect-timeout must not be negative",
        ),
        (
            &["--connect-timeout", "0"],
            "--connect-timeout must be greater than 0",
        ),
        (
            &["--connect-timeout", "x"],
            "--connect-timeout: 'x' is not a number",
        ),
        (
            &["--max-size", "-1"],
            "--max-size must not be negative, got '-1'",
        ),
        (
            &["--max-size", "0"],
            "--max-size must be at least 1 byte, got '0'",
        ),
        (
            &["--max-size", "x"],
            "--max-size: 'x' is not a number of bytes",
        ),
        (
            &["--max-per-host", "-1"],
            "--max-per-host must not be negative",
        ),
        (
            &["--max-per-host", "x"],
            "--max-per-host must be a whole number or 'auto', got 'x'",
        ),
        (&["--lookahead", "-1"], "--lookahead must not be negative"),
        (
            &["--lookahead", "0"],
            "--lookahead must be at least 1, got '0'",
        ),
        (&["--lookahead", "x"], "--lookahead must be a whole number"),
        (
            &["--rate", "-2/s"],
            "--rate must not be negative, got '-2/s'",
        ),
        (&["--rate", "0"], "--rate: '0': N must be at least 1"),
        (&["--rate", "x"], "--rate: 'x' is not N[/s|/m|/h|/d]"),
        (
            &["--rate-per-host", "-1"],
            "--rate-per-host must not be negative",
        ),
        (
            &["--rate-per-host", "0/m"],
            "--rate-per-host: '0/m': N must be at least 1",
        ),
        (
            &["--rate-per-host", "x"],
            "--rate-per-host: 'x' is not N[/s|/m|/h|/d]",
        ),
        (
            &["--retries", "-1"],
            "--retries must not be negative, got '-1'",
        ),
        (&["--retries", "x"], "--retries must be a whole number"),
        (
            &["--retry-delay", "-1"],
            "--retry-delay must not be negative",
        ),
        (
            &["--retry-delay", "x"],
            "--retry-delay: 'x' is not a number of seconds",
        ),
        (
            &["--retry-max-delay", "-1"],
            "--retry-max-delay must not be negative",
        ),
        (
            &["--retry-max-delay", "x"],
            "--retry-max-delay: 'x' is not a number",
        ),
        (
            &["--max-retry-after", "-1"],
            "--max-retry-after must not be negative",
        ),
        (
            &["--max-retry-after", "x"],
            "--max-retry-after: 'x' is not a number",
        ),
        (
            &["-I", "-X", "GET"],
            "-I/--head cannot be used with -X/--method",
        ),
        (
            &["-X", "GET", "--head"],
            "-X/--method cannot be used with -I/--head",
        ),
        (
            &["-I", "-d", "a"],
            "-I/--head cannot be used with -d/--data",
        ),
        (
            &["--head", "--data-binary", "a"],
            "-I/--head cannot be used with --data-binary",
        ),
        (
            &["--http1.1", "--http2-prior-knowledge"],
            "--http1.1 cannot be used with --http2-prior-knowledge",
        ),
        (
            &["-u", "alice"],
            "-u/--user must be USER:PASSWORD (there is no password prompt",
        ),
        (
            &["--generate", "completions", "csh"],
            "--generate takes 'completions bash', 'completions zsh' or 'completions fish'",
        ),
        (
            &["--generate", "completions"],
            "--generate takes 'completions bash', 'completions zsh' or 'completions fish'",
        ),
        // Durations: NaN is not a number; infinity is too large, as is any
        // value past what a duration holds (2^64 s); for every such flag.
        (&["-t", "nan"], "-t/--timeout: 'nan' is not a number of seconds"),
        (&["-t", "inf"], "-t/--timeout: 'inf' is too large"),
        (&["-t", "1e400"], "-t/--timeout: '1e400' is too large"),
        (&["-t", "1e20"], "-t/--timeout: '1e20' is too large"),
        (&["-t", "-inf"], "-t/--timeout must not be negative, got '-inf'"),
        (
            &["-t", "1e-10"],
            "-t/--timeout must be at least 0.001 (1 ms), got '1e-10'",
        ),
        (
            &["--connect-timeout", "NaN"],
            "--connect-timeout: 'NaN' is not a number of seconds",
        ),
        (
            &["--connect-timeout", "infinity"],
            "--connect-timeout: 'infinity' is too large",
        ),
        (&["--retry-delay", "inf"], "--retry-delay: 'inf' is too large"),
        (
            &["--retry-delay", "nan"],
            "--retry-delay: 'nan' is not a number of seconds",
        ),
        (
            &["--retry-max-delay", "1e400"],
            "--retry-max-delay: '1e400' is too large",
        ),
        (
            &["--max-retry-after", "inf"],
            "--max-retry-after: 'inf' is too large",
        ),
        (
            &["--max-retry-after", "-nan"],
            "--max-retry-after: '-nan' is not a number of seconds",
        ),
        // What clap itself refuses, as one line too.
        (&["--foo"], "fetcher-stream: unknown flag '--foo'; see --help"),
        (
            &["--timout", "1"],
            "fetcher-stream: unknown flag '--timout' (did you mean '--timeout'?)",
        ),
        (&["-c"], "fetcher-stream: -c/--max-concurrency needs a value"),
        (&["--url"], "fetcher-stream: --url needs a value"),
        (
            &["--accept", "-1"],
            "fetcher-stream: --accept must not be negative, got '-1'",
        ),
        (
            &["--hash", "md5"],
            "fetcher-stream: --hash: 'md5' is not one of sha256",
        ),
        (
            &["--progress", "sometimes"],
            "fetcher-stream: --progress: 'sometimes' is not one of auto, always, never",
        ),
        (
            &["--input", "xml"],
            "fetcher-stream: --input: 'xml' is not one of text, jsonl",
        ),
        (
            &["--hash", "\x1b[31m"],
            "fetcher-stream: --hash: '\\u{1b}[31m' is not one of sha256",
        ),
        (
            &["-i", "https://example.test/"],
            "-i/--include-header takes a header field name (curl's -i is not supported: \
             records already carry the status and chosen headers)",
        ),
        // A URL with a line break would be two lines, or one URL made of two.
        (
            &["--url", "http://h/a\nhttp://h/b"],
            "fetcher-stream: --url value contains a line break: give each URL its own --url",
        ),
        (
            &["http://h/a\r\nhttp://h/b"],
            "fetcher-stream: a URL argument contains a line break: give each URL as its own argument",
        ),
    ];
    for (args, want) in table {
        let out = Cmd::new(args).output("");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        let line = out.stderr.trim_end();
        assert!(line.starts_with("fetcher-stream: "), "{args:?}: {line}");
        assert!(line.contains(want), "{args:?}: {line}\n  wanted: {want}");
        assert!(!line.contains("alice"), "{args:?}: {line}");
        // clap's hint to pass a value after `--` would make it a file name.
        assert!(!line.contains("'-- "), "{args:?}: {line}");
    }
}

/// curl's -m (= --timeout) and -s/--silent (= -q) work like ours.
#[test]
fn curl_short_names_for_timeout_and_quiet() {
    let hang = RawServer::every(Reply::hang());
    for flag in ["-s", "--silent"] {
        let run = run(&["-m", "0.2", flag], format!("{}\n", hang.url("/")));
        assert_eq!(run.code(), 1, "{flag}: {}", run.stderr);
        assert_eq!(run.records[0].error_kind.as_deref(), Some("timeout"));
        assert_eq!(run.stderr, "", "{flag}");
    }
}

/// `--generate completions SHELL` prints a script that names the flags and
/// that the shell itself parses (zsh and fish when they are installed).
#[test]
fn completions_for_bash_zsh_and_fish() {
    let checks: [(&str, &[&str]); 3] = [
        ("bash", &["-n"]),
        ("zsh", &["-n"]),
        ("fish", &["--no-execute"]),
    ];
    for (shell, check) in checks {
        let out = Cmd::new(&["--generate", "completions", shell]).output("");
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{shell}");
        for flag in [
            "max-concurrency",
            "max-per-host",
            "timeout",
            "user",
            "generate",
        ] {
            assert!(out.stdout.contains(flag), "{shell} completions lack {flag}");
        }
        let dir = std::env::temp_dir().join(format!("fetcher-stream-compl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join(format!("completions.{shell}"));
        std::fs::write(&script, &out.stdout).unwrap();
        match std::process::Command::new(shell)
            .args(check)
            .arg(&script)
            .output()
        {
            Ok(o) => assert!(
                o.status.success(),
                "{shell} {check:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            // Only bash is sure to be installed.
            Err(e) => assert!(shell != "bash", "running bash: {e}"),
        }
        let _ = std::fs::remove_file(&script);
    }
}

/// The words after `--generate`, as the generated scripts complete them:
/// `completions` first, then the shells, and the flags' values as before.
/// Bash runs the completion function with `COMP_WORDS` set; fish (when
/// installed) its `complete -C`.
#[test]
fn completions_offer_completions_then_the_shells() {
    let dir = std::env::temp_dir().join(format!("fetcher-stream-compl2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bash = dir.join("completions.bash");
    let out = Cmd::new(&["--generate", "completions", "bash"]).output("");
    std::fs::write(&bash, &out.stdout).unwrap();
    // Each case: the words before the cursor, then the word being typed.
    let cases: [(&str, &str); 5] = [
        ("--generate ''", "completions"),
        ("--generate completions ''", "bash zsh fish"),
        ("--generate completions z", "zsh"),
        ("--hash ''", "sha256"),
        ("--progress a", "auto always"),
    ];
    for (words, want) in cases {
        let script = format!(
            r#"source {}
COMP_WORDS=(fetcher-stream {words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_fetcher__stream fetcher-stream "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
echo "${{COMPREPLY[*]}}""#,
            bash.display()
        );
        let o = std::process::Command::new("bash")
            .args(["--norc", "-c", &script])
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            got.trim_end(),
            want,
            "bash after {words}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let fish = dir.join("completions.fish");
    let out = Cmd::new(&["--generate", "completions", "fish"]).output("");
    std::fs::write(&fish, &out.stdout).unwrap();
    for (line, want) in [
        ("fetcher-stream --generate ", "completions"),
        ("fetcher-stream --generate completions ", "bash fish zsh"),
    ] {
        let script = format!("source {}; complete -C'{line}'", fish.display());
        // An empty directory, so file names would show.
        let Ok(o) = std::process::Command::new("fish")
            .args(["--no-config", "-c", &script])
            .current_dir(&dir)
            .output()
        else {
            break;
        };
        let got: Vec<&str> = std::str::from_utf8(&o.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(got.join(" "), want, "fish after {line:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default per-host cap is shown as clap shows every default: in the
/// short help, and on its own line in the long help.
#[test]
fn help_shows_the_per_host_default() {
    let short = Cmd::new(&["-h"]).output("").stdout;
    let from = short.find("--max-per-host").unwrap();
    let entry = &short[from..short[from..].find("--lookahead <N>").unwrap() + from];
    assert!(entry.contains("[default: 10]"), "{entry}");
    let long = Cmd::new(&["--help"]).output("").stdout;
    let from = long.find("--max-per-host <N|auto>").unwrap();
    let entry = &long[from..long[from..].find("--lookahead <N>").unwrap() + from];
    assert!(entry.contains("\n          [default: 10]\n"), "{entry}");
    assert!(!entry.contains("order. [default"), "{entry}");
}
