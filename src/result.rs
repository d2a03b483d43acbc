//! The records fetcher-stream writes: one [`FetchResult`] per input line and one
//! [`Summary`] at the end.
//!
//! Both serialise to a single JSON object (one line of JSON Lines) with a `type`
//! tag, in the style of ripgrep's `--json` messages. Fields that do not apply
//! to a record (for example `final_url` when no redirect was followed) are
//! left out rather than written as `null`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

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
        /// The URL that produced the final response, present only when at least one
        /// redirect was followed.
        #[serde(skip_serializing_if = "Option::is_none")]
        final_url: Option<String>,
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
/// does not apply; on a record they come after `final_url` (`line` on a
/// failure) and before `attempts`, in the order below.
///
/// The timings follow curl's `-w` variables, but each covers one phase, not
/// the time since the start: `dns_ms` (`time_namelookup`), `connect_ms`
/// (`time_connect` minus `time_namelookup`), `tls_ms` (`time_appconnect`
/// minus `time_connect`), and `ttfb_ms` (`time_starttransfer`, for the
/// final hop). All are milliseconds rounded to 0.1.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseFacts {
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
    #[serde(skip_serializing_if = "Option::is_none")]
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
}

/// Every key a record (`success` or `failure`) may have besides `url`: a
/// `--input jsonl` spec may not use them as pass-through keys.
pub const RECORD_KEYS: [&str; 24] = [
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
            final_url: None,
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
        }
    }

    #[test]
    fn response_facts_come_between_final_url_and_attempts() {
        let mut extra = Passthrough::new();
        extra.insert("id".into(), serde_json::json!(1));
        let r = FetchResult::Success {
            url: "http://a/".into(),
            status: 302,
            size: 0,
            elapsed_ms: 5.0,
            http_version: "HTTP/1.1",
            wire_size: None,
            final_url: Some("http://a/b".into()),
            response: Some(Box::new(every_fact())),
            attempts: Some(2),
            extra: Some(Box::new(extra)),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            concat!(
                r#"{"type":"success","url":"http://a/","status":302,"size":0,"elapsed_ms":5.0,"#,
                r#""http_version":"HTTP/1.1","final_url":"http://a/b","location":"http://a/next","#,
                r#""redirects":2,"remote_addr":"[::1]:8080","reused":true,"dns_ms":1.0,"#,
                r#""connect_ms":0.5,"tls_ms":3.0,"ttfb_ms":4.5,"content_type":"text/plain","#,
                r#""etag":"\"x\"","last_modified":"Tue, 15 Nov 1994 08:12:31 GMT","#,
                r#""headers":{"x-a":"1, 2"},"sha256":"e3b0","attempts":2,"id":1}"#
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
            response: None,
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
                final_url: Some("f".into()),
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
