//! Error types: [`ErrorKind`], the closed set of reasons a URL can fail, and
//! [`FetchError`], the typed error behind each `failure` record.
//!
//! This is the bottom layer: it uses no other module of the crate. Which kind
//! a transport error is gets decided in `http::classify`, which walks the
//! error's `source()` chain.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// Why a URL failed. Serialised in snake case (`"invalid_url"`, `"timeout"`, …).
///
/// The set is closed: scripts can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The line is not a URL: unparsable, port 0, not UTF-8, longer than
    /// 64 KiB, or longer than the `http` crate's URI limit after
    /// percent-encoding.
    InvalidUrl,
    /// A `--input jsonl` line that is not a request spec (bad JSON, not an
    /// object, no string `url`, a bad `method`/`headers`/`body`); the record
    /// carries the line number in `line`.
    InvalidInput,
    /// A URL whose scheme is not `http` or `https` (e.g. `ftp://`, `mailto:`).
    UnsupportedScheme,
    /// The host name could not be resolved (including the RFC 6761 `.invalid` TLD).
    Dns,
    /// The TCP connection could not be made (refused, unreachable, reset during
    /// connect), or the connection, TLS handshake included, was not established
    /// within `--connect-timeout`.
    Connect,
    /// The TLS handshake failed (bad certificate, protocol mismatch, …).
    Tls,
    /// The proxy was reached but refused or broke its handshake: a non-2xx
    /// answer to `CONNECT` (the status is in the message), a SOCKS5 error
    /// reply, refused proxy credentials. An unreachable proxy is `connect`.
    Proxy,
    /// The per-request deadline (`--timeout`) expired.
    Timeout,
    /// More redirects than `--max-redirects` (a redirect loop ends here too).
    TooManyRedirects,
    /// The server broke HTTP: a malformed response, a body that ended before its
    /// `Content-Length`, a bad chunk, a connection closed before any response,
    /// an HTTP/1.1 body framed by a `Transfer-Encoding` other than a single
    /// `chunked`, a redirect with differing `Location` fields, or (with
    /// `--compressed`) a body that does not decode by its `Content-Encoding`.
    Protocol,
    /// An I/O error (such as a connection reset) while reading the response body.
    Body,
    /// The response body (decoded, with `--compressed`) went past `--max-size`
    /// bytes; reading stopped there.
    BodyTooLarge,
    /// An I/O error while sending the request or reading the response head;
    /// or, with `--output-dir`/`--warc`, while writing the body or the
    /// exchange to disk (then never retried).
    Io,
    /// The final response's status (after redirects) is not in `--accept`;
    /// the record keeps it in `status`. Never given without `--accept`.
    Status,
    /// The run was interrupted (SIGINT/SIGTERM) before this URL finished.
    Cancelled,
}

impl ErrorKind {
    /// The snake-case name used in JSON (`"timeout"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::UnsupportedScheme => "unsupported_scheme",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Proxy => "proxy",
            ErrorKind::Timeout => "timeout",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Body => "body",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Io => "io",
            ErrorKind::Status => "status",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed fetch: its [`ErrorKind`] and a message for people.
///
/// `Display` gives the message that goes into the record's `error` field.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The line is not a usable URL; the string says why.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The scheme (given) is not http or https.
    #[error("unsupported scheme: {0}")]
    UnsupportedScheme(String),
    /// The deadline expired; holds the configured timeout.
    #[error("timeout after {}s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The redirect limit was exceeded; holds the limit.
    #[error("too many redirects (limit {0})")]
    TooManyRedirects(u32),
    /// The run was interrupted.
    #[error("cancelled")]
    Cancelled,
    /// A name lookup that failed for a temporary reason (`EAI_AGAIN`: the
    /// resolver timed out or could not reach a name server). Kind `dns`, but
    /// worth another attempt (`--retries`), unlike a name that does not exist.
    #[error("{0}")]
    TemporaryDns(String),
    /// A `--input jsonl` line that is not a request spec; the message starts
    /// with `line N: `.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The response body went past `--max-size` bytes (decoded bytes with
    /// `--compressed`), or its `Content-Length` (`declared`) did.
    #[error("body larger than --max-size ({limit} bytes){}", declared.map(|n| format!(": Content-Length is {n}")).unwrap_or_default())]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The `Content-Length` that was over the limit, when the body was
        /// refused before reading.
        declared: Option<u64>,
    },
    /// An HTTP/1.x response with a body whose `Transfer-Encoding` is not
    /// exactly one `chunked` (see `http::body::check_framing`); holds the
    /// field values as received, joined with `, `, other bytes than printable
    /// ASCII escaped.
    #[error("unsupported Transfer-Encoding \"{0}\": only a single \"chunked\" is accepted")]
    TransferEncoding(String),
    /// A redirect (when followed) with `Location` fields that differ; holds
    /// their values in order, escaped as in [`FetchError::TransferEncoding`].
    #[error("conflicting Location fields: {}", .0.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", "))]
    ConflictingLocation(Vec<String>),
    /// The exchange completed, but its final status is not one the run
    /// accepts (`--accept`); holds the status.
    #[error("status {0} is not in --accept")]
    Status(u16),
    /// A transport error, already classified, with its full message.
    #[error("{message}")]
    Transport {
        /// The class found by walking the source chain.
        kind: ErrorKind,
        /// Every distinct message in the source chain, joined with `: `.
        message: String,
    },
}

impl FetchError {
    /// The kind this error is reported as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FetchError::InvalidUrl(_) => ErrorKind::InvalidUrl,
            FetchError::UnsupportedScheme(_) => ErrorKind::UnsupportedScheme,
            FetchError::Timeout(_) => ErrorKind::Timeout,
            FetchError::TooManyRedirects(_) => ErrorKind::TooManyRedirects,
            FetchError::Cancelled => ErrorKind::Cancelled,
            FetchError::TemporaryDns(_) => ErrorKind::Dns,
            FetchError::InvalidInput(_) => ErrorKind::InvalidInput,
            FetchError::BodyTooLarge { .. } => ErrorKind::BodyTooLarge,
            FetchError::Status(_) => ErrorKind::Status,
            FetchError::TransferEncoding(_) | FetchError::ConflictingLocation(_) => {
                ErrorKind::Protocol
            }
            FetchError::Transport { kind, .. } => *kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_message_uses_seconds() {
        assert_eq!(
            FetchError::Timeout(Duration::from_secs(5)).to_string(),
            "timeout after 5s"
        );
        assert_eq!(
            FetchError::Timeout(Duration::from_millis(1500)).to_string(),
            "timeout after 1.5s"
        );
    }

    #[test]
    fn kinds_serialise_as_their_names() {
        for kind in [
            ErrorKind::InvalidUrl,
            ErrorKind::TooManyRedirects,
            ErrorKind::BodyTooLarge,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ErrorKind::TooManyRedirects.as_str(), "too_many_redirects");
    }
}
