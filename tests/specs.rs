//! `--input jsonl` request specs: per-line requests, pass-through keys, and
//! one `invalid_input` record per bad line.

use http::Method;
use serde_json::{json, Value};

use crate::support::{run, Record, Run, Server};

/// Runs `--input jsonl --keep-order` over `input` (plus `args`) and checks
/// the summary.
fn run_specs(args: &[&str], input: &str) -> Run {
    let mut all = vec!["--input", "jsonl", "--keep-order"];
    all.extend_from_slice(args);
    let run = run(&all, input);
    run.checked_summary();
    run
}

#[test]
fn pass_through_keys_round_trip_exactly_after_the_record_keys() {
    let server = Server::start();
    let a = server.url("/bytes/3");
    let input = format!(
        concat!(
            r#"{{"id":42,"url":"{a}","tags":["x",{{"z":1,"a":[1.50,-0,12345678901234567890123]}}],"note":"é\u0001","ok":true,"none":null}}"#,
            "\n",
            r#"{{"url":"{a}","id":"x-7","nested":{{"b":{{"c":{{}}}},"a":[]}}}}"#,
            "\n"
        ),
        a = a
    );
    let run = run_specs(&[], &input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    // Key order and number text are what this test is about, and a typed
    // record keeps neither for its own keys: the lines are compared as
    // written, with the timing taken out in place.
    let text: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let mut r: Value = serde_json::from_str(line).unwrap();
            let obj = r.as_object_mut().unwrap();
            assert!(obj.shift_remove("elapsed_ms").is_some());
            for key in ["remote_addr", "connect_ms", "ttfb_ms"] {
                assert!(obj.shift_remove(key).is_some(), "{key} in {line}");
            }
            assert_eq!(obj.shift_remove("http_version").unwrap(), "HTTP/1.1");
            // The line's key, the first key after the record's own.
            let at = obj.keys().position(|k| k == "spec_hash");
            let hash = obj.shift_remove("spec_hash").unwrap();
            assert_eq!(
                (at, hash.as_str().map(str::len)),
                (Some(4), Some(16)),
                "{line}"
            );
            serde_json::to_string(&r).unwrap()
        })
        .collect();
    assert_eq!(
        text,
        [
            format!(
                r#"{{"type":"success","url":"{a}","status":200,"size":3,"id":42,"tags":["x",{{"z":1,"a":[1.50,-0,12345678901234567890123]}}],"note":"é\u0001","ok":true,"none":null}}"#
            ),
            format!(
                r#"{{"type":"success","url":"{a}","status":200,"size":3,"id":"x-7","nested":{{"b":{{"c":{{}}}},"a":[]}}}}"#
            ),
        ]
    );
}

#[test]
fn each_line_sets_its_own_method_headers_and_body() {
    let server = Server::start();
    let u = |p: &str| server.url(p);
    let input = [
        json!({"url": u("/1"), "n": 1}),
        json!({"url": u("/2"), "n": 2, "method": "PUT", "body": "b2",
               "headers": {"X-Run": "line", "Content-Type": "text/plain"}}),
        json!({"url": u("/3"), "n": 3, "body": "é"}),
        json!({"url": u("/4"), "n": 4, "method": "delete"}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect::<String>();
    let run = run_specs(&["-H", "X-Run: flag", "-H", "X-Keep: 1"], &input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 4);
    let mut seen = server.seen();
    seen.sort_by(|a, b| a.target.cmp(&b.target));
    let got: Vec<(String, String, Vec<String>, Option<String>)> = seen
        .iter()
        .map(|s| {
            (
                s.method.to_string(),
                String::from_utf8(s.body.to_vec()).unwrap(),
                s.headers
                    .get_all("x-run")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect(),
                s.headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        })
        .collect();
    let form = Some("application/x-www-form-urlencoded".to_owned());
    assert_eq!(
        got,
        [
            ("GET".into(), "".into(), vec!["flag".into()], None),
            (
                "PUT".into(),
                "b2".into(),
                vec!["line".into()],
                Some("text/plain".into())
            ),
            ("POST".into(), "é".into(), vec!["flag".into()], form),
            ("delete".into(), "".into(), vec!["flag".into()], None),
        ]
    );
    assert!(seen.iter().all(|s| s.headers["x-keep"] == "1"));
    assert_eq!(seen[0].method, Method::GET);
}

#[test]
fn a_spec_body_replaces_data_and_a_run_method_applies_to_every_line() {
    let server = Server::start();
    let input = format!(
        "{}\n{}\n",
        json!({"url": server.url("/a"), "body": "own"}),
        json!({"url": server.url("/b")}),
    );
    let run = run_specs(&["-X", "PUT", "-d", "run"], &input);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let mut seen = server.seen();
    seen.sort_by(|a, b| a.target.cmp(&b.target));
    assert_eq!(
        (seen[0].method.as_str(), &seen[0].body[..]),
        ("PUT", &b"own"[..])
    );
    assert_eq!(
        (seen[1].method.as_str(), &seen[1].body[..]),
        ("PUT", &b"run"[..])
    );
}

#[test]
fn bad_lines_are_one_invalid_input_record_each_with_their_line_number() {
    let server = Server::start();
    let good = server.url("/ok");
    let lines = [
        format!(r#"{{"url":"{good}","n":1}}"#),                  // 1
        String::new(),                                           // 2 blank: skipped
        "not json".to_owned(),                                   // 3
        "   ".to_owned(),                                        // 4 blank: skipped
        "[1,2]".to_owned(),                                      // 5
        r#"{"id":9}"#.to_owned(),                                // 6
        format!(r#"{{"url":"{good}","method":"B A D","n":7}}"#), // 7
        format!(r#"{{"url":"{good}","headers":{{"Content-Length":"1"}}}}"#), // 8
        format!(r#"{{"url":"{good}","status":"mine","n":9}}"#),  // 9
        "# a comment is not JSON".to_owned(),                    // 10
        format!(r#"{{"url":"{good}","body":7}}"#),               // 11
        r#"{"url":"not a url","n":12}"#.to_owned(),              // 12
        format!(r#"{{"url":"{good}","n":13}}"#),                 // 13
    ];
    let input = lines.join("\n") + "\n";
    let run = run_specs(&[], &input);
    assert_eq!(run.code(), 1, "{}", run.stderr);
    // Count in == count out: 13 lines, 2 blank.
    assert_eq!(run.records.len(), 11, "{:?}", run.records);
    // Each error shortened to its first three `: ` parts (the rest is the
    // parser's wording).
    let got: Vec<Record> = run
        .records
        .iter()
        .map(|r| {
            let mut r = r.exact();
            if let Some(e) = &r.error {
                r.error = Some(e.split(": ").take(3).collect::<Vec<_>>().join(": "));
            }
            r
        })
        .collect();
    let bad = |line: u64, url: &str, error: &str| {
        Record::failure(url, "invalid_input")
            .with_error(error)
            .with_line(line)
    };
    let n = |n: u64| json!(n);
    let want = vec![
        Record::success(&good, 200, 2).with("n", n(1)),
        bad(3, "not json", "invalid input: line 3: not JSON"),
        bad(
            5,
            "[1,2]",
            "invalid input: line 5: expected a JSON object, got an array",
        ),
        bad(6, r#"{"id":9}"#, "invalid input: line 6: no \"url\" key").with("id", json!(9)),
        bad(7, &good, "invalid input: line 7: \"method\"").with("n", n(7)),
        bad(8, &good, "invalid input: line 8: \"headers\""),
        bad(
            9,
            &good,
            "invalid input: line 9: key \"status\" is a record key and cannot be passed through; rename it",
        )
        .with("n", n(9)),
        bad(
            10,
            "# a comment is not JSON",
            "invalid input: line 10: not JSON",
        ),
        bad(
            11,
            &good,
            "invalid input: line 11: \"body\" must be a string, got a number",
        ),
        // An invalid URL is not an invalid line: no `line`, its keys kept.
        Record::failure("not a url", "invalid_url").with("n", n(12)),
        Record::success(&good, 200, 2).with("n", n(13)),
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        if w.error_kind.as_deref() == Some("invalid_url") {
            // Its error text is the URL parser's: compared by kind only.
            assert_eq!(g.error_kind.as_deref(), Some("invalid_url"), "{g:?}");
            assert_eq!(g.extra.get("n"), Some(&json!(12)), "{g:?}");
            assert_eq!(g.line, None, "{g:?}");
            continue;
        }
        assert_eq!(g, w);
    }
    assert_eq!(server.hits(), 2);
}

#[test]
fn line_numbers_count_per_file_and_a_bom_is_dropped() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let first = dir.join(format!("specs-{}-1.jsonl", std::process::id()));
    let second = dir.join(format!("specs-{}-2.jsonl", std::process::id()));
    let server = Server::start();
    let good = json!({"url": server.url("/")}).to_string();
    std::fs::write(&first, format!("\u{feff}{good}\r\nbad\r\n")).unwrap();
    std::fs::write(&second, format!("\n\n{good}\nworse")).unwrap();
    let run = run(
        &[
            "--input",
            "jsonl",
            "--keep-order",
            first.to_str().unwrap(),
            second.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.records.len(), 4, "{:?}", run.records);
    let lines: Vec<Option<u64>> = run.records.iter().map(|r| r.line).collect();
    assert_eq!(lines, [None, Some(2), None, Some(4)]);
    assert_eq!(run.records[3].url, "worse");
    assert_eq!(server.hits(), 2);
    let _ = std::fs::remove_file(first);
    let _ = std::fs::remove_file(second);
}

#[test]
fn many_lines_keep_one_record_each() {
    let server = Server::start();
    let mut input = String::new();
    for i in 0..500 {
        match i % 5 {
            0 => input.push_str("{broken\n"),
            1 => input.push('\n'),
            _ => input.push_str(&format!("{}\n", json!({"url": server.url("/"), "i": i}))),
        }
    }
    let run = run(&["--input", "jsonl", "-c", "20"], input);
    run.checked_summary();
    assert_eq!(run.records.len(), 400);
    let mut ids: Vec<u64> = run
        .records
        .iter()
        .filter_map(|r| r.extra.get("i").and_then(Value::as_u64))
        .collect();
    ids.sort_unstable();
    let want: Vec<u64> = (0..500).filter(|i| i % 5 >= 2).collect();
    assert_eq!(ids, want);
    let mut lines: Vec<u64> = run.records.iter().filter_map(|r| r.line).collect();
    lines.sort_unstable();
    let want: Vec<u64> = (0..500).filter(|i| i % 5 == 0).map(|i| i + 1).collect();
    assert_eq!(lines, want);
}
