//! The records fetcher-stream writes: one [`FetchResult`] per input line and one
//! [`Summary`] at the end.
//!
//! Both serialise to a single JSON object (one line of JSON Lines) with a `type`
//! tag, in the style of ripgrep's `--json` messages. Fields that do not apply
//! to a record (for example `final_url` when no redirect was followed) are
//! left out rather than written as `null`.

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
        /// The URL that produced the final response, present only when at least one
        /// redirect was followed.
        #[serde(skip_serializing_if = "Option::is_none")]
        final_url: Option<String>,
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

/// Every key a record (`success` or `failure`) may have besides `url`: a
/// `--input jsonl` spec may not use them as pass-through keys.
pub const RECORD_KEYS: [&str; 11] = [
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
];

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
/// {"type":"summary","total":8,"succeeded":6,"failed":2,"elapsed_ms":5180.4}
/// ```
///
/// `interrupted` is present (and `true`) only when the run was stopped by SIGINT or
/// SIGTERM; the URLs that were cancelled are counted in `failed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "type", rename = "summary")]
pub struct Summary {
    /// Records written: always equal to the number of input lines that were read
    /// and were neither blank nor comments.
    pub total: u64,
    /// Records of type `success`.
    pub succeeded: u64,
    /// Records of type `failure` (cancelled ones included).
    pub failed: u64,
    /// Wall-clock milliseconds from start to the last record.
    pub elapsed_ms: f64,
    /// `true` when a signal stopped the run early; omitted otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl Summary {
    /// Sets `elapsed_ms` from a duration, rounded to 0.1 ms as in records.
    pub fn set_elapsed(&mut self, elapsed: std::time::Duration) {
        self.elapsed_ms = round_ms(elapsed.as_secs_f64() * 1000.0);
    }

    /// Counts one record.
    pub fn add(&mut self, result: &FetchResult) {
        self.total += 1;
        if result.is_success() {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
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
    fn success_json_shape_omits_absent_final_url() {
        let r = FetchResult::Success {
            url: "http://a/".into(),
            status: 200,
            size: 5,
            elapsed_ms: 1.5,
            http_version: "HTTP/1.1",
            final_url: None,
            wire_size: None,
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
            final_url: None,
            attempts: Some(2),
            extra: Some(Box::new(extra)),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"success","url":"http://a/","status":200,"size":5,"elapsed_ms":1.5,"http_version":"HTTP/1.1","wire_size":3,"attempts":2,"id":42,"tags":["a"]}"#
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
            attempts: None,
            extra: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"failure","url":"x","error":"timeout after 5s","error_kind":"timeout","elapsed_ms":5001.7}"#
        );
    }

    #[test]
    fn summary_shape_and_interrupted_flag() {
        let mut s = Summary::default();
        s.add(&FetchResult::Failure {
            url: "x".into(),
            error: "e".into(),
            error_kind: ErrorKind::Io,
            elapsed_ms: 0.0,
            status: None,
            line: None,
            attempts: None,
            extra: None,
        });
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"type":"summary","total":1,"succeeded":0,"failed":1,"elapsed_ms":0.0}"#
        );
        s.interrupted = true;
        assert!(serde_json::to_string(&s)
            .unwrap()
            .ends_with(r#","interrupted":true}"#));
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
                final_url: Some("f".into()),
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
                attempts: Some(2),
                extra: None,
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
