//! Request specs: the `--input jsonl` line format, and the method and header
//! rules it shares with `-X` and `-H`.
//!
//! A spec is one JSON object on one line:
//!
//! ```text
//! {"url": "https://example.com/a", "method": "PUT", "headers": {"X-Id": "7"}, "body": "a=1", "id": 42}
//! ```
//!
//! - `url` (string, required): the URL, with the same rules as a text line.
//! - `method` (string): an RFC 9110 method token, sent as given; replaces `-X`.
//! - `headers` (object of string values): sent after the `-H` fields,
//!   replacing those of the same name; the same rules as `-H`.
//! - `body` (string): sent as UTF-8; replaces `-d`. Without a `method` the
//!   request is then a POST (curl's `-d` rule).
//! - `null` for `method`, `headers` or `body` means "not given".
//! - Every other key is copied into the record (order and every digit of a
//!   number kept, thanks to serde_json's `preserve_order` and
//!   `arbitrary_precision`; the text is written anew, so `1e5` comes back as
//!   `1e+5`; a key given twice keeps its last value; nesting deeper than
//!   127 levels, the line's own object counting as one, is refused:
//!   serde_json's recursion limit of 128 counts down to 0 at the 128th), after the record's own keys, so results join back to the
//!   caller's data. A key that is also a record key (`type`, `status`, …, see
//!   [`crate::result::RECORD_KEYS`]) would give the record two such keys: the line is refused
//!   instead, naming the key.
//!
//! [`parse_spec`] is a pure function from a line's text to a spec or a
//! [`BadSpec`], so it can be unit-tested and fuzzed apart from any I/O.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::Method;
use serde_json::Value;

use crate::result::{Passthrough, RECORD_KEYS};

/// Parses a request method: any RFC 9110 token (sec. 9.1, 5.6.2), case kept
/// (methods are case-sensitive; `get` is not `GET`), as curl's `-X`, except
/// `CONNECT`.
///
/// # Errors
/// A message when `s` is empty, has a character outside `tchar`, or is
/// `CONNECT`: its request target is a `host:port` (RFC 9110 sec. 9.3.6), so
/// the URL's path could not be sent, and it opens a tunnel rather than
/// fetching anything (proxies are set with `--proxy`).
pub fn method(s: &str) -> Result<Method, String> {
    if s.is_empty() {
        return Err("the method must not be empty".into());
    }
    if s == "CONNECT" {
        return Err(
            "CONNECT opens a tunnel and cannot fetch a URL; for a proxy use --proxy".into(),
        );
    }
    Method::from_bytes(s.as_bytes())
        .map_err(|_| format!("'{s}' is not a method (an RFC 9110 token, e.g. GET or PROPFIND)"))
}

/// Checks one request header field given by the user (`-H` or a spec's
/// `headers`): a valid name (an RFC 9110 token), a value without CR, LF or
/// other control characters, and not `Content-Length` or `Transfer-Encoding`.
///
/// Message framing is the client's job (RFC 9112 sec. 6): a user
/// `Content-Length` would desynchronise a kept-alive connection, and
/// `Transfer-Encoding` would not be honoured.
///
/// # Errors
/// A message naming the field.
pub fn header_field(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    if name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
        return Err("header must not contain CR or LF".into());
    }
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{name}' is not a valid header name"))?;
    if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
        return Err(format!(
            "'{name}' is set by fetcher-stream itself and cannot be given"
        ));
    }
    let value =
        HeaderValue::from_str(value).map_err(|_| format!("invalid value for header '{name}'"))?;
    Ok((name, value))
}

/// What a `--input jsonl` line may set for its own request, beyond `url`.
/// Unset parts fall back to the run's flags.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    /// `"method"`: replaces `-X` for this line.
    pub method: Option<http::Method>,
    /// `"headers"`: added after (and replacing same-named) `-H` fields.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `"body"`: replaces `-d` for this line.
    pub body: Option<Bytes>,
    /// Every other key, copied unchanged into the record.
    pub extra: Option<Box<Passthrough>>,
    /// The line's key ([`crate::result::line_key`] of the line as read),
    /// written as the record's `spec_hash`; set by the input reader for
    /// every `--input jsonl` line, a spec or not.
    pub spec_hash: Option<u64>,
}

/// A request spec read from one line.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The `url` member, as given.
    pub url: String,
    /// Everything else.
    pub request: RequestSpec,
}

/// Why a line is not a request spec, with what could be kept for its record.
#[derive(Debug, Clone, PartialEq)]
pub struct BadSpec {
    /// What is wrong, for the record's `error` (without the line number).
    pub message: String,
    /// The `url` member, when the line had a string one.
    pub url: Option<String>,
    /// The pass-through keys that were fine, so the failure record still
    /// joins back to the caller's data; `None` when there are none.
    pub extra: Option<Box<Passthrough>>,
}

impl BadSpec {
    fn new(message: impl Into<String>) -> BadSpec {
        BadSpec {
            message: message.into(),
            url: None,
            extra: None,
        }
    }
}

/// The JSON type of a value, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The deepest nesting a line may have, its own object being level 1:
/// serde_json's recursion limit (128) refuses the 128th level.
const MAX_NESTING: usize = 127;

/// The [`BadSpec`] of a line serde_json refuses: its message, or for
/// nesting past serde_json's recursion limit, the limit in this crate's
/// terms (levels, the line's object counting as one).
fn not_json(e: serde_json::Error) -> BadSpec {
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return BadSpec::new(format!(
            "nested deeper than {MAX_NESTING} levels at column {}",
            e.column()
        ));
    }
    BadSpec::new(format!("not JSON: {message}"))
}

/// Parses one `--input jsonl` line (already trimmed, not blank) into a spec.
///
/// Pure and total: any text gives a [`Spec`] or a [`BadSpec`], never a panic.
///
/// # Errors
/// A [`BadSpec`] when the line is not JSON, not an object, has no string
/// `url`, a bad `method`, `headers` or `body`, or a pass-through key that is
/// a record key.
pub fn parse_spec(text: &str) -> Result<Spec, BadSpec> {
    let value: Value = serde_json::from_str(text).map_err(not_json)?;
    let Value::Object(mut obj) = value else {
        return Err(BadSpec::new(format!(
            "expected a JSON object, got {}",
            type_name(&value)
        )));
    };
    let url = obj.shift_remove("url");
    let method = obj.shift_remove("method");
    let headers = obj.shift_remove("headers");
    let body = obj.shift_remove("body");
    let clash = RECORD_KEYS.iter().find(|k| obj.contains_key(**k));
    let mut bad = BadSpec::new("");
    if let Some(key) = clash {
        for key in RECORD_KEYS {
            obj.shift_remove(key);
        }
        bad.message =
            format!("key \"{key}\" is a record key and cannot be passed through; rename it");
    }
    bad.extra = (!obj.is_empty()).then(|| Box::new(obj));
    let url = match url {
        // Trimmed like a text line, so `url` in the record is the same.
        Some(Value::String(u)) => match u.trim() {
            t if t.len() == u.len() => u,
            t => t.to_owned(),
        },
        Some(v) => {
            bad.message = format!("\"url\" must be a string, got {}", type_name(&v));
            return Err(bad);
        }
        None => {
            bad.message = "no \"url\" key".into();
            return Err(bad);
        }
    };
    bad.url = Some(url);
    if clash.is_some() {
        return Err(bad);
    }
    let mut request = RequestSpec::default();
    let fail = |mut bad: BadSpec, message: String| {
        bad.message = message;
        Err(bad)
    };
    match method {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) => match self::method(&m) {
            Ok(m) => request.method = Some(m),
            Err(e) => return fail(bad, format!("\"method\": {e}")),
        },
        Some(v) => {
            let got = type_name(&v);
            return fail(bad, format!("\"method\" must be a string, got {got}"));
        }
    }
    match headers {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, value) in fields {
                let Value::String(value) = value else {
                    let got = type_name(&value);
                    return fail(
                        bad,
                        format!("\"headers\": the value of '{name}' must be a string, got {got}"),
                    );
                };
                match header_field(&name, &value) {
                    Ok(field) => request.headers.push(field),
                    Err(e) => return fail(bad, format!("\"headers\": {e}")),
                }
            }
        }
        Some(v) => {
            let got = type_name(&v);
            return fail(bad, format!("\"headers\" must be an object, got {got}"));
        }
    }
    match body {
        None | Some(Value::Null) => {}
        Some(Value::String(b)) => request.body = Some(Bytes::from(b)),
        Some(v) => {
            let got = type_name(&v);
            return fail(bad, format!("\"body\" must be a string, got {got}"));
        }
    }
    request.extra = bad.extra;
    Ok(Spec {
        url: bad.url.unwrap_or_default(),
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_up_to_the_limit_is_kept_and_one_more_is_refused() {
        // The limit the README and the man page give.
        const MAX_NESTING: usize = 127;
        // The line's object is level 1; `x` holds the other levels.
        let line = |levels: usize| {
            let inner = levels - 1;
            format!(
                r#"{{"url":"http://a/","x":{}{}}}"#,
                "[".repeat(inner),
                "]".repeat(inner)
            )
        };
        let spec = parse_spec(&line(MAX_NESTING)).unwrap();
        assert_eq!(spec.url, "http://a/");
        let err = parse_spec(&line(MAX_NESTING + 1)).unwrap_err();
        assert_eq!(
            err.message,
            // Column 150: the `[` that opens level 128.
            "nested deeper than 127 levels at column 150"
        );
    }

    fn ok(line: &str) -> Spec {
        parse_spec(line).unwrap_or_else(|e| panic!("{line}: {}", e.message))
    }

    fn bad(line: &str) -> BadSpec {
        match parse_spec(line) {
            Ok(s) => panic!("{line} parsed as {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_full_spec() {
        let s = ok(
            r#"{"url":"http://a/x","method":"PUT","headers":{"X-A":"1","Content-Type":"text/plain"},"body":"hé","id":42}"#,
        );
        assert_eq!(s.url, "http://a/x");
        assert_eq!(s.request.method, Some(Method::PUT));
        assert_eq!(s.request.headers.len(), 2);
        assert_eq!(s.request.headers[0].0, "x-a");
        assert_eq!(s.request.headers[1].1, "text/plain");
        assert_eq!(s.request.body.as_deref(), Some("hé".as_bytes()));
        let extra = s.request.extra.unwrap();
        assert_eq!(serde_json::to_string(&extra).unwrap(), r#"{"id":42}"#);
    }

    #[test]
    fn url_alone_and_nulls() {
        assert_eq!(ok(r#"{"url":"  http://a/  "}"#).url, "http://a/");
        let s = ok(r#"{"url":"a.test","method":null,"headers":null,"body":null}"#);
        assert_eq!(s.url, "a.test");
        assert!(s.request.method.is_none() && s.request.body.is_none());
        assert!(s.request.headers.is_empty() && s.request.extra.is_none());
    }

    #[test]
    fn pass_through_keys_round_trip_exactly() {
        let line = r#"{"z":1,"url":"u","a":{"y":[1.50,-0,1e5,12345678901234567890123],"x":"\u00e9"},"m":null,"b":true}"#;
        let extra = ok(line).request.extra.unwrap();
        assert_eq!(
            serde_json::to_string(&extra).unwrap(),
            // Digits are kept as written; only an exponent gains its sign.
            r#"{"z":1,"a":{"y":[1.50,-0,1e+5,12345678901234567890123],"x":"é"},"m":null,"b":true}"#
        );
    }

    #[test]
    fn lines_that_are_not_specs() {
        assert!(bad("nope").message.starts_with("not JSON: "));
        assert!(bad(r#"{"url":"u""#).message.starts_with("not JSON: "));
        assert_eq!(bad("[1]").message, "expected a JSON object, got an array");
        assert_eq!(
            bad(r#""u""#).message,
            "expected a JSON object, got a string"
        );
        assert_eq!(bad("{}").message, "no \"url\" key");
        let e = bad(r#"{"url":7,"id":1}"#);
        assert_eq!(e.message, "\"url\" must be a string, got a number");
        assert_eq!(e.url, None);
        assert_eq!(serde_json::to_string(&e.extra).unwrap(), r#"{"id":1}"#);
    }

    #[test]
    fn bad_method_headers_and_body_keep_url_and_extra() {
        let e = bad(r#"{"url":"http://a/","method":"GE T","id":"x"}"#);
        assert!(
            e.message.starts_with("\"method\": 'GE T' is not a method"),
            "{}",
            e.message
        );
        assert_eq!(e.url.as_deref(), Some("http://a/"));
        assert_eq!(serde_json::to_string(&e.extra).unwrap(), r#"{"id":"x"}"#);
        for (line, msg) in [
            (r#"{"url":"u","method":""}"#, "\"method\": the method must not be empty"),
            (r#"{"url":"u","method":1}"#, "\"method\" must be a string, got a number"),
            (r#"{"url":"u","headers":[]}"#, "\"headers\" must be an object, got an array"),
            (
                r#"{"url":"u","headers":{"X":1}}"#,
                "\"headers\": the value of 'X' must be a string, got a number",
            ),
            (
                r#"{"url":"u","headers":{"bad name":"1"}}"#,
                "\"headers\": 'bad name' is not a valid header name",
            ),
            (
                r#"{"url":"u","headers":{"X":"a\r\nB: c"}}"#,
                "\"headers\": header must not contain CR or LF",
            ),
            (
                r#"{"url":"u","headers":{"X":"\u0000"}}"#,
                "\"headers\": invalid value for header 'x'",
            ),
            (
                r#"{"url":"u","headers":{"Content-Length":"3"}}"#,
                "\"headers\": 'content-length' is set by fetcher-stream itself and cannot be given",
            ),
            (
                r#"{"url":"u","headers":{"transfer-encoding":"chunked"}}"#,
                "\"headers\": 'transfer-encoding' is set by fetcher-stream itself and cannot be given",
            ),
            (r#"{"url":"u","body":{"a":1}}"#, "\"body\" must be a string, got an object"),
        ] {
            assert_eq!(bad(line).message, msg, "{line}");
        }
    }

    #[test]
    fn record_keys_are_refused_by_name() {
        // `headers` is also a spec's own key (its request fields), so it
        // never reaches the pass-through keys.
        for key in RECORD_KEYS.into_iter().filter(|k| *k != "headers") {
            let e = bad(&format!(r#"{{"url":"u","{key}":1,"id":2}}"#));
            assert_eq!(
                e.message,
                format!("key \"{key}\" is a record key and cannot be passed through; rename it")
            );
            assert_eq!(e.url.as_deref(), Some("u"));
            assert_eq!(serde_json::to_string(&e.extra).unwrap(), r#"{"id":2}"#);
        }
    }

    #[test]
    fn method_tokens() {
        assert_eq!(method("get").unwrap().as_str(), "get");
        assert_eq!(method("M-SEARCH").unwrap().as_str(), "M-SEARCH");
        assert!(method("GET\n").is_err());
        assert!(method("a:b").is_err());
    }

    #[test]
    fn odd_text_is_refused_with_a_reason() {
        for (line, reason) in [
            ("", "not JSON"),
            (" ", "not JSON"),
            ("{", "not JSON"),
            ("}", "not JSON"),
            ("null", "expected a JSON object, got null"),
            ("1e999999", "expected a JSON object, got a number"),
            ("\"\\ud800\"", "not JSON"),
            ("{\"url\":\"\\ud800\"}", "not JSON"),
        ] {
            let bad = parse_spec(line).unwrap_err();
            assert!(bad.message.starts_with(reason), "{line:?}: {}", bad.message);
        }
    }
}
