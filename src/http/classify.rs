//! Which [`ErrorKind`] a transport error is, and whether a failed request may
//! be sent again.
//!
//! hyper's errors print little ("connection error") and name no phase, so
//! the kind is found by walking the error's `source()` chain (inside
//! `io::Error`s too) for marker types that our own resolver, connector and
//! proxy code put there ([`DnsError`], [`ConnectError`], [`ProxyError`], see
//! `dns.rs`, `connect.rs` and `proxy.rs`), for the pool's [`PoolError`], for
//! `rustls::Error`, and for the `std::io::ErrorKind` underneath. Message text
//! is never matched.

use std::error::Error as StdError;
use std::io;

use super::pool::PoolError;
use crate::error::{ErrorKind, FetchError};

/// Classifies an error from `Client::request` (connect, request, response head).
pub(crate) fn request_error(err: &(dyn StdError + 'static)) -> FetchError {
    let kind = classify(err, Phase::Head);
    if kind == ErrorKind::Dns && chain(err).any(|e| e.is::<TemporaryDns>()) {
        return FetchError::TemporaryDns(chain_message(err));
    }
    FetchError::Transport {
        kind,
        message: chain_message(err),
    }
}

/// Whether a request error shows the request was not processed and may be
/// sent again on a new connection:
/// - a kept-alive HTTP/1.1 connection that the server closed just as the
///   request went out (not a connect error; closed or reset before any
///   response byte);
/// - a kept-alive HTTP/1.1 connection whose next bytes do not parse as a
///   response: most often bytes the previous response left behind (a body
///   on a `304` or `204`, which have none by RFC 9110 sec. 15.3.5,
///   15.4.5), so the request is sent once more on a new connection, where
///   a server that really answers badly gets its `protocol` failure;
/// - an HTTP/2 stream ended by the server's GOAWAY or refused with
///   `REFUSED_STREAM` (RFC 9113 sec. 6.8, 8.7).
///
/// The caller repeats only idempotent methods (GET, HEAD, PUT, DELETE,
/// OPTIONS, TRACE), which RFC 9110 sec. 9.2.2 allows to be repeated
/// automatically after a communication failure.
pub(crate) fn is_stale_connection(err: &(dyn StdError + 'static)) -> bool {
    let mut stale = false;
    // Whether the connection had already carried a response: a failure on
    // a connection's first request is the server's answer to that request
    // (a reset, a close), not a stale kept-alive connection, and is not
    // sent again: a server that resets a request must see it once.
    let mut reused = true;
    for e in chain(err) {
        if let Some(c) = e.downcast_ref::<PoolError>() {
            if c.is_connect() {
                return false;
            }
            reused = c.is_reused();
        }
        // On HTTP/2, only streams ended by the server's GOAWAY (NO_ERROR) or
        // refused with REFUSED_STREAM: those above the GOAWAY's last stream
        // id were not processed (RFC 9113 sec. 6.8). h2 reports the same
        // error for a stream cut off when that connection then closes, which
        // the server may have processed; idempotent methods may be repeated all
        // the same (idempotent, RFC 9110 sec. 9.2.2). A stream ended by a
        // plain I/O error is not sent again.
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                    || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR)));
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            stale |= h.is_incomplete_message() || h.is_parse();
        }
        if let Some(i) = e.downcast_ref::<io::Error>() {
            stale |= matches!(
                i.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
            );
        }
    }
    stale && reused
}

/// Whether `err` is an HTTP/2 stream the server did not process: refused
/// with REFUSED_STREAM, or ended by its GOAWAY (NO_ERROR) above the last
/// stream id it processed (RFC 9113 sec. 6.8, 8.7).
pub(crate) fn is_unprocessed_stream(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| e.downcast_ref::<h2::Error>().is_some_and(is_unprocessed))
}

/// REFUSED_STREAM, or the server's GOAWAY with NO_ERROR.
fn is_unprocessed(h2: &h2::Error) -> bool {
    h2.is_remote()
        && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
            || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR)))
}

/// Classifies an error raised while reading the response body.
pub(crate) fn body_error(err: &(dyn StdError + 'static)) -> FetchError {
    let kind = classify(err, Phase::Body);
    FetchError::Transport {
        kind,
        message: chain_message(err),
    }
}

/// Marker put in the source chain by our resolver: the name did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DnsError(#[source] pub(crate) super::BoxError);

/// Marker put in the source chain (under a [`DnsError`]) by our resolver when
/// the lookup failed for a temporary reason (`getaddrinfo`'s `EAI_AGAIN`), so
/// that `--retries` can tell it from a name that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemporaryDns(#[source] pub(crate) io::Error);

/// Marker put in the source chain by our TCP connector wrapper: the TCP
/// connection (after name resolution) failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(#[source] pub(crate) super::BoxError);

/// Marker put in the source chain by the connector: the proxy was reached but
/// refused or broke its `CONNECT` or SOCKS5 handshake (see `proxy.rs`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProxyError {
    /// What happened, naming the proxy (never its credentials).
    pub(crate) message: String,
    /// The I/O error underneath, if any.
    #[source]
    pub(crate) source: Option<super::BoxError>,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Head,
    Body,
}

/// Iterates over an error and its sources, looking inside `io::Error`s too
/// (`io::Error::source()` skips the error it wraps; `get_ref()` does not).
pub(crate) fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);
    std::iter::from_fn(move || {
        let cur = next?;
        next = match cur.downcast_ref::<io::Error>().and_then(|e| e.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => cur.source(),
        };
        Some(cur)
    })
}

fn classify(err: &(dyn StdError + 'static), phase: Phase) -> ErrorKind {
    let mut is_connect = false;
    let mut io_kind = None;
    let mut incomplete = false;
    let mut parse = false;
    for e in chain(err) {
        if e.is::<ProxyError>() {
            return ErrorKind::Proxy;
        }
        if e.is::<DnsError>() {
            return ErrorKind::Dns;
        }
        if e.is::<rustls::Error>() {
            return ErrorKind::Tls;
        }
        if e.is::<ConnectError>() {
            return ErrorKind::Connect;
        }
        if let Some(c) = e.downcast_ref::<PoolError>() {
            is_connect |= c.is_connect();
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            incomplete |= h.is_incomplete_message();
            parse |= h.is_parse() || h.is_parse_status();
            if h.is_timeout() && io_kind.is_none() {
                io_kind = Some(io::ErrorKind::TimedOut);
            }
        }
        if let Some(i) = e.downcast_ref::<io::Error>() {
            io_kind = Some(i.kind());
        }
    }
    if is_connect {
        // A connect-phase error that is neither DNS nor TCP came from the TLS
        // layer of the https connector (handshake I/O, bad server name).
        return ErrorKind::Tls;
    }
    if parse || incomplete {
        return ErrorKind::Protocol;
    }
    match io_kind {
        // A body that ends early (`Content-Length` not reached, chunked body cut
        // off) or a malformed chunk header.
        Some(
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput,
        ) => ErrorKind::Protocol,
        Some(_) if phase == Phase::Body => ErrorKind::Body,
        Some(_) => ErrorKind::Io,
        // hyper body errors without an io::Error underneath (e.g. h2 stream reset).
        None if phase == Phase::Body => ErrorKind::Body,
        None => ErrorKind::Protocol,
    }
}

/// Joins the distinct messages of an error chain with `: ` so that the record
/// says more than hyper-util's top-level "client error (Connect)". A rustls
/// error becomes a sentence ([`super::tls::error_message`]) rather than its
/// `Display`, which shows Rust debug text.
fn chain_message(err: &(dyn StdError + 'static)) -> String {
    // The errors wrapping a rustls error (an io::Error, the connector's)
    // print its `Display` as part of theirs: it is replaced there too.
    let tls = chain(err)
        .find_map(|e| e.downcast_ref::<rustls::Error>())
        .map(|tls| (tls.to_string(), super::tls::error_message(tls)));
    let handshake_eof = chain(err).any(is_handshake_eof);
    let mut out = String::new();
    let mut last = String::new();
    for e in chain(err) {
        // The pool's "connection failed" says nothing its sources don't.
        if e.is::<PoolError>() && e.source().is_some() {
            continue;
        }
        let mut msg = e.to_string();
        if handshake_eof {
            msg = msg.replace(HANDSHAKE_EOF, HANDSHAKE_EOF_SENTENCE);
        }
        if let Some((raw, sentence)) = &tls {
            msg = msg.replace(raw.as_str(), sentence);
        }
        if msg.is_empty() || last.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
        last = msg;
    }
    out
}

/// What the TLS layer (tokio-rustls) says when the peer closed the
/// connection before the handshake ended, as an `UnexpectedEof` error; the
/// errors wrapping it repeat it.
const HANDSHAKE_EOF: &str = "tls handshake eof";

/// [`HANDSHAKE_EOF`] as the record says it.
const HANDSHAKE_EOF_SENTENCE: &str = "the server closed the connection during the TLS handshake";

fn is_handshake_eof(e: &(dyn StdError + 'static)) -> bool {
    e.downcast_ref::<io::Error>().is_some_and(|io| {
        io.kind() == io::ErrorKind::UnexpectedEof && io.to_string() == HANDSHAKE_EOF
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_found_inside_io_errors() {
        let dns = io::Error::other(DnsError("no such host".into()));
        assert_eq!(classify(&dns, Phase::Head), ErrorKind::Dns);
        let again = io::Error::other(DnsError(Box::new(TemporaryDns(io::Error::other("again")))));
        let e = request_error(&again);
        assert_eq!(e.kind(), ErrorKind::Dns);
        assert!(matches!(e, FetchError::TemporaryDns(_)), "{e:?}");
        assert_eq!(e.to_string(), "again");
        let e = request_error(&dns);
        assert_eq!(e.kind(), ErrorKind::Dns);
        assert!(matches!(e, FetchError::Transport { .. }), "{e:?}");
        let conn = ConnectError(Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)));
        assert_eq!(classify(&conn, Phase::Head), ErrorKind::Connect);
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(classify(&tls, Phase::Head), ErrorKind::Tls);
        let proxy = io::Error::other(ProxyError {
            message: "refused with 403 Forbidden".into(),
            source: Some(Box::new(io::Error::from(io::ErrorKind::ConnectionReset))),
        });
        assert_eq!(classify(&proxy, Phase::Head), ErrorKind::Proxy);
    }

    #[test]
    fn io_kinds_by_phase() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&reset, Phase::Body), ErrorKind::Body);
        assert_eq!(classify(&reset, Phase::Head), ErrorKind::Io);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify(&eof, Phase::Body), ErrorKind::Protocol);
    }

    #[test]
    fn tls_errors_become_sentences_along_the_chain() {
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        assert_eq!(chain_message(&tls), "certificate expired");
        // A wrapper that prints rustls's text in its own says the sentence too.
        let wrapped = ProxyError {
            message: format!("TLS to the proxy failed: {tls}"),
            source: Some(Box::new(tls)),
        };
        assert_eq!(
            chain_message(&wrapped),
            "TLS to the proxy failed: certificate expired"
        );
    }

    #[test]
    fn chain_message_skips_repeats() {
        let inner = io::Error::other("connection refused");
        let outer = ConnectError(Box::new(inner));
        assert_eq!(chain_message(&outer), "connection refused");
    }
}
