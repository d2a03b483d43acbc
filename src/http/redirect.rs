//! Redirects (RFC 9110 sec. 15.4): which statuses redirect, where to, and
//! what to do with the body of the response that redirected.

use std::time::Duration;

use http::header::{self, HeaderMap};
use http::StatusCode;
use http_body_util::BodyExt;
use url::Url;

use super::pool::PoolBody;
use crate::error::FetchError;

/// Whether `status` is a redirect that is followed: 301, 302, 303, 307, 308.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Largest redirect body read (and dropped) so the connection can be reused.
const MAX_DRAINED_REDIRECT_BODY: u64 = 64 * 1024;

/// Longest wait for a small redirect body before giving up on reusing the
/// connection.
const REDIRECT_DRAIN_WAIT: Duration = Duration::from_millis(100);

/// Resolves `Location` against the current URL (RFC 3986 sec. 5). Bytes
/// outside ASCII (UTF-8 or not, e.g. a raw latin-1 byte) are percent-encoded
/// byte by byte, as curl does, before the URL parser sees them. `Ok(None)`
/// when there is no usable `Location`.
///
/// # Errors
/// [`FetchError::ConflictingLocation`] (kind `protocol`) when the response
/// has several `Location` fields that differ: RFC 9110 sec. 10.2.2 allows
/// one URI, and choosing one of them would let whichever copy came first
/// decide (curl follows the first and ignores the rest). Several identical
/// fields are followed, as Chromium does (it refuses only differing ones,
/// `ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION`): they say one thing.
pub(crate) fn redirect_target(
    current: &Url,
    headers: &HeaderMap,
) -> Result<Option<Url>, FetchError> {
    let mut fields = headers.get_all(header::LOCATION).iter();
    let Some(first) = fields.next() else {
        return Ok(None);
    };
    if fields.any(|v| v != first) {
        let values = headers
            .get_all(header::LOCATION)
            .iter()
            .map(|v| v.as_bytes().escape_ascii().to_string())
            .collect();
        return Err(FetchError::ConflictingLocation(values));
    }
    Ok(resolve_location(current, first.as_bytes()))
}

/// Resolves one `Location` value against `current` (RFC 3986 sec. 5), bytes
/// outside ASCII percent-encoded byte by byte, as curl does. `None` when the
/// value is empty (or blank) or does not resolve to a URL.
pub(crate) fn resolve_location(current: &Url, value: &[u8]) -> Option<Url> {
    let raw = value.trim_ascii();
    if raw.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii() {
            text.push(b as char);
        } else {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    current.join(&text).ok()
}

/// Reads a small redirect body to its end so the connection returns to the
/// pool, and returns it; a large or unknown-length one is dropped (the
/// connection is closed), and so is one that fails or takes too long: then
/// `None`.
pub(crate) async fn drain_small(body: PoolBody) -> Option<bytes::Bytes> {
    use hyper::body::Body as _;
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|n| n <= MAX_DRAINED_REDIRECT_BODY);
    if !small {
        return None;
    }
    match tokio::time::timeout(REDIRECT_DRAIN_WAIT, body.collect()).await {
        Ok(Ok(collected)) => Some(collected.to_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn location_resolution() {
        let base = Url::parse("http://h:1/a/b?q").unwrap();
        let target = |loc: &[&[u8]]| {
            let mut h = HeaderMap::new();
            for v in loc {
                h.append(header::LOCATION, HeaderValue::from_bytes(v).unwrap());
            }
            redirect_target(&base, &h)
        };
        let url = |loc: &[&[u8]]| target(loc).unwrap().map(String::from);
        assert_eq!(url(&[b"../c"]).unwrap(), "http://h:1/c");
        assert_eq!(url(&[b"//other:2/x"]).unwrap(), "http://other:2/x");
        assert_eq!(url(&[b"/caf\xc3\xa9"]).unwrap(), "http://h:1/caf%C3%A9");
        assert_eq!(url(&[]), None);
        assert_eq!(url(&[b""]), None);
        // Identical fields say one thing; differing ones are refused.
        assert_eq!(url(&[b"/d", b"/d"]).unwrap(), "http://h:1/d");
        let e = target(&[b"/d", b"/e\xe9"]).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Protocol);
        assert_eq!(
            e.to_string(),
            r#"conflicting Location fields: "/d", "/e\xe9""#
        );
    }
}
