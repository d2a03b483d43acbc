//! The records and the summary the binary writes, parsed into typed values
//! (as ripgrep's `tests/json.rs` does) so tests assert on fields.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use fetcher_stream::ErrorKind;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `type` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Success,
    Failure,
}

/// One stdout line. Each field the binary leaves out is `None`; keys that are
/// not record fields (a spec's pass-through keys) land in `extra`, so two
/// records are equal only if they have the same keys with the same values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub url: String,
    pub status: Option<u16>,
    pub size: Option<u64>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub elapsed_ms: f64,
    pub http_version: Option<String>,
    pub wire_size: Option<u64>,
    pub final_url: Option<String>,
    pub attempts: Option<u32>,
    pub line: Option<u64>,
    pub location: Option<String>,
    pub redirects: Option<u32>,
    pub remote_addr: Option<String>,
    pub reused: Option<bool>,
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub sha256: Option<String>,
    pub not_modified: Option<bool>,
    /// With `--input jsonl`: the line's key, 16 hex digits.
    pub spec_hash: Option<String>,
    pub body_path: Option<String>,
    /// Pass-through keys, in the order written.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Record {
    /// A success as the tests write it: no timing, no `http_version`.
    pub fn success(url: &str, status: u16, size: u64) -> Record {
        Record {
            kind: Kind::Success,
            status: Some(status),
            size: Some(size),
            ..Record::blank(url)
        }
    }

    /// A failure as the tests write it: no timing, no `error` text (see
    /// [`Record::with_error`]).
    pub fn failure(url: &str, error_kind: &str) -> Record {
        Record {
            kind: Kind::Failure,
            error_kind: Some(error_kind.to_owned()),
            ..Record::blank(url)
        }
    }

    fn blank(url: &str) -> Record {
        Record {
            kind: Kind::Failure,
            url: url.to_owned(),
            status: None,
            size: None,
            error: None,
            error_kind: None,
            elapsed_ms: 0.0,
            http_version: None,
            wire_size: None,
            final_url: None,
            attempts: None,
            line: None,
            location: None,
            redirects: None,
            remote_addr: None,
            reused: None,
            dns_ms: None,
            connect_ms: None,
            tls_ms: None,
            ttfb_ms: None,
            content_type: None,
            etag: None,
            last_modified: None,
            headers: None,
            sha256: None,
            not_modified: None,
            spec_hash: None,
            body_path: None,
            extra: Map::new(),
        }
    }

    pub fn with_error(mut self, error: &str) -> Record {
        self.error = Some(error.to_owned());
        self
    }

    pub fn with_final_url(mut self, url: &str) -> Record {
        self.final_url = Some(url.to_owned());
        self
    }

    pub fn with_redirects(mut self, n: u32) -> Record {
        self.redirects = Some(n);
        self
    }

    pub fn with_location(mut self, url: &str) -> Record {
        self.location = Some(url.to_owned());
        self
    }

    pub fn with_sha256(mut self, hex: &str) -> Record {
        self.sha256 = Some(hex.to_owned());
        self
    }

    /// `headers` with these (name, value) pairs.
    pub fn with_headers(mut self, pairs: &[(&str, &str)]) -> Record {
        let map = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.headers = Some(map);
        self
    }

    pub fn with_wire_size(mut self, n: u64) -> Record {
        self.wire_size = Some(n);
        self
    }

    pub fn with_attempts(mut self, n: u32) -> Record {
        self.attempts = Some(n);
        self
    }

    pub fn with_http_version(mut self, v: &str) -> Record {
        self.http_version = Some(v.to_owned());
        self
    }

    pub fn with_line(mut self, n: u64) -> Record {
        self.line = Some(n);
        self
    }

    /// A pass-through key.
    pub fn with(mut self, key: &str, value: Value) -> Record {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn is_success(&self) -> bool {
        self.kind == Kind::Success
    }

    /// The record as the tests write it, after checking the parts they leave
    /// out: `elapsed_ms` is a non-negative number (then zeroed) and a
    /// success came over plain-text HTTP/1.1 (then `http_version` is
    /// dropped), as from every in-process plain-HTTP server.
    pub fn exact(&self) -> Record {
        let mut r = self.untimed();
        if r.is_success() {
            let v = r.http_version.take();
            assert_eq!(v.as_deref(), Some("HTTP/1.1"), "http_version in {self:?}");
        }
        r
    }

    /// As [`Record::exact`], and for a failure the `error` text dropped
    /// after checking it is there and not empty.
    pub fn without_error(&self) -> Record {
        let mut r = self.exact();
        if !r.is_success() {
            let e = r.error.take();
            assert!(
                e.is_some_and(|e| !e.is_empty()),
                "error missing or empty in {self:?}"
            );
        }
        r
    }

    /// The record with `elapsed_ms` zeroed (checked to be non-negative)
    /// and the facts of its connection dropped (see
    /// [`Record::connection`]), `http_version` kept.
    pub fn untimed(&self) -> Record {
        assert!(self.elapsed_ms >= 0.0, "elapsed_ms negative in {self:?}");
        let mut r = self.clone();
        r.elapsed_ms = 0.0;
        r.connection();
        // The key of a `--input jsonl` line: checked for its shape here,
        // for its value where a test computes it.
        if let Some(hash) = r.spec_hash.take() {
            assert!(
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "spec_hash in {self:?}"
            );
        }
        r
    }

    /// Takes the facts of the connection (`remote_addr`, `reused` and the
    /// timings) out of the record, after checking that they hang together:
    /// a record with a status has `ttfb_ms` and a loopback `remote_addr`,
    /// and either `reused` or `connect_ms` (then `dns_ms` and `tls_ms` may
    /// be there), never both; one without has none of them. Every test that
    /// compares records checks this.
    pub fn connection(&mut self) -> Connection {
        let c = Connection {
            remote_addr: self.remote_addr.take().map(|a| {
                a.parse()
                    .unwrap_or_else(|e| panic!("remote_addr {a:?}: {e} in {self:?}"))
            }),
            reused: self.reused.take(),
            dns_ms: self.dns_ms.take(),
            connect_ms: self.connect_ms.take(),
            tls_ms: self.tls_ms.take(),
            ttfb_ms: self.ttfb_ms.take(),
        };
        let timings = [c.dns_ms, c.connect_ms, c.tls_ms, c.ttfb_ms];
        assert!(
            timings.iter().flatten().all(|&t| t >= 0.0),
            "negative timing in {self:?}"
        );
        if self.status.is_some() {
            assert!(c.ttfb_ms.is_some(), "no ttfb_ms in {self:?}");
            assert!(
                c.remote_addr.is_some_and(|a| a.ip().is_loopback()),
                "remote_addr {:?} in {self:?}",
                c.remote_addr
            );
            assert_ne!(c.reused == Some(true), c.connect_ms.is_some(), "{c:?}");
            assert_ne!(c.reused, Some(false), "reused is only ever true");
            if c.connect_ms.is_none() {
                assert_eq!((c.dns_ms, c.tls_ms), (None, None), "{c:?}");
            }
        } else {
            assert_eq!(c, Connection::default(), "in {self:?}");
        }
        c
    }
}

/// The facts of a record's connection, as [`Record::connection`] takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Connection {
    pub remote_addr: Option<SocketAddr>,
    pub reused: Option<bool>,
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
}

impl Connection {
    /// Whether the final hop went over a connection already open.
    pub fn reused(&self) -> bool {
        self.reused == Some(true)
    }
}

/// [`Record::exact`] of each record, in the order given.
pub fn exact(records: &[Record]) -> Vec<Record> {
    records.iter().map(Record::exact).collect()
}

/// The summary line on stderr.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    #[serde(rename = "type")]
    pub kind: String,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Written only with `--resume`.
    pub skipped: Option<u64>,
    pub elapsed_ms: f64,
    pub urls_per_second: f64,
    pub bytes: u64,
    pub retries: u64,
    pub connections_opened: u64,
    pub dns_lookups: u64,
    /// Status code (as written, a string) to count; `BTreeMap` sorts the
    /// keys as strings, so tests compare it with [`counts`].
    pub status_counts: BTreeMap<String, u64>,
    pub error_kinds: BTreeMap<String, u64>,
    /// Left out when no record reached the network.
    pub record_elapsed_ms: Option<Percentiles>,
    /// Left out when no record has a status.
    pub ttfb_ms: Option<Percentiles>,
    /// Written (as `true`) only when a signal ended the run.
    pub interrupted: Option<bool>,
    /// Written only with `--shard`.
    pub other_shard: Option<u64>,
}

/// The summary's `record_elapsed_ms` and `ttfb_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Asserts the percentiles are in order, non-negative, and at most
    /// `limit_ms`.
    pub fn check(&self, limit_ms: f64) {
        let Percentiles { p50, p90, p99, max } = *self;
        assert!(
            0.0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max && max <= limit_ms,
            "{self:?}"
        );
    }
}

/// A `status_counts` or `error_kinds` object as the tests write it.
pub fn counts<K: ToString>(pairs: &[(K, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// Parses one JSON line into `T`, naming the line on failure.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> T {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a record ({e}): {line:?}"))
}

/// Parses JSON Lines into records.
pub fn parse_lines(text: &str) -> Vec<Record> {
    text.lines().map(parse).collect()
}

/// `records` sorted by `url` (completion order is not input order).
pub fn by_url(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| a.url.cmp(&b.url));
    records
}

/// Every [`ErrorKind`], in declaration order.
pub fn error_kinds() -> [ErrorKind; 15] {
    use ErrorKind::*;
    let all = [
        InvalidUrl,
        InvalidInput,
        UnsupportedScheme,
        Dns,
        Connect,
        Tls,
        Proxy,
        Timeout,
        TooManyRedirects,
        Protocol,
        Body,
        BodyTooLarge,
        Io,
        Status,
        Cancelled,
    ];
    // Adding a variant stops this match compiling: add it to `all` too.
    for k in all {
        match k {
            InvalidUrl | InvalidInput | UnsupportedScheme | Dns | Connect | Tls | Proxy
            | Timeout | TooManyRedirects | Protocol | Body | BodyTooLarge | Io | Status
            | Cancelled => {}
        }
    }
    all
}
