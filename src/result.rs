//! The records fetcher-stream writes: one [`FetchResult`] per input line and one
//! [`Summary`] at the end.
//!
//! Both serialise to a single JSON object (one line of JSON Lines) with a `type`
//! tag, in the style of ripgrep's `--json` messages. Fields that do not apply
//! to a record (for example `final_url` when no redirect was followed) are
//! left out rather than written as `null`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::ErrorKind;

/// Keys of a `--input jsonl` request spec other than the request's own (`url`,
/// `method`, `headers`, `body`), copied unchanged into that line's record so
/// that results join back to the caller's data (`"id": 42`).
pub type Passthrough = serde_json::Map<String, serde_json::Value>;

/// The outcome of fetching one input line.
///
/// JSON shape (one object per line on stdout, field order as shown):
///
/// ```text
/// {"type":"success","url":"https://example.com/","status":200,"size":1256,"elapsed_ms":12.3,"http_version":"HTTP/2.0"}
/// {"type":"success","url":"http://a/old","status":200,"size":5,"elapsed_ms":3.1,"http_version":"HTTP/1.1","final_url":"http://a/new"}
/// {"type":"failure","url":"http://slow/","error":"timeout after 5s","error_kind":"timeout","elapsed_ms":5001.7}
/// ```
///
/// A record with a status (a `success`, or a `status` failure) also carries
/// the facts of the final response and its connection ([`ResponseFacts`]),
/// after `final_url`/`line`:
///
/// ```text
/// {"type":"success","url":"https://a/","status":200,"size":5,"elapsed_ms":9.1,"http_version":"HTTP/2.0","remote_addr":"192.0.2.7:443","dns_ms":1.2,"connect_ms":0.9,"tls_ms":4.1,"ttfb_ms":8.8,"content_type":"text/html"}
/// ```
///
/// An HTTP error status (404, 500, …) is a `Success`: the exchange completed and
/// a status was received (RFC 9110 sec. 15). Only transport-level problems,
/// unusable input and cancellation are `Failure`s, and, when the run names the
/// statuses it accepts (`Config::accept`, `--accept`), a final status outside
/// them (`error_kind` `status`, with `status` kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FetchResult {
    /// A response was received and its whole body was read.
    Success {
        /// The input line as given (trimmed), not the normalised URL.
        url: String,
        /// The final response's status code (RFC 9110 sec. 15). After redirects this
        /// is the status of the last hop; it is a 3xx with `max_redirects = 0` or
        /// when a redirect has no usable `Location`.
        status: u16,
        /// Body bytes of the final response. Without `--compressed` no
        /// `Accept-Encoding` is sent and this is the size as received; with it,
        /// the size after decoding (see `wire_size`). 0 for `HEAD`.
        size: u64,
        /// Milliseconds from the start of the first attempt (when the URL got
        /// its concurrency slot; time waiting for a slot is not counted) until
        /// the last body byte; with retries, the waits between attempts count.
        elapsed_ms: f64,
        /// The HTTP version of the final response: `"HTTP/1.1"`, `"HTTP/2.0"`
        /// (negotiated by ALPN on https, or h2c with `--http2-prior-knowledge`)
        /// or `"HTTP/1.0"`.
        http_version: &'static str,
        /// Body bytes as received on the wire, before decoding; present only with
        /// `--compressed` (then `size` is the decoded length).
        #[serde(skip_serializing_if = "Option::is_none")]
        wire_size: Option<u64>,
        /// The final response and its connection (always set by the
        /// fetcher; `None` writes none of its keys).
        #[serde(flatten)]
        response: Option<Box<ResponseFacts>>,
        /// How many times the request was sent, present only when more than once
        /// (`--retries`); the record describes the last attempt.
        #[serde(skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
        /// Pass-through keys of a `--input jsonl` spec, written after the
        /// record's own keys.
        #[serde(flatten)]
        extra: Option<Box<Passthrough>>,
    },
    /// The URL could not be fetched; `error_kind` says why in a closed set.
    Failure {
        /// The input line as given (trimmed; shown lossily when it was not UTF-8,
        /// shortened when it was over the line-length limit).
        url: String,
        /// The final response's status, present only for a `status` failure
        /// (a status outside `--accept`): the exchange completed, but the run
        /// does not accept its outcome.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// A human-readable message, e.g. `timeout after 5s` or
        /// `dns: failed to lookup address information: …`.
        error: String,
        /// The machine-readable class of the error; see [`ErrorKind`].
        error_kind: ErrorKind,
        /// Milliseconds from the start of the first attempt (when the URL got
        /// its concurrency slot) until the failure; with retries, the waits
        /// between attempts count. 0 for lines rejected before any request.
        elapsed_ms: f64,
        /// The 1-based line number in its source (physical lines, blank ones
        /// included), present only for `invalid_input` records (a `--input
        /// jsonl` line that is not a spec).
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        /// The final response and its connection, for a `status` failure
        /// only (as on a `success`).
        #[serde(flatten)]
        response: Option<Box<ResponseFacts>>,
        /// How many times the request was sent, present only when more than once
        /// (`--retries`); the record describes the last attempt.
        #[serde(skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
        /// Pass-through keys of a `--input jsonl` spec, written after the
        /// record's own keys.
        #[serde(flatten)]
        extra: Option<Box<Passthrough>>,
    },
}

/// The facts of a record's final response (the last hop, after redirects)
/// and of the connection that carried it. Each field is left out when it
/// does not apply; on a record they come after `wire_size` (`line` on a
/// failure) and before `attempts`, in the order below.
///
/// The timings follow curl's `-w` variables, but each covers one phase, not
/// the time since the start: `dns_ms` (`time_namelookup`), `connect_ms`
/// (`time_connect` minus `time_namelookup`), `tls_ms` (`time_appconnect`
/// minus `time_connect`), and `ttfb_ms` (`time_starttransfer`, for the
/// final hop). All are milliseconds rounded to 0.1.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseFacts {
    /// `true` when the final response is a `304 Not Modified` to a
    /// conditional request (`If-None-Match` or `If-Modified-Since`, RFC 9110
    /// sec. 13.1.2, 13.1.3, 15.4.5), sent by `--if-changed` or given by the
    /// user: the copy the validators came from is still current, and no
    /// body was read (`size` 0). Such a record is a success even outside
    /// `--accept`. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_modified: bool,
    /// The URL that produced the final response (without `user:password@`),
    /// present only when at least one redirect was followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// The first `Location` of a final 3xx response (one not followed:
    /// `--max-redirects 0`, a 300 or 304, or a `Location` that does not
    /// resolve), resolved against the URL of that response (RFC 3986 sec.
    /// 5, as curl's `redirect_url`) and without `user:password@`; the value
    /// as sent (lossy UTF-8) when it does not resolve. Absent for other
    /// statuses and without a (non-empty) `Location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Redirects followed to reach the final response, present when at
    /// least 1 (then `final_url` says where they led).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirects: Option<u32>,
    /// The peer of the connection that carried the final response, as
    /// `"ip:port"` (`"[ip]:port"` for IPv6): the server, or the proxy the
    /// request went through.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_addr"
    )]
    pub remote_addr: Option<SocketAddr>,
    /// `true` when the final hop went over a connection already open (an
    /// idle kept-alive HTTP/1.1 connection, or a stream of an open HTTP/2
    /// connection); then `dns_ms`, `connect_ms` and `tls_ms` are absent.
    /// Absent when a connection was opened for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    /// Milliseconds of name lookup for the new connection of the final hop
    /// (the target's and, through a proxy, the proxy's host; an answer from
    /// the DNS cache included). Absent when no name had to be looked up: an
    /// IP address, a `--resolve` entry, `localhost` and `*.localhost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    /// Milliseconds from the end of the name lookup until the new
    /// connection of the final hop was open: the TCP connect to the server
    /// or its proxy and, through a proxy, the `CONNECT` tunnel or SOCKS5
    /// handshake. Absent on a reused connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// Milliseconds of the TLS handshake of the new connection of the final
    /// hop (`https://` only). Absent on a reused connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    /// Milliseconds from the start of the final hop (when it asked the pool
    /// for a connection, so a new connection's set-up counts) until the
    /// final response's head had arrived.
    pub ttfb_ms: f64,
    /// The final response's `Content-Type`, as sent (lossy UTF-8), when
    /// present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The final response's `ETag`, as sent (quotes and `W/` kept), when
    /// present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The final response's `Last-Modified`, as sent, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The final response's fields named by `--include-header`: lower-case
    /// name to value (lossy UTF-8), several field lines of one name joined
    /// with `", "` (RFC 9110 sec. 5.3), keys in name order. Absent when the
    /// response had none of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// SHA-256 of the body bytes counted by `size` (decoded ones with
    /// `--compressed`), in lower-case hex, computed while the body streams
    /// (`--hash sha256`); the empty body's for `HEAD` and bodiless statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Where the body was written (`--output-dir`): `DIR/HOST/HASH` with
    /// `DIR` as given, so relative to the current directory when `DIR` is.
    /// The file holds the bytes counted by `size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_path: Option<String>,
}

/// Writes `remote_addr` as serde writes a `SocketAddr` (its `Display`
/// text), through [`Ipv4Text`] for an IPv4 address: once per record, where
/// `Display`'s formatting machinery was a measurable share of a record's
/// cost.
fn serialize_addr<S: serde::Serializer>(
    addr: &Option<SocketAddr>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match addr {
        Some(SocketAddr::V4(v4)) if serializer.is_human_readable() => {
            serializer.serialize_some(Ipv4Text::new(v4).as_str())
        }
        _ => addr.serialize(serializer),
    }
}

/// An IPv4 socket address as `Display` writes it (`"192.0.2.7:443"`),
/// formatted digit by digit into a stack buffer.
struct Ipv4Text {
    /// Room for `255.255.255.255:65535`.
    buf: [u8; 21],
    len: usize,
}

impl Ipv4Text {
    fn new(addr: &std::net::SocketAddrV4) -> Ipv4Text {
        let mut text = Ipv4Text {
            buf: [0; 21],
            len: 0,
        };
        for (i, octet) in addr.ip().octets().into_iter().enumerate() {
            if i > 0 {
                text.push(b'.');
            }
            text.push_decimal(u32::from(octet));
        }
        text.push(b':');
        text.push_decimal(u32::from(addr.port()));
        text
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    /// Appends `n` (at most 65535) in decimal, without leading zeros.
    fn push_decimal(&mut self, n: u32) {
        let mut digits = [0u8; 5];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for &d in &digits[at..] {
            self.push(d);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, dots and a colon were written.
        std::str::from_utf8(&self.buf[..self.len]).expect("ASCII")
    }
}

/// Every key a record (`success` or `failure`) may have besides `url`: a
/// `--input jsonl` spec may not use them as pass-through keys.
pub const RECORD_KEYS: [&str; 27] = [
    "type",
    "status",
    "size",
    "error",
    "error_kind",
    "elapsed_ms",
    "http_version",
    "final_url",
    "wire_size",
    "attempts",
    "line",
    "location",
    "redirects",
    "remote_addr",
    "reused",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "content_type",
    "etag",
    "last_modified",
    "headers",
    "sha256",
    "not_modified",
    "spec_hash",
    "body_path",
];

/// The key of an input line in records: the first 8 bytes of the SHA-256
/// of `bytes`, read as a big-endian `u64`. A record's `spec_hash` is this
/// key of its `--input jsonl` line as read (without a UTF-8 BOM, surrounding
/// ASCII whitespace trimmed), written as 16 lower-case hex digits; a plain
/// line's key is this hash of its `url` text. `--resume` and `--if-changed`
/// match earlier records to input lines by it.
pub fn line_key(bytes: &[u8]) -> u64 {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The pass-through keys of a `--input jsonl` record with its line's
/// `spec_hash` (see [`line_key`]) first, when there is one.
pub(crate) fn with_spec_hash(
    hash: Option<u64>,
    extra: Option<Box<Passthrough>>,
) -> Option<Box<Passthrough>> {
    let Some(hash) = hash else {
        return extra;
    };
    let mut keys = Passthrough::new();
    keys.insert("spec_hash".into(), format!("{hash:016x}").into());
    if let Some(extra) = extra {
        keys.extend(*extra);
    }
    Some(Box::new(keys))
}

impl FetchResult {
    /// The input line this record answers.
    pub fn url(&self) -> &str {
        match self {
            FetchResult::Success { url, .. } | FetchResult::Failure { url, .. } => url,
        }
    }

    /// `true` for [`FetchResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, FetchResult::Success { .. })
    }

    /// The error kind of a failure, `None` for a success.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            FetchResult::Success { .. } => None,
            FetchResult::Failure { error_kind, .. } => Some(*error_kind),
        }
    }

    /// The `spec_hash` of a `--input jsonl` line's record (see
    /// [`line_key`]), `None` for a plain line's.
    pub fn spec_hash(&self) -> Option<u64> {
        let (FetchResult::Success { extra, .. } | FetchResult::Failure { extra, .. }) = self;
        let hex = extra.as_ref()?.get("spec_hash")?.as_str()?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Sets the pass-through keys of a `--input jsonl` spec.
    pub fn set_extra(&mut self, keys: Option<Box<Passthrough>>) {
        match self {
            FetchResult::Success { extra, .. } | FetchResult::Failure { extra, .. } => {
                *extra = keys
            }
        }
    }

    /// Sets `attempts` (written only when above 1).
    pub fn set_attempts(&mut self, n: u32) {
        let n = (n > 1).then_some(n);
        match self {
            FetchResult::Success { attempts, .. } | FetchResult::Failure { attempts, .. } => {
                *attempts = n
            }
        }
    }

    /// How many times the request was sent: `attempts`, or 1 when absent
    /// (also for lines refused before any request).
    pub fn attempts(&self) -> u32 {
        match self {
            FetchResult::Success { attempts, .. } | FetchResult::Failure { attempts, .. } => {
                attempts.unwrap_or(1)
            }
        }
    }

    /// The facts of the final response: on a success and a `status`
    /// failure, `None` on other failures.
    pub fn response(&self) -> Option<&ResponseFacts> {
        match self {
            FetchResult::Success { response, .. } | FetchResult::Failure { response, .. } => {
                response.as_deref()
            }
        }
    }

    /// Milliseconds spent on this record (see the variants' `elapsed_ms`).
    pub fn elapsed_ms(&self) -> f64 {
        match self {
            FetchResult::Success { elapsed_ms, .. } | FetchResult::Failure { elapsed_ms, .. } => {
                *elapsed_ms
            }
        }
    }
}

/// The last record of a run, written to stderr.
///
/// ```text
/// {"type":"summary","total":8,"succeeded":5,"failed":2,"cancelled":1,"elapsed_ms":5180.4,"urls_per_second":1.5,"bytes":48213,"retries":1,"connections_opened":4,"dns_lookups":2,"status_counts":{"200":4,"404":1},"error_kinds":{"cancelled":1,"dns":1,"timeout":1},"record_elapsed_ms":{"p50":120.3,"p90":5001.2,"p99":5001.2,"max":5001.2}}
/// ```
///
/// `interrupted` is present (and `true`) only when the run was stopped by
/// SIGINT or SIGTERM; the URLs that were cancelled are counted in
/// `cancelled`, not in `failed`. `record_elapsed_ms` is left out when no
/// record reached the network.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "type", rename = "summary")]
pub struct Summary {
    /// Records written: always equal to the number of input lines that were read
    /// and were neither blank nor comments (nor, with `--shard`, another
    /// shard's: see `other_shard`; nor, with `--resume`, done before: see
    /// `skipped`); `succeeded + failed + cancelled`.
    pub total: u64,
    /// Records of type `success`.
    pub succeeded: u64,
    /// Records of type `failure` other than `cancelled` ones.
    pub failed: u64,
    /// `failure` records of kind `cancelled` (only after SIGINT or SIGTERM).
    pub cancelled: u64,
    /// With `--resume`, the lines read but not fetched because an earlier
    /// run's output already holds their final record; they get no record
    /// here, so `total + skipped (+ other_shard)` is the number of counted
    /// lines read. Omitted without `--resume`. Set by the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
    /// Wall-clock milliseconds from start to the last record.
    pub elapsed_ms: f64,
    /// `total` per second of `elapsed_ms`, rounded to 0.1 (0 when no time
    /// passed).
    pub urls_per_second: f64,
    /// Body bytes of every success: the sum of their `size`.
    pub bytes: u64,
    /// Requests sent again (`--retries`): the sum over records of
    /// `attempts` − 1.
    pub retries: u64,
    /// Connections the client opened (see [`crate::ClientStats`]); set by
    /// the caller from [`crate::RunStats`].
    pub connections_opened: u64,
    /// Name lookups sent to the system resolver (see
    /// [`crate::ClientStats::dns_lookups`]); set by the caller from
    /// [`crate::RunStats`].
    pub dns_lookups: u64,
    /// Records by final status, keys the status codes as strings in numeric
    /// order (`{"200":4,"404":1}`): every record with a `status`, that is
    /// every success and every `status` failure (`--accept`).
    pub status_counts: BTreeMap<u16, u64>,
    /// Failure records by `error_kind`, keys in alphabetical order
    /// (`{"dns":1,"timeout":1}`), `cancelled` included.
    pub error_kinds: BTreeMap<&'static str, u64>,
    /// Percentiles of the records' `elapsed_ms` over the records that
    /// reached the network: every success, and every failure except those
    /// refused before any request (`invalid_url`, `invalid_input`,
    /// `unsupported_scheme`) and `cancelled` ones whose `elapsed_ms` is 0
    /// (the URL was still waiting for its first attempt). Left out when
    /// no record qualifies.
    #[serde(skip_serializing_if = "Percentiles::is_empty")]
    pub record_elapsed_ms: Percentiles,
    /// Percentiles of the records' `ttfb_ms`: every record with a status
    /// (successes and `status` failures). Left out when there is none.
    #[serde(skip_serializing_if = "Percentiles::is_empty")]
    pub ttfb_ms: Percentiles,
    /// `true` when a signal stopped the run early; omitted otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// With `--shard K/N`, the lines read that belong to another shard and
    /// got no record (`total + other_shard (+ skipped)` = lines read, blank
    /// and comment lines aside); omitted without `--shard`. Set by the
    /// caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_shard: Option<u64>,
}

impl Summary {
    /// Sets `elapsed_ms` from a duration, rounded to 0.1 ms as in records,
    /// and `urls_per_second` from it and `total`.
    pub fn set_elapsed(&mut self, elapsed: std::time::Duration) {
        self.elapsed_ms = round_ms(elapsed.as_secs_f64() * 1000.0);
        let secs = elapsed.as_secs_f64();
        self.urls_per_second = if secs > 0.0 {
            round_ms(self.total as f64 / secs)
        } else {
            0.0
        };
    }

    /// Counts one record.
    pub fn add(&mut self, result: &FetchResult) {
        self.total += 1;
        self.retries += u64::from(result.attempts().saturating_sub(1));
        if let Some(response) = result.response() {
            self.ttfb_ms.record(response.ttfb_ms);
        }
        match result {
            FetchResult::Success {
                status,
                size,
                elapsed_ms,
                ..
            } => {
                self.succeeded += 1;
                self.bytes = self.bytes.saturating_add(*size);
                *self.status_counts.entry(*status).or_default() += 1;
                self.record_elapsed_ms.record(*elapsed_ms);
            }
            FetchResult::Failure {
                status,
                error_kind,
                elapsed_ms,
                ..
            } => {
                if *error_kind == ErrorKind::Cancelled {
                    self.cancelled += 1;
                } else {
                    self.failed += 1;
                }
                if let Some(status) = status {
                    *self.status_counts.entry(*status).or_default() += 1;
                }
                *self.error_kinds.entry(error_kind.as_str()).or_default() += 1;
                let refused = matches!(
                    error_kind,
                    ErrorKind::InvalidUrl | ErrorKind::InvalidInput | ErrorKind::UnsupportedScheme
                );
                let never_started = *error_kind == ErrorKind::Cancelled && *elapsed_ms == 0.0;
                if !refused && !never_started {
                    self.record_elapsed_ms.record(*elapsed_ms);
                }
            }
        }
    }
}

/// A distribution of durations in milliseconds, summarised as the 50th,
/// 90th and 99th percentiles and the maximum.
///
/// Values are kept in an HDR histogram (the `hdrhistogram` crate) at
/// microsecond resolution with 3 significant digits, so each reported
/// percentile is within 0.1 % of the true one (never above the maximum),
/// in constant memory however many values are recorded. A percentile is
/// the smallest recorded value with at least that share of values at or
/// below it (nearest rank). The maximum is exact.
///
/// Serialises to `{"p50":12.3,"p90":40.1,"p99":250.0,"max":5001.2}`
/// (milliseconds rounded to 0.1), or to `null` when empty (use
/// [`Percentiles::is_empty`] to leave it out).
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    /// Microseconds, auto-resizing (no upper bound to choose).
    micros: Histogram<u64>,
    /// The largest value recorded, in microseconds.
    max: u64,
}

impl Default for Percentiles {
    fn default() -> Percentiles {
        Percentiles {
            micros: Histogram::new(3).expect("3 significant digits are supported"),
            max: 0,
        }
    }
}

impl Percentiles {
    /// Adds one value in milliseconds (negative or NaN values count as 0).
    pub fn record(&mut self, ms: f64) {
        // `as` saturates: NaN and negatives give 0, huge values u64::MAX.
        let us = (ms * 1000.0).round() as u64;
        self.max = self.max.max(us);
        // `record` grows the histogram to fit; past what it can hold, the
        // value is clamped to its highest.
        if self.micros.record(us).is_err() {
            self.micros.saturating_record(us);
        }
    }

    /// Whether no value was recorded.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The value (ms, rounded to 0.1) at or below which `quantile` (0 to 1)
    /// of the values lie; 0 when empty.
    pub fn at(&self, quantile: f64) -> f64 {
        // The histogram answers with the top of the value's bucket.
        micros_to_ms(self.micros.value_at_quantile(quantile).min(self.max))
    }

    /// The largest value (ms, rounded to 0.1); 0 when empty.
    pub fn max(&self) -> f64 {
        micros_to_ms(self.max)
    }
}

fn micros_to_ms(us: u64) -> f64 {
    round_ms(us as f64 / 1000.0)
}

impl Serialize for Percentiles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape {
            p50: f64,
            p90: f64,
            p99: f64,
            max: f64,
        }
        if self.is_empty() {
            return serializer.serialize_none();
        }
        Shape {
            p50: self.at(0.5),
            p90: self.at(0.9),
            p99: self.at(0.99),
            max: self.max(),
        }
        .serialize(serializer)
    }
}

/// Rounds milliseconds to 0.1 ms, the precision written in records.
pub(crate) fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0:0",
            "127.0.0.1:8080",
            "10.20.3.40:9",
            "255.255.255.255:65535",
            "192.0.2.7:443",
            "1.100.99.10:10000",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let facts = ResponseFacts {
                remote_addr: Some(addr),
                ..ResponseFacts::default()
            };
            let json = serde_json::to_value(&facts).unwrap();
            assert_eq!(json["remote_addr"], addr.to_string());
            assert_eq!(json["remote_addr"], text);
        }
    }

    #[test]
    fn success_json_shape_omits_absent_final_url() {
        let r = FetchResult::Success {
            url: "http://a/".into(),
            status: 200,
            size: 5,
            elapsed_ms: 1.5,
            http_version: "HTTP/1.1",
            wire_size: None,
            response: None,
            attempts: None,
            extra: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"success","url":"http://a/","status":200,"size":5,"elapsed_ms":1.5,"http_version":"HTTP/1.1"}"#
        );
    }

    #[test]
    fn passthrough_keys_follow_the_record_keys() {
        let mut extra = Passthrough::new();
        extra.insert("id".into(), serde_json::json!(42));
        extra.insert("tags".into(), serde_json::json!(["a"]));
        let r = FetchResult::Success {
            url: "http://a/".into(),
            status: 200,
            size: 5,
            elapsed_ms: 1.5,
            http_version: "HTTP/1.1",
            wire_size: Some(3),
            response: None,
            attempts: Some(2),
            extra: Some(Box::new(extra)),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"success","url":"http://a/","status":200,"size":5,"elapsed_ms":1.5,"http_version":"HTTP/1.1","wire_size":3,"attempts":2,"id":42,"tags":["a"]}"#
        );
    }

    /// Facts with every field set.
    fn every_fact() -> ResponseFacts {
        ResponseFacts {
            not_modified: true,
            final_url: Some("http://a/b".into()),
            location: Some("http://a/next".into()),
            redirects: Some(2),
            remote_addr: Some("[::1]:8080".parse().unwrap()),
            reused: true,
            dns_ms: Some(1.0),
            connect_ms: Some(0.5),
            tls_ms: Some(3.0),
            ttfb_ms: 4.5,
            content_type: Some("text/plain".into()),
            etag: Some("\"x\"".into()),
            last_modified: Some("Tue, 15 Nov 1994 08:12:31 GMT".into()),
            headers: Some(BTreeMap::from([("x-a".into(), "1, 2".into())])),
            sha256: Some("e3b0".into()),
            body_path: Some("out/a/e3b0".into()),
        }
    }

    #[test]
    fn response_facts_come_between_wire_size_and_attempts() {
        let mut extra = Passthrough::new();
        extra.insert("id".into(), serde_json::json!(1));
        let r = FetchResult::Success {
            url: "http://a/".into(),
            status: 302,
            size: 0,
            elapsed_ms: 5.0,
            http_version: "HTTP/1.1",
            wire_size: None,
            response: Some(Box::new(every_fact())),
            attempts: Some(2),
            extra: Some(Box::new(extra)),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            concat!(
                r#"{"type":"success","url":"http://a/","status":302,"size":0,"elapsed_ms":5.0,"#,
                r#""http_version":"HTTP/1.1","not_modified":true,"final_url":"http://a/b","#,
                r#""location":"http://a/next","#,
                r#""redirects":2,"remote_addr":"[::1]:8080","reused":true,"dns_ms":1.0,"#,
                r#""connect_ms":0.5,"tls_ms":3.0,"ttfb_ms":4.5,"content_type":"text/plain","#,
                r#""etag":"\"x\"","last_modified":"Tue, 15 Nov 1994 08:12:31 GMT","#,
                r#""headers":{"x-a":"1, 2"},"sha256":"e3b0","body_path":"out/a/e3b0","#,
                r#""attempts":2,"id":1}"#
            )
        );
        // Only the time to the first byte is always written.
        let r = FetchResult::Failure {
            url: "u".into(),
            status: Some(404),
            error: "e".into(),
            error_kind: ErrorKind::Status,
            elapsed_ms: 1.0,
            line: None,
            response: Some(Box::default()),
            attempts: None,
            extra: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"failure","url":"u","status":404,"error":"e","error_kind":"status","elapsed_ms":1.0,"ttfb_ms":0.0}"#
        );
    }

    #[test]
    fn failure_json_shape() {
        let r = FetchResult::Failure {
            url: "x".into(),
            error: "timeout after 5s".into(),
            error_kind: ErrorKind::Timeout,
            elapsed_ms: 5001.7,
            status: None,
            line: None,
            response: None,
            attempts: None,
            extra: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"failure","url":"x","error":"timeout after 5s","error_kind":"timeout","elapsed_ms":5001.7}"#
        );
    }

    fn failure(kind: ErrorKind, elapsed_ms: f64) -> FetchResult {
        FetchResult::Failure {
            url: "x".into(),
            error: "e".into(),
            error_kind: kind,
            elapsed_ms,
            status: None,
            line: None,
            response: None,
            attempts: None,
            extra: None,
        }
    }

    fn success(status: u16, size: u64, elapsed_ms: f64, attempts: Option<u32>) -> FetchResult {
        FetchResult::Success {
            url: "u".into(),
            status,
            size,
            elapsed_ms,
            http_version: "HTTP/1.1",
            wire_size: None,
            attempts,
            response: None,
            extra: None,
        }
    }

    #[test]
    fn summary_shape_and_interrupted_flag() {
        let mut s = Summary::default();
        s.add(&failure(ErrorKind::InvalidUrl, 0.0));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"type":"summary","total":1,"succeeded":0,"failed":1,"cancelled":0,"elapsed_ms":0.0,"urls_per_second":0.0,"bytes":0,"retries":0,"connections_opened":0,"dns_lookups":0,"status_counts":{},"error_kinds":{"invalid_url":1}}"#
        );
        s.interrupted = true;
        assert!(serde_json::to_string(&s)
            .unwrap()
            .ends_with(r#","interrupted":true}"#));
    }

    /// Every count of the summary from a known mix of records.
    #[test]
    fn summary_counts_statuses_kinds_bytes_and_retries() {
        let mut s = Summary::default();
        s.add(&success(404, 10, 30.0, None));
        s.add(&success(200, 5, 10.0, Some(3)));
        s.add(&success(200, 7, 20.0, None));
        let mut status_failure = failure(ErrorKind::Status, 40.0);
        if let FetchResult::Failure { status, .. } = &mut status_failure {
            *status = Some(503);
        }
        status_failure.set_attempts(2);
        s.add(&status_failure);
        s.add(&failure(ErrorKind::Timeout, 5000.0));
        // Refused before any request, and cancelled before starting: not
        // timed; a cancelled request in flight is.
        s.add(&failure(ErrorKind::UnsupportedScheme, 0.1));
        s.add(&failure(ErrorKind::Cancelled, 0.0));
        s.add(&failure(ErrorKind::Cancelled, 60.0));
        s.set_elapsed(std::time::Duration::from_millis(3_000));
        s.connections_opened = 4;
        s.dns_lookups = 1;
        let json: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "summary",
                "total": 8,
                "succeeded": 3,
                "failed": 3,
                "cancelled": 2,
                "elapsed_ms": 3000.0,
                "urls_per_second": 2.7,
                "bytes": 22,
                "retries": 3,
                "connections_opened": 4,
                "dns_lookups": 1,
                "status_counts": {"200": 2, "404": 1, "503": 1},
                "error_kinds": {"cancelled": 2, "status": 1, "timeout": 1, "unsupported_scheme": 1},
                "record_elapsed_ms": {"p50": 30.0, "p90": 5000.0, "p99": 5000.0, "max": 5000.0},
            })
        );
        // Keys in numeric order, not string order ("1000" would sort first).
        let text = serde_json::to_string(&s).unwrap();
        assert!(
            text.contains(r#""status_counts":{"200":2,"404":1,"503":1}"#),
            "{text}"
        );
    }

    #[test]
    fn percentiles_by_nearest_rank_within_a_tenth_of_a_percent() {
        let mut p = Percentiles::default();
        assert!(p.is_empty());
        assert_eq!(serde_json::to_string(&p).unwrap(), "null");
        for ms in 1..=100 {
            p.record(f64::from(ms));
        }
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"p50":50.0,"p90":90.0,"p99":99.0,"max":100.0}"#
        );
        // Microsecond resolution: sub-millisecond values stay apart.
        let mut fast = Percentiles::default();
        for us in [100.0, 200.0, 300.0, 400.0] {
            fast.record(us / 1000.0);
        }
        assert_eq!((fast.at(0.5), fast.max()), (0.2, 0.4));
        // Large values keep 3 significant digits.
        let mut slow = Percentiles::default();
        slow.record(123_456.7);
        assert_eq!(slow.max(), 123_456.7);
        slow.record(100_000.0);
        let p50 = slow.at(0.5);
        assert!((p50 - 100_000.0).abs() <= 100.0, "{p50}");
        // Negative values count as 0.
        slow.record(-5.0);
        assert_eq!(slow.at(0.0), 0.0);
    }

    /// The key is the first 8 bytes of SHA-256, big-endian; `spec_hash`
    /// comes first among the pass-through keys and reads back.
    #[test]
    fn line_keys_and_spec_hash() {
        // SHA-256("abc") = ba7816bf8f01cfea 414140de...
        assert_eq!(line_key(b"abc"), 0xba78_16bf_8f01_cfea);
        assert_eq!(line_key(b""), 0xe3b0_c442_98fc_1c14);
        let mut extra = Passthrough::new();
        extra.insert("id".into(), serde_json::json!(7));
        let mut r = failure(ErrorKind::InvalidInput, 0.0);
        r.set_extra(with_spec_hash(Some(0xab), Some(Box::new(extra))));
        assert!(serde_json::to_string(&r)
            .unwrap()
            .ends_with(r#""spec_hash":"00000000000000ab","id":7}"#));
        assert_eq!(r.spec_hash(), Some(0xab));
        assert_eq!(failure(ErrorKind::Io, 0.0).spec_hash(), None);
        assert_eq!(with_spec_hash(None, None), None);
    }

    #[test]
    fn control_characters_are_escaped() {
        let r = FetchResult::Failure {
            url: "a\u{1b}[31m\n".into(),
            error: "e".into(),
            error_kind: ErrorKind::InvalidUrl,
            elapsed_ms: 0.0,
            status: None,
            line: None,
            response: None,
            attempts: None,
            extra: None,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains(r"a\u001b[31m\n"));
        assert!(!line.contains('\u{1b}'));
    }

    /// Every key a record can have is either `url` or in [`RECORD_KEYS`], so
    /// a new record field cannot be shadowed by a pass-through key unnoticed.
    #[test]
    fn record_keys_cover_every_record_field() {
        let records = [
            FetchResult::Success {
                url: "u".into(),
                status: 200,
                size: 1,
                elapsed_ms: 1.0,
                http_version: "HTTP/1.1",
                wire_size: Some(1),
                response: Some(Box::new(every_fact())),
                attempts: Some(2),
                extra: None,
            },
            FetchResult::Failure {
                url: "u".into(),
                error: "e".into(),
                error_kind: ErrorKind::Io,
                elapsed_ms: 1.0,
                status: Some(404),
                line: Some(1),
                response: Some(Box::new(every_fact())),
                attempts: Some(2),
                extra: with_spec_hash(Some(1), None),
            },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for r in records {
            let serde_json::Value::Object(obj) = serde_json::to_value(&r).unwrap() else {
                panic!("not an object");
            };
            seen.extend(obj.keys().cloned());
        }
        // Every key a record writes is listed, and every listed key is one a
        // record writes.
        let listed: std::collections::BTreeSet<String> = RECORD_KEYS
            .iter()
            .chain(&["url"])
            .map(|k| k.to_string())
            .collect();
        assert_eq!(seen, listed);
    }
}
