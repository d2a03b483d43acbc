//! Conservation: random mixes of well-behaved and hostile
//! URLs, random `-c` and `-t`, and the one promise checked on every mix:
//! exactly one record per counted input line, every input URL exactly once,
//! summary totals equal to the records, and each URL's record of the kind its
//! server's behaviour calls for (never a `timeout` for a server that answers
//! at once). Then the same with SIGINT at a random moment: the records cover
//! exactly the lines read, which are a prefix of the input.
//!
//! The mixes are seeded: a failure prints its seed, and
//! `CONSERVATION_SEED=N cargo test --test conservation` replays it.

// `pub`: this binary uses a part of the shared support only; the main suite
// (`tests/tests.rs`) is where an unused part shows up as dead code.
pub mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use support::{dead_port, run, Cmd, Kind, RawServer, Record, Reply, Server};

/// xorshift64*: a small, seedable generator (no dependency needed for this).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What a URL's server does, and so which record it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Behaviour {
    Ok,
    NotFound,
    Redirect,
    Loop,
    Chunked,
    Hang,
    Drip,
    Truncate,
    BadChunk,
    Reset,
    Refused,
    NoSuchHost,
    NotAUrl,
    Ftp,
}

/// Behaviours whose server answers at once (or that fail before any request).
const FAST: [Behaviour; 11] = [
    Behaviour::Ok,
    Behaviour::NotFound,
    Behaviour::Redirect,
    Behaviour::Loop,
    Behaviour::Chunked,
    Behaviour::Truncate,
    Behaviour::BadChunk,
    Behaviour::Refused,
    Behaviour::NoSuchHost,
    Behaviour::NotAUrl,
    Behaviour::Ftp,
];

/// Behaviours that hold a slot until the deadline (or 300 ms for `Reset`).
const SLOW: [Behaviour; 3] = [Behaviour::Hang, Behaviour::Drip, Behaviour::Reset];

impl Behaviour {
    /// `(type, status or error_kinds)` the record must have.
    fn check(self, record: &Record) -> Result<(), String> {
        let kind = record.error_kind.as_deref().unwrap_or("");
        let status = record.status.unwrap_or(0);
        let success = record.kind == Kind::Success;
        let ok = match self {
            Behaviour::Ok | Behaviour::Chunked => success && status == 200,
            Behaviour::NotFound => success && status == 404,
            Behaviour::Redirect => success && status == 200 && record.final_url.is_some(),
            Behaviour::Loop => kind == "too_many_redirects",
            Behaviour::Hang | Behaviour::Drip => kind == "timeout",
            Behaviour::Truncate | Behaviour::BadChunk => kind == "protocol",
            Behaviour::Reset => kind == "body" || kind == "io",
            Behaviour::Refused => kind == "connect",
            Behaviour::NoSuchHost => kind == "dns",
            Behaviour::NotAUrl => kind == "invalid_url",
            Behaviour::Ftp => kind == "unsupported_scheme",
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{self:?} got {record:?}"))
        }
    }
}

/// Every server a mix can point at, started once per test.
struct Peers {
    good: Server,
    raw: BTreeMap<&'static str, RawServer>,
    refused_port: u16,
}

impl Peers {
    fn start() -> Peers {
        let raw = [
            ("hang", Reply::hang()),
            ("drip", Reply::drip()),
            ("truncate", Reply::truncated()),
            ("badchunk", Reply::bad_chunk()),
            ("reset", Reply::reset_in_body()),
        ]
        .into_iter()
        .map(|(name, reply)| (name, RawServer::every(reply)))
        .collect();
        // A port that was just free: nothing listens there.
        let refused_port = dead_port();
        Peers {
            good: Server::start(),
            raw,
            refused_port,
        }
    }

    /// A distinct input line (the `i` makes it unique) for a behaviour.
    fn line(&self, b: Behaviour, i: usize) -> String {
        match b {
            Behaviour::Ok => self.good.url(&format!("/bytes/{}?i={i}", i % 300)),
            Behaviour::NotFound => self.good.url(&format!("/status/404?i={i}")),
            Behaviour::Redirect => self.good.url(&format!("/redirect/2?i={i}")),
            Behaviour::Loop => self.good.url(&format!("/loop?i={i}")),
            Behaviour::Chunked => self.good.url(&format!("/chunked/{}?i={i}", 3 + i % 5000)),
            Behaviour::Hang => self.raw["hang"].url(&format!("/?i={i}")),
            Behaviour::Drip => self.raw["drip"].url(&format!("/?i={i}")),
            Behaviour::Truncate => self.raw["truncate"].url(&format!("/?i={i}")),
            Behaviour::BadChunk => self.raw["badchunk"].url(&format!("/?i={i}")),
            Behaviour::Reset => self.raw["reset"].url(&format!("/?i={i}")),
            Behaviour::Refused => format!("http://127.0.0.1:{}/?i={i}", self.refused_port),
            Behaviour::NoSuchHost => format!("http://host-{i}.invalid/"),
            Behaviour::NotAUrl => format!("http://bad host {i}/"),
            Behaviour::Ftp => format!("ftp://127.0.0.1/{i}"),
        }
    }
}

/// One random mix: the input text, the counted lines in order with their
/// behaviour, and the flags.
struct Mix {
    input: String,
    lines: Vec<(String, Behaviour)>,
    args: Vec<String>,
}

fn mix(peers: &Peers, rng: &mut Rng, max_urls: u64) -> Mix {
    let n = rng.range(1, max_urls) as usize;
    let c = rng.range(1, 64);
    // 0.8..=1.5 s: long enough for `Reset`'s 300 ms, short enough to be quick.
    let t_ms = rng.range(800, 1500);
    // Half the mixes go through the per-host scheduler.
    let per_host = (rng.range(0, 1) == 0).then(|| rng.range(1, 8));
    // At most about three waves of slow URLs, so a run stays within seconds
    // (a per-host cap makes a slow server's URLs wait for each other).
    let mut slow_left = 3 * per_host.map_or(c, |m| m.min(c));
    let mut input = String::new();
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        // Uncounted lines now and then.
        match rng.range(0, 40) {
            0 => input.push('\n'),
            1 => input.push_str("# a comment\n"),
            2 => input.push_str("   \r\n"),
            _ => {}
        }
        let b = if slow_left > 0 && rng.range(0, 20) == 0 {
            slow_left -= 1;
            SLOW[rng.range(0, SLOW.len() as u64 - 1) as usize]
        } else {
            FAST[rng.range(0, FAST.len() as u64 - 1) as usize]
        };
        let line = peers.line(b, i);
        input.push_str(&line);
        input.push_str(if rng.range(0, 1) == 0 { "\n" } else { "\r\n" });
        lines.push((line, b));
    }
    let mut args = vec![
        "-c".into(),
        c.to_string(),
        "-t".into(),
        format!("{}", t_ms as f64 / 1000.0),
    ];
    if let Some(m) = per_host {
        args.extend(["--max-per-host".into(), m.to_string()]);
    }
    // A third of the mixes retry once (the scheduler then runs, and retries
    // wait in its window): the last attempt's kind is the same, since every
    // peer always behaves the same way.
    if rng.range(0, 2) == 0 {
        args.extend(["--retries", "1", "--retry-delay", "0.01"].map(String::from));
    }
    Mix { input, lines, args }
}

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("CONSERVATION_SEED") {
        Ok(s) => vec![s.parse().expect("CONSERVATION_SEED is a number")],
        Err(_) => default.to_vec(),
    }
}

/// Checks that `records` answer exactly the lines `lines[..]` (each once) and
/// that each record fits its line's behaviour.
fn check_records(seed: u64, lines: &[(String, Behaviour)], records: &[Record]) {
    let expected: BTreeMap<&str, Behaviour> = lines.iter().map(|(l, b)| (l.as_str(), *b)).collect();
    assert_eq!(
        expected.len(),
        lines.len(),
        "seed {seed}: input URLs are distinct"
    );
    let mut seen = BTreeSet::new();
    for r in records {
        let url = r.url.as_str();
        assert!(seen.insert(url), "seed {seed}: {url} answered twice");
        let b = expected
            .get(url)
            .unwrap_or_else(|| panic!("seed {seed}: record for a URL not in the input: {r:?}"));
        if let Err(e) = b.check(r) {
            panic!("seed {seed}: {e}");
        }
    }
}

#[test]
fn every_line_gets_exactly_one_record_of_the_right_kind() {
    let peers = Peers::start();
    for seed in seeds(&[1, 2, 3, 4, 5]) {
        let mut rng = Rng::new(seed);
        let m = mix(&peers, &mut rng, 2000);
        let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
        let run = run(&args, m.input.clone());
        assert_eq!(
            run.records.len(),
            m.lines.len(),
            "seed {seed} {args:?}: records != counted lines\n{}",
            run.stderr
        );
        check_records(seed, &m.lines, &run.records);
        let s = run.checked_summary();
        assert_eq!(s.total, m.lines.len() as u64, "seed {seed}");
        let any_failure = run.records.iter().any(|r| r.kind == Kind::Failure);
        assert_eq!(run.code(), i32::from(any_failure), "seed {seed}");
    }
}

#[test]
fn sigint_at_a_random_moment_leaves_no_line_read_without_a_record() {
    let peers = Peers::start();
    for seed in seeds(&[11, 12, 13, 14]) {
        let mut rng = Rng::new(seed);
        let mut m = mix(&peers, &mut rng, 1500);
        // The first line hangs, so the run is surely under way (signal handlers
        // installed, input being read) when the signal is sent.
        let first = peers.line(Behaviour::Hang, usize::MAX);
        m.input = format!("{first}\n{}", m.input);
        m.lines.insert(0, (first, Behaviour::Hang));
        let hang_before = peers.raw["hang"].requests();

        let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
        let mut running = Cmd::new(&args).start();
        let mut stdin = running.child.stdin.take().unwrap();
        let input = m.input.clone();
        // Stdin stays open after the input: the run can only end by the signal
        // (or by finishing everything and then waiting for more input).
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
            std::thread::sleep(Duration::from_secs(20));
            drop(stdin);
        });
        peers.raw["hang"].wait_for_requests(hang_before + 1);
        std::thread::sleep(Duration::from_millis(rng.range(0, 400)));
        running.signal(libc::SIGINT);
        let run = running.finish().parse();
        drop(writer);

        assert_eq!(run.code(), 130, "seed {seed}: {}", run.stderr);
        let s = run.checked_summary();
        assert_eq!(s.interrupted, Some(true), "seed {seed}: {s:?}");
        // The records answer a prefix of the input lines: every line read, in
        // order, and nothing after the first unread one.
        let answered: BTreeSet<&str> = run.records.iter().map(|r| r.url.as_str()).collect();
        let k = run.records.len();
        assert!(k >= 1 && k <= m.lines.len(), "seed {seed}: {k} records");
        let prefix: BTreeSet<&str> = m.lines[..k].iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(answered, prefix, "seed {seed}: records are not a prefix");
        // Each record is its behaviour's, or `cancelled`.
        for r in &run.records {
            if r.error_kind.as_deref() == Some("cancelled") {
                continue;
            }
            let (_, b) = m.lines.iter().find(|(l, _)| *l == r.url).unwrap();
            if let Err(e) = b.check(r) {
                panic!("seed {seed}: {e}");
            }
        }
        assert!(
            run.records
                .iter()
                .any(|r| r.error_kind.as_deref() == Some("cancelled")),
            "seed {seed}: the hanging first URL was cancelled"
        );
    }
}
