//! `--shard K/N`: N runs over one list give, together, exactly the records
//! of one run over it; each host's lines land in the shard its hash names,
//! lines that cannot be fetched in shard 1; `other_shard` counts the rest.

use fetcher_stream::Shard;
use sha2::{Digest as _, Sha256};

use crate::support::{dead_port, run, Kind, Record, Run, Server};

/// What a record says, as compared across runs: url, type, and the status
/// or error kind.
type Outcome = (String, Kind, Option<u16>, Option<String>);

fn outcome(r: &Record) -> Outcome {
    (r.url.clone(), r.kind, r.status, r.error_kind.clone())
}

/// The records of `run` as a sorted list of outcomes (a multiset).
fn outcomes<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Vec<Outcome> {
    let mut all: Vec<Outcome> = runs
        .into_iter()
        .flat_map(|r| r.records.iter().map(outcome))
        .collect();
    all.sort();
    all
}

/// The shard of 3 a host key falls in, computed here from the definition:
/// 1 + (the first 8 bytes of SHA-256 of the key, big-endian) mod 3.
fn shard_of(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    1 + u64::from_be_bytes(digest[..8].try_into().unwrap()) % 3
}

/// One input line with the host key it is fetched under (`None`: it cannot
/// be fetched).
struct Line {
    text: String,
    key: Option<String>,
}

fn line(text: impl Into<String>, key: Option<String>) -> Line {
    Line {
        text: text.into(),
        key,
    }
}

/// Runs the list once unsharded and once per shard of 3, with `args`, and
/// checks: together the shards' records are the unsharded run's (as a
/// multiset), each record is in the shard its host key names (shard 1
/// without one), and each shard's `total + other_shard` is the lines read.
fn check_shards(args: &[&str], input: &[u8], lines: &[Line]) {
    let whole = run(args, input);
    let summary = whole.checked_summary();
    assert_eq!(summary.other_shard, None, "{}", whole.stderr);
    assert_eq!(whole.records.len(), lines.len(), "{}", whole.stdout);
    let shards: Vec<Run> = (1..=3)
        .map(|k| {
            let shard = format!("{k}/3");
            let mut all = args.to_vec();
            all.extend(["--shard", &shard]);
            run(&all, input)
        })
        .collect();
    assert_eq!(outcomes(&shards), outcomes([&whole]));
    for (k, shard) in (1u64..).zip(&shards) {
        let s = shard.checked_summary();
        assert_eq!(
            s.total + s.other_shard.expect("other_shard with --shard"),
            lines.len() as u64,
            "shard {k}: {}",
            shard.stderr
        );
        let mut want: Vec<&str> = lines
            .iter()
            .filter(|l| l.key.as_deref().map_or(1, shard_of) == k)
            .map(|l| l.text.as_str())
            .collect();
        want.sort();
        let mut got: Vec<&str> = shard.urls();
        got.sort();
        assert_eq!(got, want, "shard {k}");
    }
}

/// Several loopback hosts (IP literals, `*.localhost` names, http and
/// https, scheme-less lines), duplicates, and unusable lines, over 3 shards.
#[test]
fn three_shards_give_the_records_of_one_run() {
    let a = Server::start();
    let b = Server::start();
    let dead = dead_port();
    let (pa, pb) = (a.port(), b.port());
    let mut lines = vec![
        line(
            format!("http://127.0.0.1:{pa}/bytes/3"),
            Some(format!("http://127.0.0.1:{pa}")),
        ),
        line(
            format!("http://127.0.0.1:{pb}/status/404"),
            Some(format!("http://127.0.0.1:{pb}")),
        ),
        // Scheme-less, under --default-scheme http; the same host as above.
        line(
            format!("127.0.0.1:{pa}/bytes/5"),
            Some(format!("http://127.0.0.1:{pa}")),
        ),
        // Upper case is the same host.
        line(
            format!("HTTP://LOCALHOST:{pb}/x"),
            Some(format!("http://localhost:{pb}")),
        ),
        line(
            format!("http://127.0.0.2:{dead}/"),
            Some(format!("http://127.0.0.2:{dead}")),
        ),
        line(
            format!("https://127.0.0.3:{dead}/"),
            Some(format!("https://127.0.0.3:{dead}")),
        ),
        line("not a url", None),
        line("ftp://127.0.0.1/x", None),
        line("http://", None),
        line("https://*.localhost/", None),
    ];
    for i in 0..12 {
        let port = if i % 2 == 0 { pa } else { pb };
        lines.push(line(
            format!("http://h{i}.localhost:{port}/status/20{}", i % 4),
            Some(format!("http://h{i}.localhost:{port}")),
        ));
    }
    // Duplicates: each line again gets its record, in its shard.
    let twice: Vec<Line> = lines
        .iter()
        .step_by(3)
        .map(|l| line(l.text.clone(), l.key.clone()))
        .collect();
    lines.extend(twice);
    let mut input: Vec<u8> = lines
        .iter()
        .flat_map(|l| format!("{}\n", l.text).into_bytes())
        .collect();
    // Blank and comment lines are not lines read: no shard counts them.
    input.extend_from_slice(b"\n# a comment\n");
    // Not UTF-8: shard 1, shown with U+FFFD.
    input.extend_from_slice(b"http://127.0.0.1/\xff\n");
    lines.push(line("http://127.0.0.1/\u{fffd}", None));
    check_shards(
        &["--default-scheme", "http", "--max-size", "1K"],
        &input,
        &lines,
    );
}

/// With `--input jsonl` the spec's url decides, and a line that is not a
/// spec is shard 1's.
#[test]
fn jsonl_specs_shard_by_their_url() {
    let server = Server::start();
    let port = server.port();
    let mut lines = Vec::new();
    let mut input = String::new();
    for i in 0..9 {
        let url = format!("http://s{i}.localhost:{port}/bytes/{i}");
        input.push_str(&format!(r#"{{"url":"{url}","method":"HEAD","id":{i}}}"#));
        input.push('\n');
        lines.push(line(url, Some(format!("http://s{i}.localhost:{port}"))));
    }
    input.push_str("{not json\n");
    lines.push(line("{not json", None));
    input.push_str(&format!(
        r#"{{"url":"http://s1.localhost:{port}/","method":7}}"#
    ));
    input.push('\n');
    lines.push(line(format!("http://s1.localhost:{port}/"), None));
    check_shards(&["--input", "jsonl"], input.as_bytes(), &lines);
}

/// K/N out of range or malformed is a one-line usage error (exit 2), before
/// anything is read.
#[test]
fn a_bad_shard_is_a_usage_error() {
    for bad in ["0/3", "4/3", "1/0", "2", "a/3", "-1/2", ""] {
        let out = run(&["--shard", bad], "http://127.0.0.1:1/\n");
        assert_eq!(out.code(), 2, "{bad}: {}", out.stderr);
        assert!(out.records.is_empty());
        assert_eq!(
            out.stderr,
            format!("fetcher-stream: --shard must be K/N with 1 <= K <= N (as 2/3), got '{bad}'\n")
        );
    }
}

/// One shard of one is the whole list, with `other_shard` 0.
#[test]
fn one_shard_of_one_is_everything() {
    let server = Server::start();
    let input = format!("{}\nnope\n{}\n", server.url("/a"), server.url("/b"));
    let out = run(&["--shard", "1/1"], input);
    assert_eq!(out.records.len(), 3);
    let s = out.checked_summary();
    assert_eq!((s.total, s.other_shard), (3, Some(0)));
}

/// The man page's test vectors (key, first 8 bytes of SHA-256, shard of 3,
/// shard of 1000) are what the hash gives.
#[test]
fn the_man_page_vectors_hold() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/fetcher-stream.1"))
        .unwrap()
        .replace("\\-", "-");
    let start = man.find("Test vectors").expect("the vectors");
    let block = &man[start..];
    let block = &block[block.find(".nf\n").unwrap() + 4..block.find(".fi\n").unwrap()];
    let mut n = 0;
    for row in block.lines() {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let [key, hex, of_3, of_1000] = cols[..] else {
            panic!("a vector row has 4 columns: {row:?}");
        };
        let digest = Sha256::digest(key.as_bytes());
        let first: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(first, hex, "{row}");
        assert_eq!(Shard::of_key(key, 3).to_string(), of_3, "{row}");
        assert_eq!(Shard::of_key(key, 1000).to_string(), of_1000, "{row}");
        n += 1;
    }
    assert!(n >= 5, "{block}");
}
