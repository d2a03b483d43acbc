//! `--connect-timeout`: a deadline on establishing a connection, as curl's
//! option has.
//!
//! [`ConnectTimeout`] wraps the whole connector (name resolution, TCP connect
//! and, for https, the TLS handshake), so a server that accepts the TCP
//! connection but never finishes the handshake is caught as well as one that
//! never answers the SYN. It is separate from the per-URL `--timeout`, which
//! still covers everything; whichever expires first ends the URL.
//!
//! Expiry is reported as a `connect` failure (not `timeout`): the server was
//! never reached at the HTTP level, and scripts can tell "could not connect in
//! time" from "the exchange was too slow". The error carries a
//! [`ConnectError`] marker, so `classify.rs` classifies it by type.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use tower_service::Service;

use super::classify::ConnectError;

use super::BoxError;

/// A connector whose connections must be established within `limit`
/// (`None`: no limit of its own). Cheap to clone when the inner one is.
#[derive(Clone, Debug)]
pub struct ConnectTimeout<C> {
    inner: C,
    limit: Option<Duration>,
}

impl<C> ConnectTimeout<C> {
    /// Wraps `inner`; `limit` is the most time one connection may take, from
    /// the start of name resolution to the end of the TLS handshake.
    pub fn new(inner: C, limit: Option<Duration>) -> Self {
        ConnectTimeout { inner, limit }
    }
}

/// The error of a connection not established within the limit: an
/// `io::ErrorKind::TimedOut` inside a [`ConnectError`] marker.
fn expired(limit: Duration) -> BoxError {
    Box::new(ConnectError(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!(
            "connection not established within {}s (--connect-timeout)",
            limit.as_secs_f64()
        ),
    ))))
}

impl<C> Service<Uri> for ConnectTimeout<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connect = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connect.await.map_err(Into::into),
                Some(limit) => match tokio::time::timeout(limit, connect).await {
                    Ok(r) => r.map_err(Into::into),
                    Err(_) => Err(expired(limit)),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_a_connect_error_with_a_clear_message() {
        let e = expired(Duration::from_millis(1500));
        assert!(e.is::<ConnectError>());
        assert_eq!(
            e.to_string(),
            "connection not established within 1.5s (--connect-timeout)"
        );
    }
}
