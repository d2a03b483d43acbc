//! --resume, --retry-failed and --if-changed: earlier runs' output read back.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::process::Stdio;

use fetcher_stream::line_key;
use serde_json::json;

use crate::support::{
    dead_port, lines, scratch, Cmd, Kind, RawServer, Record, Reply, Server, COND_DATE,
};

/// A record line as an earlier run would have written it.
fn earlier(kind: &str, url: &str, error_kind: Option<&str>) -> String {
    let mut r = json!({"type": kind, "url": url, "elapsed_ms": 1.0});
    match error_kind {
        Some(k) => {
            r["error"] = json!("e");
            r["error_kind"] = json!(k);
        }
        None => {
            r["status"] = json!(200);
            r["size"] = json!(2);
        }
    }
    format!("{r}\n")
}

/// Runs the binary with stdout appended to `out`, as `>> out` does.
fn append_run(args: &[&str], out: &Path) -> crate::support::Run {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    Cmd::new(args).stdout(Stdio::from(file)).run("")
}

/// The URLs of each line of the records in `text` that parse, and how many
/// lines do not.
fn record_urls(text: &str) -> (BTreeMap<String, u64>, u64, Vec<Record>) {
    let mut urls = BTreeMap::new();
    let mut torn = 0;
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => {
                *urls.entry(r.url.clone()).or_default() += 1;
                records.push(r);
            }
            Err(_) => torn += 1,
        }
    }
    (urls, torn, records)
}

/// A line is done once per final earlier record (a success, or a failure
/// other than `cancelled`): duplicates count, skipped lines get no record
/// and are counted in `skipped`.
#[test]
fn resume_skips_each_line_as_often_as_it_was_finished() {
    let server = Server::start();
    let dir = scratch("resume_skips");
    let [a, b, c, d] = ["/bytes/1", "/bytes/2", "/bytes/3", "/bytes/4"].map(|p| server.url(p));
    let out = dir.join("out.jsonl");
    let earlier_text = [
        earlier("success", &a, None),
        earlier("failure", &b, Some("cancelled")),
        earlier("failure", &c, Some("timeout")),
        "{\"type\":\"summary\",\"total\":3}\n".to_owned(),
    ]
    .concat();
    std::fs::write(&out, &earlier_text).unwrap();
    let input = dir.join("urls.txt");
    std::fs::write(&input, lines(&[&a, &b, &a, &c, &d, &c])).unwrap();
    let (out_s, input_s) = (out.to_str().unwrap(), input.to_str().unwrap());

    let run = Cmd::new(&["--resume", out_s, input_s]).run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let mut urls = run.urls();
    urls.sort();
    let mut want = vec![a.as_str(), b.as_str(), c.as_str(), d.as_str()];
    want.sort();
    assert_eq!(urls, want);
    let s = run.checked_summary();
    assert_eq!((s.total, s.skipped), (4, Some(2)));
    assert!(run.notices().is_empty(), "{}", run.stderr);

    // --retry-failed: only the success counts.
    let run = Cmd::new(&["--resume", out_s, "--retry-failed", input_s]).run("");
    assert_eq!(run.records.len(), 5, "{}", run.stderr);
    assert_eq!(run.checked_summary().skipped, Some(1));
    // Without --resume nothing is skipped, and the summary says nothing of it.
    let run = Cmd::new(&[input_s]).run("");
    assert_eq!((run.records.len(), run.summary().skipped), (6, None));
}

/// A missing file is read as empty, with a warning, so the first run and its
/// resumptions are one command; an unreadable one stops the run (status 2)
/// before anything is fetched.
#[test]
fn a_missing_earlier_file_is_empty_and_an_unreadable_one_an_error() {
    let server = Server::start();
    let dir = scratch("resume_missing");
    let missing = dir.join("none.jsonl");
    let url = server.url("/bytes/1");
    let run = Cmd::new(&["--resume", missing.to_str().unwrap(), &url]).run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.records.len(), 1);
    // With --resume the summary always says how many lines were skipped.
    assert_eq!(run.summary().skipped, Some(0), "{}", run.stderr);
    let notices = run.notices();
    assert_eq!(notices.len(), 1, "{}", run.stderr);
    assert_eq!(notices[0]["kind"], "earlier_missing");
    assert_eq!(notices[0]["flag"], "--resume");
    assert_eq!(notices[0]["file"], missing.to_str().unwrap());

    for flag in ["--resume", "--if-changed"] {
        let run = Cmd::new(&[flag, dir.to_str().unwrap(), &url]).run("");
        assert_eq!(run.code(), 2, "{}", run.stderr);
        assert!(run.records.is_empty());
        // No summary: the error is the only line.
        let notices: Vec<serde_json::Value> = run
            .stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(notices.len(), 1, "{}", run.stderr);
        assert_eq!(notices[0]["type"], "error");
        assert_eq!(notices[0]["kind"], "earlier_unreadable");
        assert_eq!(notices[0]["flag"], flag);
    }
    assert_eq!(server.hits(), 1);
}

/// Appending to the file resumed from: a torn last line is ended first, so
/// the first new record is not glued to it; torn lines are counted in one
/// warning. A file that ends in a newline gets none.
#[test]
fn appending_to_a_torn_resume_file_ends_the_torn_line_first() {
    let server = Server::start();
    let dir = scratch("resume_torn");
    let out = dir.join("out.jsonl");
    let [a, b] = ["/bytes/1", "/bytes/2"].map(|p| server.url(p));
    let done = earlier("success", &a, None);
    let torn = "{\"type\":\"succ";
    std::fs::write(&out, format!("{torn}\n{done}{torn}")).unwrap();
    let out_s = out.to_str().unwrap();
    let run = append_run(&["--resume", out_s, &a, &b], &out);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(run.summary().skipped, Some(1));
    let notices = run.notices();
    assert_eq!(notices.len(), 1, "{}", run.stderr);
    assert_eq!(notices[0]["kind"], "earlier_unparsable");
    assert!(
        notices[0]["message"].as_str().unwrap().contains(": 2 line"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let all: Vec<&str> = text.lines().collect();
    assert_eq!(all.len(), 4, "{text}");
    assert_eq!(all[..3], [torn, done.trim_end(), torn]);
    let last: Record = serde_json::from_str(all[3]).unwrap();
    assert_eq!(last.exact(), Record::success(&b, 200, 2));
    assert!(text.ends_with('\n'));

    // Ending in a newline: nothing added.
    let run = append_run(&["--resume", out_s, &a, &b], &out);
    assert_eq!(run.summary().skipped, Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

/// With --input jsonl every record carries `spec_hash`, the key of its line
/// as read, and --resume matches lines by it: the same url with another
/// spec is another line.
#[test]
fn jsonl_records_carry_spec_hash_and_resume_by_it() {
    let server = Server::start();
    let dir = scratch("resume_jsonl");
    let url = server.url("/bytes/3");
    let specs = [
        format!(r#"{{"url":"{url}","id":1}}"#),
        format!(r#"{{"url":"{url}","id":2}}"#),
        "not json".to_owned(),
    ];
    let input = dir.join("specs.jsonl");
    let out = dir.join("out.jsonl");
    std::fs::write(
        &input,
        format!("  {}\r\n{}\n{}\n", specs[0], specs[1], specs[2]),
    )
    .unwrap();
    let (input_s, out_s) = (input.to_str().unwrap(), out.to_str().unwrap());
    let args = ["--input", "jsonl", "--resume", out_s, input_s];
    std::fs::write(&out, "").unwrap();
    // Only the first spec is done.
    let first = append_run(&["--input", "jsonl", input_s], &dir.join("all.jsonl"));
    let by_id = |records: &[Record], id: i64| {
        records
            .iter()
            .find(|r| r.extra.get("id") == Some(&json!(id)))
            .cloned()
            .unwrap()
    };
    let all_text = std::fs::read_to_string(dir.join("all.jsonl")).unwrap();
    let (_, _, all) = record_urls(&all_text);
    assert_eq!(all.len(), 3, "{}", first.stderr);
    for (i, spec) in specs.iter().enumerate() {
        let r = all
            .iter()
            .find(|r| match i {
                2 => r.url == "not json",
                _ => r.extra.get("id") == Some(&json!(i + 1)),
            })
            .unwrap();
        let want = format!("{:016x}", line_key(spec.as_bytes()));
        assert_eq!(r.spec_hash.as_deref(), Some(want.as_str()), "{spec}");
    }
    // spec_hash comes before the pass-through keys.
    assert!(all_text.contains("\"spec_hash\":"), "{all_text}");
    let line = all_text.lines().find(|l| l.contains("\"id\":1")).unwrap();
    assert!(line.find("spec_hash").unwrap() < line.find("\"id\"").unwrap());
    let first_line = all_text.lines().find(|l| l.contains("\"id\":1")).unwrap();
    std::fs::write(&out, format!("{first_line}\n")).unwrap();
    let run = append_run(&args, &out);
    assert_eq!(run.summary().skipped, Some(1), "{}", run.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let (_, _, now) = record_urls(&text);
    assert_eq!(now.len(), 3);
    assert_eq!(by_id(&now, 2).kind, Kind::Success);
    // A text-line run of the same URL does not match the spec's key.
    let run = Cmd::new(&["--resume", out_s, &url]).run("");
    assert_eq!((run.records.len(), run.summary().skipped), (1, Some(0)));
}

/// xorshift64*: a small, seedable generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts the lines of `path` (its `\n`s).
fn newlines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// 5,000 lines (with duplicates) over fast, failing, resetting and hanging
/// servers; the run is killed with SIGKILL three times, each after a
/// seeded number of new records, and resumed each time appending to the
/// same file, then run to completion: the file then holds exactly one final
/// record per input line, as a multiset.
#[test]
fn killed_three_times_and_resumed_every_line_has_exactly_one_record() {
    let server = Server::start();
    let reset = RawServer::every(Reply::reset_in_body());
    let hang = RawServer::every(Reply::hang());
    let truncate = RawServer::every(Reply::truncated());
    let refused = dead_port();
    let dir = scratch("resume_killed");
    let mut rng = Rng(0x5EED_0001);
    let mut input: Vec<String> = Vec::new();
    let mut slow = 0;
    for i in 0..4_600 {
        let line = match rng.below(20) {
            0 if slow < 20 => {
                slow += 1;
                hang.url(&format!("/?i={i}"))
            }
            1 if slow < 20 => {
                slow += 1;
                reset.url(&format!("/?i={i}"))
            }
            2 => truncate.url(&format!("/?i={i}")),
            3 => format!("http://127.0.0.1:{refused}/?i={i}"),
            4 => server.url(&format!("/status/500?i={i}")),
            5 => format!("http://bad host {i}/"),
            _ => server.url(&format!("/bytes/{}?i={i}", i % 100)),
        };
        input.push(line);
    }
    // 400 duplicates of fast lines, at seeded places.
    while input.len() < 5_000 {
        let from = rng.below(input.len() as u64) as usize;
        if input[from].contains("/bytes/") {
            let at = rng.below(input.len() as u64) as usize;
            let line = input[from].clone();
            input.insert(at, line);
        }
    }
    let urls = dir.join("urls.txt");
    std::fs::write(&urls, lines(&input)).unwrap();
    let out = dir.join("out.jsonl");
    let args = [
        "--resume",
        out.to_str().unwrap(),
        "-c",
        "64",
        "-t",
        "0.5",
        "--max-per-host",
        "0",
        urls.to_str().unwrap(),
    ];
    for _ in 0..3 {
        let before = newlines(&out);
        let target = before + 300 + rng.below(900) as usize;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .unwrap();
        let mut running = Cmd::new(&args).stdout(Stdio::from(file)).start();
        // Polls the file's records; the kill moment is a record count.
        while newlines(&out) < target && running.child.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = running.child.kill();
        let _ = running.child.wait();
        assert!(
            newlines(&out) < input.len(),
            "the run was killed before its end"
        );
    }
    let last = append_run(&args, &out);
    assert!(last.code() <= 1, "{}", last.stderr);
    let s = last.summary();
    assert_eq!(
        s.total + s.skipped.unwrap_or(0),
        input.len() as u64,
        "{s:?}"
    );
    assert!(s.skipped.unwrap_or(0) > 0, "{s:?}");

    let (got, _torn, records) = record_urls(&std::fs::read_to_string(&out).unwrap());
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for line in &input {
        *want.entry(line.clone()).or_default() += 1;
    }
    let extra: Vec<_> = got
        .iter()
        .filter(|(u, n)| want.get(*u) != Some(n))
        .collect();
    assert!(
        extra.is_empty(),
        "URLs with the wrong count: {:?}",
        &extra[..extra.len().min(5)]
    );
    assert_eq!(got, want);
    assert!(records
        .iter()
        .all(|r| r.error_kind.as_deref() != Some("cancelled")));
}

/// --if-changed sends the validators of each line's last success: a 304 is
/// a success with `not_modified` and no body, even outside --accept; a
/// changed resource answers 200; a line without validators, and a field
/// the user gave, are sent as they are.
#[test]
fn if_changed_sends_validators_and_a_304_is_not_modified() {
    let server = Server::start();
    let dir = scratch("if_changed");
    let [v1, v2, v3, v4] = ["/cond/v1", "/cond/v2", "/cond/v3", "/cond/v4"].map(|p| server.url(p));
    let first = dir.join("first.jsonl");
    let run = append_run(&[&v1, &v2, &v3], &first);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&first).unwrap();
    let (_, _, records) = record_urls(&text);
    assert!(records
        .iter()
        .all(|r| r.etag.is_some() && r.last_modified.as_deref() == Some(COND_DATE)));
    // v2 changed since (its record has another tag); v3's record only has
    // its date. A later record of a line wins over an earlier one.
    let mut edited = String::new();
    for line in text.lines() {
        let mut r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["url"] == v2.as_str() {
            r["etag"] = json!("\"old\"");
            edited.push_str(&format!("{r}\n"));
            r["etag"] = json!("\"older\"");
        }
        if r["url"] == v3.as_str() {
            r.as_object_mut().unwrap().remove("etag");
        }
        edited.push_str(&format!("{r}\n"));
    }
    // The "older" record comes last for v2: it wins.
    let earlier_file = dir.join("earlier.jsonl");
    std::fs::write(&earlier_file, edited).unwrap();
    let e = earlier_file.to_str().unwrap();
    let run = Cmd::new(&["--if-changed", e, "--accept", "200", &v1, &v2, &v3, &v4]).run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let by_url: BTreeMap<String, Record> = run
        .records
        .iter()
        .map(|r| (r.url.clone(), r.clone()))
        .collect();
    for (url, status, size, not_modified) in [
        (&v1, 304, 0, Some(true)),
        (&v2, 200, 10, None),
        (&v3, 304, 0, Some(true)),
        (&v4, 200, 10, None),
    ] {
        let r = &by_url[url.as_str()];
        assert_eq!(
            (r.kind, r.status, r.size, r.not_modified),
            (Kind::Success, Some(status), Some(size), not_modified),
            "{r:?}"
        );
    }
    let seen = server.seen();
    let sent = |path: &str, name: &str| -> Vec<String> {
        let req = seen.iter().rev().find(|s| s.target == path).unwrap();
        req.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(sent("/cond/v1", "if-none-match"), ["\"v1\""]);
    assert_eq!(sent("/cond/v1", "if-modified-since"), [COND_DATE]);
    assert_eq!(sent("/cond/v2", "if-none-match"), ["\"older\""]);
    assert_eq!(sent("/cond/v3", "if-none-match"), Vec::<String>::new());
    assert_eq!(sent("/cond/v3", "if-modified-since"), [COND_DATE]);
    assert!(sent("/cond/v4", "if-none-match").is_empty());
    assert!(sent("/cond/v4", "if-modified-since").is_empty());

    // The user's field wins: one If-None-Match, the user's.
    let run = Cmd::new(&["--if-changed", e, "-H", "If-None-Match: \"zz\"", &v1]).run("");
    assert_eq!(run.records[0].status, Some(200), "{}", run.stderr);
    assert_eq!(
        server
            .seen()
            .last()
            .unwrap()
            .headers
            .get_all("if-none-match")
            .iter()
            .count(),
        1
    );
    assert_eq!(
        server.seen().last().unwrap().headers["if-none-match"],
        "\"zz\""
    );
    // A 304 without a conditional request is a plain status.
    let run = Cmd::new(&["--max-redirects", "0", &server.url("/status/304")]).run("");
    assert_eq!(
        (run.records[0].status, run.records[0].not_modified),
        (Some(304), None)
    );
}

/// With --output-dir, a `304` to --if-changed keeps the body file the
/// earlier run wrote (the copy that is current) and names it in
/// `body_path`; a changed resource replaces its file.
#[test]
fn if_changed_with_output_dir_keeps_the_current_body_file() {
    let server = Server::start();
    let dir = scratch("if_changed_output_dir");
    let bodies = dir.join("bodies");
    let b = bodies.to_str().unwrap();
    let [v1, v2] = ["/cond/v1", "/cond/v2"].map(|p| server.url(p));
    let first = dir.join("first.jsonl");
    let run = append_run(&["--output-dir", b, &v1, &v2], &first);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&first).unwrap();
    let (_, _, records) = record_urls(&text);
    let path_of = |url: &str| {
        records
            .iter()
            .find(|r| r.url == url)
            .and_then(|r| r.body_path.clone())
            .expect("body_path")
    };
    let (p1, p2) = (path_of(&v1), path_of(&v2));
    let kept = std::fs::read(&p1).unwrap();
    assert_eq!(kept.len(), 10, "{kept:?}");
    // v2's validators no longer match: it is fetched whole again.
    let edited: String = text
        .lines()
        .map(|line| {
            let mut r: serde_json::Value = serde_json::from_str(line).unwrap();
            if r["url"] == v2.as_str() {
                r["etag"] = json!("\"old\"");
                r.as_object_mut().unwrap().remove("last_modified");
            }
            format!("{r}\n")
        })
        .collect();
    std::fs::write(&p2, b"stale").unwrap();
    let earlier_file = dir.join("earlier.jsonl");
    std::fs::write(&earlier_file, edited).unwrap();
    let e = earlier_file.to_str().unwrap();
    let run = Cmd::new(&["--if-changed", e, "--output-dir", b, &v1, &v2]).run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let r1 = run.records.iter().find(|r| r.url == v1).unwrap();
    let r2 = run.records.iter().find(|r| r.url == v2).unwrap();
    assert_eq!(
        (r1.status, r1.not_modified),
        (Some(304), Some(true)),
        "{r1:?}"
    );
    assert_eq!(r1.body_path.as_deref(), Some(p1.as_str()), "{r1:?}");
    assert_eq!(std::fs::read(&p1).unwrap(), kept, "the current copy stays");
    assert_eq!((r2.status, r2.not_modified), (Some(200), None), "{r2:?}");
    assert_eq!(r2.body_path.as_deref(), Some(p2.as_str()), "{r2:?}");
    assert_eq!(std::fs::read(&p2).unwrap().len(), 10, "replaced");
}

/// A `304` that repeats neither `ETag` nor `Last-Modified` (RFC 9110 sec.
/// 15.4.5 asks for them, but not strictly): its record takes them from the
/// request, so re-checking from that record alone sends them again, day
/// after day; a list of tags names no one copy and is not taken.
#[test]
fn a_bare_304_keeps_the_validators_it_answered() {
    let server = Server::start();
    let dir = scratch("if_changed_bare");
    let url = server.url("/cond-bare/v1");
    let mut earlier = dir.join("day1.jsonl");
    let run = append_run(&[&url], &earlier);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    for day in 2..=3 {
        let next = dir.join(format!("day{day}.jsonl"));
        let run = append_run(&["--if-changed", earlier.to_str().unwrap(), &url], &next);
        assert_eq!(run.code(), 0, "{}", run.stderr);
        let (_, _, records) = record_urls(&std::fs::read_to_string(&next).unwrap());
        let r = &records[0];
        assert_eq!(
            (r.status, r.not_modified),
            (Some(304), Some(true)),
            "day {day}: {r:?}"
        );
        assert_eq!(
            (r.etag.as_deref(), r.last_modified.as_deref()),
            (Some("\"v1\""), Some(COND_DATE)),
            "day {day}: {r:?}"
        );
        earlier = next;
    }
    let run = Cmd::new(&["-H", "If-None-Match: \"v1\", \"v0\"", &url]).run("");
    let r = &run.records[0];
    assert_eq!((r.status, r.not_modified), (Some(304), Some(true)), "{r:?}");
    assert_eq!(
        (r.etag.as_deref(), r.last_modified.as_deref()),
        (None, None),
        "{r:?}"
    );
}

/// A file named twice for --resume (here once plainly and once through a
/// `.` path) is read once, so its records count once; stdout
/// that is the resume file opened with `>` (emptied) is warned about.
#[test]
fn a_file_named_twice_counts_once_and_overwriting_it_is_warned_of() {
    let server = Server::start();
    let dir = scratch("resume_twice");
    let url = server.url("/bytes/1");
    let out = dir.join("out.jsonl");
    let run = append_run(&[&url], &out);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let again = dir.join(".").join("out.jsonl");
    let (a, b) = (out.to_str().unwrap(), again.to_str().unwrap());
    let run = Cmd::new(&["--resume", a, "--resume", b, &url, &url]).run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        (run.records.len(), run.summary().skipped),
        (1, Some(1)),
        "{}",
        run.stderr
    );
    assert!(run.notices().is_empty(), "{}", run.stderr);

    // `> out.jsonl`: the shell empties the file before the run.
    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&out)
        .unwrap();
    let run = Cmd::new(&["--resume", a, &url])
        .stdout(Stdio::from(file))
        .run("");
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let kinds: Vec<_> = run.notices().iter().map(|n| n["kind"].clone()).collect();
    assert_eq!(kinds, ["earlier_overwritten"], "{}", run.stderr);
    // Appending (`>>`) is what resuming wants: no warning.
    let run = append_run(&["--resume", a, &url, &url], &out);
    assert!(
        !run.stderr.contains("earlier_overwritten"),
        "{}",
        run.stderr
    );
    assert_eq!(run.summary().skipped, Some(1), "{}", run.stderr);
}
