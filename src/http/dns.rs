//! Name resolution: `getaddrinfo` on tokio's blocking pool, with the RFC 6761
//! special names answered without a query.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use tower_service::Service;

use crate::error::{DnsError, TemporaryDns};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Name resolution with RFC 6761 special cases and a [`DnsError`] marker:
/// `getaddrinfo` on a blocking thread (as hyper-util's `GaiResolver`), through
/// dns-lookup so that its error code is kept: a temporary failure
/// (`EAI_AGAIN`) is also marked [`TemporaryDns`], which `--retries` retries.
#[derive(Clone, Debug, Default)]
pub struct Resolver;

impl Resolver {
    pub(crate) fn new() -> Self {
        Resolver
    }
}

/// `getaddrinfo(host)` for stream sockets; the port is set by the connector.
fn lookup(host: &str) -> Result<Vec<SocketAddr>, DnsError> {
    let hints = dns_lookup::AddrInfoHints {
        socktype: dns_lookup::SockType::Stream.into(),
        ..Default::default()
    };
    match dns_lookup::getaddrinfo(Some(host), None, Some(hints)) {
        Ok(found) => found
            .map(|a| a.map(|a| a.sockaddr))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DnsError(Box::new(e))),
        Err(e) if matches!(e.kind(), dns_lookup::LookupErrorKind::Again) => {
            Err(DnsError(Box::new(TemporaryDns(e.into()))))
        }
        Err(e) => Err(DnsError(Box::new(std::io::Error::from(e)))),
    }
}

pub(crate) fn special_name(host: &str) -> Option<Result<Vec<SocketAddr>, DnsError>> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "invalid" || host.ends_with(".invalid") {
        return Some(Err(DnsError(
            format!("{host}: names under .invalid never resolve (RFC 6761 sec. 6.4)").into(),
        )));
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        ]));
    }
    None
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = BoxFuture<Result<Self::Response, DnsError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(answer) = special_name(name.as_str()) {
            return Box::pin(async move { answer.map(Vec::into_iter) });
        }
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || lookup(&host)).await {
                Ok(found) => found.map(Vec::into_iter),
                Err(e) => Err(DnsError(Box::new(e))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6761_names() {
        assert!(matches!(
            special_name("this-host-does-not-exist.invalid"),
            Some(Err(_))
        ));
        assert!(matches!(special_name("INVALID."), Some(Err(_))));
        assert_eq!(special_name("a.localhost").unwrap().unwrap().len(), 2);
        assert!(special_name("example.com").is_none());
    }
}
