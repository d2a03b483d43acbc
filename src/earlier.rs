//! Earlier runs' output, read back: which input lines are already done
//! (`--resume`) and which validators a line's last copy had
//! (`--if-changed`).
//!
//! An earlier output file is JSON Lines of records. [`read_earlier`] reads
//! one whole (before the run writes anything, since stdout may append to
//! that very file) and hands each record's few useful facts to the caller
//! as an [`EarlierRecord`]. A line that is not a record (a torn last line
//! from a killed run, or one torn mid-file by repeated kills) is counted
//! and passed over; lines that are JSON but not records (a summary) are
//! passed over silently.
//!
//! Records are matched to input lines by a 64-bit key
//! ([`crate::result::line_key`]): the record's `spec_hash` when it has one
//! (`--input jsonl`), else the hash of its `url`, which is the input line's
//! text as the reader keeps it. Only keys and counts are held, never the
//! lines, so memory grows with the earlier output's distinct lines, not
//! with their length.
//!
//! [`skip_done`] and [`send_validators`] are stream adapters over
//! [`InputLine`]s, applied before [`crate::fetch_stream`]: each is a
//! separate small step, so they compose with any other filter of lines.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::stream::{Stream, StreamExt};
use http::header::{self, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::input::{InputLine, BOM};
use crate::result::line_key;
use crate::spec::RequestSpec;

/// The key of an input line: its `spec_hash` (`--input jsonl`), else
/// [`line_key`] of its text, the `url` its record will carry.
pub fn input_key(line: &InputLine) -> u64 {
    line.spec
        .as_ref()
        .and_then(|s| s.spec_hash)
        .unwrap_or_else(|| line_key(line.text.as_bytes()))
}

/// What one earlier record says, as far as resuming and re-checking need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierRecord {
    /// The key of the input line it answered (see [`input_key`]).
    pub key: u64,
    /// Its outcome.
    pub outcome: Outcome,
    /// `etag`, when the record has one.
    pub etag: Option<String>,
    /// `last_modified`, when the record has one.
    pub last_modified: Option<String>,
}

/// How an earlier record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `success` record.
    Success,
    /// A `failure` record of any kind but `cancelled`.
    Failed,
    /// A `cancelled` failure: the line was never finished.
    Cancelled,
}

/// The record keys read back; serde skips every other.
#[derive(Deserialize)]
struct RecordLine {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    error_kind: Option<String>,
    spec_hash: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl RecordLine {
    /// The record's facts: `Ok(None)` for a line of another type (a
    /// summary), `Err(())` for a record without a `url` or with a
    /// `spec_hash` that is not 16 hex digits.
    fn facts(self) -> Result<Option<EarlierRecord>, ()> {
        let outcome = match (self.kind.as_str(), self.error_kind.as_deref()) {
            ("success", _) => Outcome::Success,
            ("failure", Some("cancelled")) => Outcome::Cancelled,
            ("failure", _) => Outcome::Failed,
            _ => return Ok(None),
        };
        let key = match (self.spec_hash, self.url) {
            (Some(hex), _) if hex.len() == 16 => u64::from_str_radix(&hex, 16).map_err(|_| ())?,
            (None, Some(url)) => line_key(url.as_bytes()),
            _ => return Err(()),
        };
        Ok(Some(EarlierRecord {
            key,
            outcome,
            etag: self.etag,
            last_modified: self.last_modified,
        }))
    }
}

/// What reading one earlier output file found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EarlierFile {
    /// Records handed to the caller.
    pub records: u64,
    /// Non-blank lines that were not records (JSON objects with a `type`
    /// and a `url` or `spec_hash`): torn by a killed run, or not output of
    /// this program. JSON objects of another `type` (a summary) are passed
    /// over without being counted.
    pub unparsable: u64,
    /// Whether the file is empty or ends in `\n`. One that does not ends
    /// in a torn line, to which an appended record would be glued.
    pub ends_in_newline: bool,
    /// The file's device and inode, to tell whether stdout appends to it.
    pub id: (u64, u64),
}

/// Reads the earlier output at `path` to its end, calling `each` on every
/// record in file order.
///
/// # Errors
/// The file cannot be opened or read (`NotFound` when it does not exist;
/// a directory gives `IsADirectory`).
pub fn read_earlier(path: &Path, mut each: impl FnMut(EarlierRecord)) -> io::Result<EarlierFile> {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut found = EarlierFile {
        id: (meta.dev(), meta.ino()),
        ends_in_newline: true,
        ..EarlierFile::default()
    };
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(found);
        }
        found.ends_in_newline = line.ends_with(b"\n");
        // A UTF-8 BOM before the first record (an editor's) is not part of it.
        let text = match line.strip_prefix(BOM) {
            Some(rest) if first => rest,
            _ => &line[..],
        }
        .trim_ascii();
        first = false;
        if text.is_empty() {
            continue;
        }
        let facts = serde_json::from_slice::<RecordLine>(text)
            .map_err(drop)
            .and_then(RecordLine::facts);
        match facts {
            Ok(Some(record)) => {
                found.records += 1;
                each(record);
            }
            Ok(None) => {}
            Err(()) => found.unparsable += 1,
        }
    }
}

/// A hasher for keys that are already uniform hashes: the key itself.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; other input is folded in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// The input lines an earlier run finished (`--resume`), as counts per key:
/// a line given n times is done n times over when the earlier output holds
/// n final records for it.
///
/// Memory: one `u64` key and a `u32` count per distinct line, in a hash
/// table of 17 bytes a slot at most 7/8 full with a power-of-two slot
/// count: about 20 to 40 bytes per distinct line once loaded, and twice
/// that at the peak while the table grows (measured: about 70 MB for
/// 1,000,000 lines).
#[derive(Debug, Default)]
pub struct Done {
    counts: KeyMap<u32>,
    /// Whether only successes count (`--retry-failed`).
    successes_only: bool,
}

impl Done {
    /// An empty set; with `successes_only` (`--retry-failed`) a failure
    /// does not finish a line, so it is fetched again.
    pub fn new(successes_only: bool) -> Done {
        Done {
            counts: KeyMap::default(),
            successes_only,
        }
    }

    /// Counts `record` when it is final: a success, or (unless only
    /// successes count) a failure other than `cancelled`.
    pub fn add(&mut self, record: &EarlierRecord) {
        let done = match record.outcome {
            Outcome::Success => true,
            Outcome::Failed => !self.successes_only,
            Outcome::Cancelled => false,
        };
        if done {
            let n = self.counts.entry(record.key).or_default();
            *n = n.saturating_add(1);
        }
    }

    /// Distinct lines with a final record.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no line is done.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Whether `line` is done, using up one of its final records if so.
    fn take(&mut self, line: &InputLine) -> bool {
        if self.counts.is_empty() {
            return false;
        }
        let key = input_key(line);
        match self.counts.get_mut(&key) {
            Some(1) => {
                self.counts.remove(&key);
                true
            }
            Some(n) => {
                *n -= 1;
                true
            }
            None => false,
        }
    }
}

/// The lines of `lines` that `done` does not hold, in order: a line with a
/// final earlier record is dropped (one record per occurrence) and counted
/// in `skipped`. Once every earlier record is used up, a line costs one
/// check of an empty table.
pub fn skip_done<S>(
    lines: S,
    mut done: Done,
    skipped: Arc<AtomicU64>,
) -> impl Stream<Item = InputLine> + Send
where
    S: Stream<Item = InputLine> + Send,
{
    lines.filter(move |line| {
        let keep = !done.take(line);
        if !keep {
            skipped.fetch_add(1, Ordering::Relaxed);
        }
        futures::future::ready(keep)
    })
}

/// A line's validators from its last earlier success that had any.
#[derive(Debug, Clone, Default)]
struct Validator {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

/// The validators of earlier successes (`--if-changed`), by line key.
///
/// Memory: per distinct line, its key, two header values and their text:
/// about 100 bytes plus the `etag` and `last_modified` text.
#[derive(Debug, Default)]
pub struct Validators {
    by_key: KeyMap<Validator>,
}

impl Validators {
    /// Keeps the validators of `record` when it is a success with an
    /// `etag` or a `last_modified`, replacing those of an earlier record of
    /// its line.
    pub fn add(&mut self, record: &EarlierRecord) {
        if record.outcome != Outcome::Success {
            return;
        }
        let value = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        };
        let v = Validator {
            etag: value(&record.etag),
            last_modified: value(&record.last_modified),
        };
        if v.etag.is_some() || v.last_modified.is_some() {
            self.by_key.insert(record.key, v);
        }
    }

    /// Distinct lines with validators.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no line has validators.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// `lines`, each with the conditional fields its earlier validators call
/// for, as request fields of its spec: `If-None-Match` with the `etag`
/// (RFC 9110 sec. 13.1.2) and `If-Modified-Since` with the
/// `last_modified` (sec. 13.1.3), both when both are known (a server
/// evaluates `If-None-Match` first and then ignores the other, sec.
/// 13.2.2). A field the line's spec or the run's own fields (`run_fields`,
/// the `-H` names) already set is left as given.
pub fn send_validators<S>(
    lines: S,
    validators: Validators,
    run_fields: Vec<HeaderName>,
) -> impl Stream<Item = InputLine> + Send
where
    S: Stream<Item = InputLine> + Send,
{
    let given = move |name: &HeaderName, spec: &RequestSpec| {
        run_fields.contains(name) || spec.headers.iter().any(|(n, _)| n == name)
    };
    lines.map(move |mut line| {
        if validators.is_empty() {
            return line;
        }
        let Some(v) = validators.by_key.get(&input_key(&line)) else {
            return line;
        };
        let spec = line.spec.get_or_insert_with(Box::default);
        for (name, value) in [
            (header::IF_NONE_MATCH, &v.etag),
            (header::IF_MODIFIED_SINCE, &v.last_modified),
        ] {
            if let Some(value) = value {
                if !given(&name, spec) {
                    spec.headers.push((name, value.clone()));
                }
            }
        }
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fetcher-stream-earlier-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read(name: &str, text: &str) -> (Vec<EarlierRecord>, EarlierFile) {
        let mut all = Vec::new();
        let found = read_earlier(&write(name, text), |r| all.push(r)).unwrap();
        (all, found)
    }

    #[test]
    fn records_torn_lines_and_the_last_newline() {
        let text = concat!(
            "{\"type\":\"success\",\"url\":\"http://a/\",\"status\":200,\"etag\":\"\\\"1\\\"\"}\n",
            "{\"type\":\"failure\",\"url\":\"http://b/\",\"error_kind\":\"cancelled\"}\n",
            "{\"type\":\"fail\n",
            "\n",
            "{\"type\":\"summary\",\"total\":2}\n",
            "{\"type\":\"failure\",\"url\":\"x\",\"error_kind\":\"dns\",\"spec_hash\":\"00000000000000ff\"}\n",
            "{\"type\":\"succ",
        );
        let (records, found) = read("a.jsonl", text);
        assert_eq!((found.records, found.unparsable), (3, 2));
        assert!(!found.ends_in_newline);
        assert_eq!(records[0].key, line_key(b"http://a/"));
        assert_eq!(records[0].etag.as_deref(), Some("\"1\""));
        assert_eq!(records[1].outcome, Outcome::Cancelled);
        assert_eq!(
            (records[2].key, records[2].outcome),
            (0xff, Outcome::Failed)
        );
        let (_, found) = read("b.jsonl", "");
        assert!(found.ends_in_newline);
        let missing = read_earlier(Path::new("/nonexistent/x.jsonl"), |_| {});
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(read_earlier(&std::env::temp_dir(), |_| {}).is_err());
    }

    /// A BOM before the first record is dropped; elsewhere a line with one
    /// is not a record.
    #[test]
    fn a_bom_before_the_first_record_is_dropped() {
        let line = "{\"type\":\"success\",\"url\":\"http://a/\"}\n";
        let (records, found) = read("bom.jsonl", &format!("\u{feff}{line}\u{feff}{line}{line}"));
        assert_eq!((found.records, found.unparsable), (2, 1));
        assert!(records.iter().all(|r| r.key == line_key(b"http://a/")));
    }

    fn record(url: &str, outcome: Outcome) -> EarlierRecord {
        EarlierRecord {
            key: line_key(url.as_bytes()),
            outcome,
            etag: None,
            last_modified: None,
        }
    }

    /// The n-th occurrence of a line is done when n final records hold it.
    #[test]
    fn done_counts_occurrences() {
        let mut done = Done::new(false);
        done.add(&record("a", Outcome::Success));
        done.add(&record("a", Outcome::Failed));
        done.add(&record("b", Outcome::Cancelled));
        done.add(&record("c", Outcome::Failed));
        let skipped = Arc::new(AtomicU64::new(0));
        let lines = ["a", "b", "a", "c", "a", "c"].map(InputLine::from);
        let kept: Vec<String> = futures::executor::block_on(
            skip_done(futures::stream::iter(lines), done, skipped.clone())
                .map(|l| l.text)
                .collect(),
        );
        assert_eq!(kept, ["b", "a", "c"]);
        assert_eq!(skipped.load(Ordering::Relaxed), 3);
        // With --retry-failed only successes finish a line.
        let mut done = Done::new(true);
        done.add(&record("a", Outcome::Failed));
        done.add(&record("b", Outcome::Success));
        assert_eq!(done.len(), 1);
        assert!(done.take(&InputLine::from("b")) && !done.take(&InputLine::from("a")));
    }

    #[test]
    fn validators_become_request_fields_unless_given() {
        let mut v = Validators::default();
        let mut old = record("http://a/", Outcome::Success);
        old.etag = Some("\"old\"".into());
        v.add(&old);
        let mut last = record("http://a/", Outcome::Success);
        last.etag = Some("\"1\"".into());
        last.last_modified = Some("Tue, 15 Nov 1994 08:12:31 GMT".into());
        v.add(&last);
        let mut none = record("http://b/", Outcome::Success);
        none.etag = None;
        v.add(&none);
        assert_eq!(v.len(), 1);
        let lines = ["http://a/", "http://b/"].map(InputLine::from);
        let out: Vec<InputLine> = futures::executor::block_on(
            send_validators(
                futures::stream::iter(lines),
                v,
                vec![header::IF_MODIFIED_SINCE],
            )
            .collect(),
        );
        let sent = &out[0].spec.as_ref().unwrap().headers;
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0],
            (header::IF_NONE_MATCH, HeaderValue::from_static("\"1\""))
        );
        assert!(out[1].spec.is_none());
    }
}
