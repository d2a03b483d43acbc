//! Name resolution for the connector: the system resolver (`getaddrinfo`, so
//! `/etc/hosts`, `nsswitch.conf` and `resolv.conf` apply as they do for curl)
//! run on tokio's blocking pool, with one query per name at a time and a small
//! cache in front of it.
//!
//! A list of URLs often names the same few hosts thousands of times, and many
//! of those requests start together: without help, each would block a thread
//! in `getaddrinfo` for the same answer. So [`Resolver`]:
//! - answers `localhost`, `*.localhost` and `*.invalid` without a query
//!   (RFC 6761 sec. 6.3, 6.4), and IP literals as themselves;
//! - lets concurrent lookups of one name share one query (single flight): the
//!   first caller starts it, later ones wait for the same answer, or the same
//!   error;
//! - keeps answers for [`POSITIVE_TTL`] and failures for [`NEGATIVE_TTL`]
//!   (temporary failures not at all, so that `--retries` asks again), in an LRU
//!   cache of at most [`CACHE_CAPACITY`] names;
//! - counts queries sent, cache hits and joined queries ([`Resolver::stats`]).
//!
//! Failures carry the [`DnsError`] marker, and a temporary one (`EAI_AGAIN`)
//! also [`TemporaryDns`] underneath, which `classify.rs` finds by walking the
//! `source()` chain. `--resolve` overrides are applied by the connector before
//! it asks the resolver.
//!
//! This module depends only on `crate::error` and external crates.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{FutureExt, Shared};
use hyper_util::client::legacy::connect::dns::Name;
use tokio::time::Instant;
use tower_service::Service;

use super::classify::{DnsError, TemporaryDns};

/// How long an answer is reused: 60 seconds.
///
/// `getaddrinfo` does not report the record's TTL, so a fixed time is used.
/// A run over a list is short, so a minute rarely outlives a real change, and
/// it is what curl's own DNS cache keeps entries for by default
/// (`CURLOPT_DNS_CACHE_TIMEOUT`), so a run sees names as curl would.
pub const POSITIVE_TTL: Duration = Duration::from_secs(60);

/// How long a failure that is not temporary (the name does not exist, has no
/// address, or the resolver refused it for good) is reused: 5 seconds.
///
/// Long enough that a burst of URLs on a dead host costs one query, short
/// enough that a name being created is seen soon. Temporary failures
/// (`EAI_AGAIN`) are not cached at all: `--retries` waits a random time that
/// may be close to zero (full jitter) and must get a new query.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// Most names kept in the cache: 10,000, the least recently used dropped
/// first.
///
/// An entry is a name (at most 253 bytes) and a few addresses, so the cache
/// stays within a few MB however many distinct hosts the input names
/// (10^6 distinct hosts do not grow it), while a working set of hosts much
/// larger than any useful `-c` still fits.
pub const CACHE_CAPACITY: usize = 10_000;

/// Threads the blocking pool keeps on top of the concurrency: for stdin and
/// file reads, and lookups whose requests already gave up (a lookup cannot be
/// cancelled; it finishes and fills the cache).
const BLOCKING_HEADROOM: usize = 64;

/// tokio's default `max_blocking_threads`.
const TOKIO_DEFAULT_BLOCKING_THREADS: usize = 512;

/// The `max_blocking_threads` for a runtime that runs up to `concurrency`
/// requests at once: `concurrency` + 64, and at least tokio's default of 512.
///
/// Each name being looked up holds one blocking thread for the whole
/// `getaddrinfo` call, and up to `concurrency` distinct names can be in
/// flight; with fewer threads, lookups would queue behind slow ones and a
/// slow DNS server would cap the concurrency below `-c`. Threads are started
/// only when needed and end after 10 s idle.
pub fn max_blocking_threads(concurrency: usize) -> usize {
    concurrency
        .saturating_add(BLOCKING_HEADROOM)
        .max(TOKIO_DEFAULT_BLOCKING_THREADS)
}

/// A blocking lookup function: a host name to its addresses, or a
/// [`DnsError`] (marked [`TemporaryDns`] underneath when worth retrying).
/// The default is [`getaddrinfo`]; tests inject their own.
pub type LookupFn = Arc<dyn Fn(&str) -> Result<Vec<IpAddr>, DnsError> + Send + Sync>;

/// Counts of what [`Resolver::resolve`] did with names that needed the
/// resolver (not IP literals nor RFC 6761 names). Each field counts lookups
/// since the resolver was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// Lookups sent to the system resolver (or the injected lookup function).
    pub queries: u64,
    /// Lookups answered from the cache, answers and cached failures alike.
    pub cached: u64,
    /// Lookups that waited for a query another lookup of the same name had
    /// already started.
    pub joined: u64,
}

/// The resolver: `getaddrinfo` on tokio's blocking pool (as hyper-util's
/// `GaiResolver`), with RFC 6761 names, single flight and a cache (see the
/// module docs).
///
/// Cloning is cheap and clones share the cache and the counters. It is a
/// `tower_service::Service<Name>` for hyper-util's `HttpConnector`, and
/// [`Resolver::resolve`] serves other callers.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

/// What all clones of a [`Resolver`] share.
struct Inner {
    /// The blocking lookup, called on the blocking pool.
    lookup: LookupFn,
    /// Lookups running at once, each on a blocking-pool thread: kept
    /// [`BLOCKING_HEADROOM`] below the pool's size, so that lookups that hang
    /// (a DNS server that never answers holds a thread for the resolver's
    /// whole timeout) never take the threads that read the input.
    threads: Arc<tokio::sync::Semaphore>,
    /// The cache and the queries in flight, under one lock held only briefly
    /// (never across an `.await` or a lookup).
    state: Mutex<State>,
    /// The [`DnsStats`] fields, counted by [`Resolver::resolve`] under the
    /// state lock and read without it. `queries` may be shared with the
    /// client's [`super::ClientStats`] (see [`Resolver::for_client`]).
    queries: Arc<AtomicU64>,
    cached: AtomicU64,
    joined: AtomicU64,
}

/// The outcome of one query, shared by every lookup that waited for it and
/// by the cache. Errors are not `Clone`, so one `Arc` is shared and each
/// caller gets a new [`DnsError`] around it ([`share_answer`]).
type Answer = Result<Arc<[IpAddr]>, Arc<DnsError>>;

/// A query in flight, which any number of lookups can await.
type Query = Shared<Pin<Box<dyn Future<Output = Answer> + Send>>>;

struct State {
    /// Finished answers by [`cache_key`], least recently used evicted first.
    /// `lru` is a small, widely used crate (O(1) get and put on a hash map with
    /// an intrusive list); it builds on our `rust-version`.
    cache: lru::LruCache<Box<str>, Cached>,
    /// Queries started and not finished, by [`cache_key`]. At most one per
    /// name; an entry is removed by the query's own task when it finishes, so
    /// this holds at most as many names as there are lookups in flight.
    in_flight: HashMap<Box<str>, Query>,
}

struct Cached {
    answer: Answer,
    /// When the entry stops being used (tokio's clock, so tests can pause it).
    expires: Instant,
}

impl Resolver {
    /// A resolver that asks the system resolver ([`getaddrinfo`]), with an
    /// empty cache of [`CACHE_CAPACITY`] names.
    pub fn new() -> Resolver {
        Resolver::with_lookup(Arc::new(getaddrinfo))
    }

    /// A resolver that calls `lookup` (on tokio's blocking pool) instead of
    /// the system resolver; the special names, single flight and the cache
    /// work as with [`Resolver::new`]. For tests and embedding.
    pub fn with_lookup(lookup: LookupFn) -> Resolver {
        Resolver::build(
            lookup,
            TOKIO_DEFAULT_BLOCKING_THREADS - BLOCKING_HEADROOM,
            Arc::default(),
        )
    }

    /// The resolver of a client for `concurrency` requests in flight, on a
    /// runtime whose blocking pool has [`max_blocking_threads`]`(concurrency)`
    /// threads: `lookup` ([`getaddrinfo`] in the binary), at most that less
    /// 64 (`BLOCKING_HEADROOM`) lookups at once, and its queries counted in
    /// `queries` (which [`DnsStats::queries`] then reads).
    pub fn for_client(concurrency: usize, lookup: LookupFn, queries: Arc<AtomicU64>) -> Resolver {
        Resolver::build(
            lookup,
            max_blocking_threads(concurrency) - BLOCKING_HEADROOM,
            queries,
        )
    }

    fn build(lookup: LookupFn, threads: usize, queries: Arc<AtomicU64>) -> Resolver {
        let capacity = NonZeroUsize::new(CACHE_CAPACITY).expect("CACHE_CAPACITY is not 0");
        Resolver {
            inner: Arc::new(Inner {
                lookup,
                threads: Arc::new(tokio::sync::Semaphore::new(threads)),
                state: Mutex::new(State {
                    cache: lru::LruCache::new(capacity),
                    in_flight: HashMap::new(),
                }),
                queries,
                cached: AtomicU64::new(0),
                joined: AtomicU64::new(0),
            }),
        }
    }

    /// The counters so far (see [`DnsStats`]).
    pub fn stats(&self) -> DnsStats {
        DnsStats {
            queries: self.inner.queries.load(Ordering::Relaxed),
            cached: self.inner.cached.load(Ordering::Relaxed),
            joined: self.inner.joined.load(Ordering::Relaxed),
        }
    }

    /// Resolves `host` to its addresses, in the resolver's order.
    ///
    /// An IP literal (IPv6 with or without brackets) is its own answer;
    /// `localhost` and `*.localhost` are `127.0.0.1` and `::1`; other names
    /// come from the cache, a query in flight for the same name, or a new
    /// query. Names are compared case-insensitively and without a trailing
    /// dot; the query uses the spelling of the lookup that started it.
    ///
    /// Must be called inside a tokio runtime. The query runs in its own task,
    /// so dropping this future (a deadline) does not cancel it: it still fills
    /// the cache for later lookups.
    ///
    /// # Errors
    /// A [`DnsError`]: a `.invalid` name, or the lookup failed; its `source()`
    /// chain holds the lookup's own error, and a [`TemporaryDns`] when the
    /// failure was temporary.
    pub async fn resolve(&self, host: &str) -> Result<Arc<[IpAddr]>, DnsError> {
        let bare = super::unbracket(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Arc::from([ip]));
        }
        if let Some(answer) = special_name(host) {
            return answer;
        }
        // Timed for the record of the connection this lookup is for.
        let answer = super::conn_info::timed_lookup(async {
            match self.cached_or_query(host) {
                Ok(cached) => cached,
                Err(query) => query.await,
            }
        })
        .await;
        share_answer(answer)
    }

    /// Returns the cached answer for `host` (`Ok`), or else (`Err`) the query
    /// in flight for it or a new one, and counts which it was.
    fn cached_or_query(&self, host: &str) -> Result<Answer, Query> {
        let key = cache_key(host);
        let mut state = self.inner.lock();
        if let Some(cached) = state.cache.get(&key) {
            if cached.expires > Instant::now() {
                self.inner.cached.fetch_add(1, Ordering::Relaxed);
                return Ok(cached.answer.clone());
            }
            state.cache.pop(&key);
        }
        if let Some(query) = state.in_flight.get(&key) {
            self.inner.joined.fetch_add(1, Ordering::Relaxed);
            return Err(query.clone());
        }
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        // Spawned while the lock is held, so the task cannot finish (and take
        // the entry out of `in_flight`) before the entry is put in.
        let task = tokio::spawn(Inner::query(
            self.inner.clone(),
            key.clone(),
            host.to_owned(),
        ));
        let query = async move {
            task.await
                .unwrap_or_else(|e| Err(Arc::new(DnsError(Box::new(e)))))
        }
        .boxed()
        .shared();
        state.in_flight.insert(key, query.clone());
        Err(query)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across anything that can panic halfway
        // through an update, so a poisoned lock still holds a usable state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one query on the blocking pool, then files its answer: out of
    /// `in_flight`, and into the cache for as long as [`ttl`] says.
    async fn query(self: Arc<Inner>, key: Box<str>, host: String) -> Answer {
        let lookup = self.lookup.clone();
        let permit = self.threads.clone().acquire_owned().await;
        let blocking = tokio::task::spawn_blocking(move || {
            let found = lookup(&host);
            drop(permit);
            found
        });
        let (answer, ttl) = match blocking.await {
            Ok(found) => {
                let ttl = ttl(&found);
                (found.map(Arc::from).map_err(Arc::new), ttl)
            }
            // The lookup panicked, or the runtime is shutting down: not the
            // name's fault, so not cached.
            Err(e) => (Err(Arc::new(DnsError(Box::new(e)))), None),
        };
        let mut state = self.lock();
        state.in_flight.remove(&key);
        if let Some(ttl) = ttl {
            let expires = Instant::now() + ttl;
            let answer = answer.clone();
            state.cache.put(key, Cached { answer, expires });
        }
        answer
    }
}

/// How long to cache a lookup's outcome: [`POSITIVE_TTL`] for addresses,
/// [`NEGATIVE_TTL`] for a failure, and not at all for a temporary failure.
fn ttl(found: &Result<Vec<IpAddr>, DnsError>) -> Option<Duration> {
    match found {
        Ok(_) => Some(POSITIVE_TTL),
        Err(e) if is_temporary(e) => None,
        Err(_) => Some(NEGATIVE_TTL),
    }
}

/// Whether a [`TemporaryDns`] marker is in `err`'s chain (inside `io::Error`s
/// too, as `error.rs` looks).
fn is_temporary(err: &DnsError) -> bool {
    super::classify::chain(err).any(|e| e.is::<TemporaryDns>())
}

/// The cache and single-flight key: lower case, without a trailing dot.
fn cache_key(host: &str) -> Box<str> {
    host.strip_suffix('.')
        .unwrap_or(host)
        .to_ascii_lowercase()
        .into_boxed_str()
}

/// One caller's copy of a shared answer: the addresses, or a new
/// [`DnsError`] whose source is the shared original (so the chain still
/// reaches it, and its [`TemporaryDns`] marker if any).
fn share_answer(answer: Answer) -> Result<Arc<[IpAddr]>, DnsError> {
    answer.map_err(|e| DnsError(Box::new(SharedDnsError(e))))
}

/// A [`DnsError`] shared by several lookups: prints as it does, and gives it
/// as its `source()`.
#[derive(Debug)]
struct SharedDnsError(Arc<DnsError>);

impl fmt::Display for SharedDnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SharedDnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl Default for Resolver {
    fn default() -> Resolver {
        Resolver::new()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// `getaddrinfo(host)` for stream sockets, through dns-lookup so that the
/// error code is kept: a temporary failure (`EAI_AGAIN`) is marked
/// [`TemporaryDns`] under the [`DnsError`]. Blocks; the default [`LookupFn`].
///
/// # Errors
/// A [`DnsError`] for any failure of `getaddrinfo`.
pub fn getaddrinfo(host: &str) -> Result<Vec<IpAddr>, DnsError> {
    let hints = dns_lookup::AddrInfoHints {
        socktype: dns_lookup::SockType::Stream.into(),
        ..Default::default()
    };
    match dns_lookup::getaddrinfo(Some(host), None, Some(hints)) {
        Ok(found) => found
            .map(|a| a.map(|a| a.sockaddr.ip()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DnsError(Box::new(e))),
        Err(e) if matches!(e.kind(), dns_lookup::LookupErrorKind::Again) => {
            Err(DnsError(Box::new(TemporaryDns(e.into()))))
        }
        Err(e) => Err(DnsError(Box::new(std::io::Error::from(e)))),
    }
}

/// The answer for a special-use name (RFC 6761) without a query, or `None`
/// for any other name: `localhost` and `*.localhost` are `127.0.0.1` and
/// `::1` (sec. 6.3), and `invalid` and `*.invalid` fail with a [`DnsError`]
/// (sec. 6.4). Case and a trailing dot are ignored.
pub fn special_name(host: &str) -> Option<Result<Arc<[IpAddr]>, DnsError>> {
    let host = cache_key(host);
    if &*host == "invalid" || host.ends_with(".invalid") {
        return Some(Err(DnsError(
            format!("{host}: names under .invalid never resolve (RFC 6761 sec. 6.4)").into(),
        )));
    }
    if &*host == "localhost" || host.ends_with(".localhost") {
        return Some(Ok(Arc::from([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ])));
    }
    None
}

impl Service<Name> for Resolver {
    /// The addresses with port 0; the connector sets the port.
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.resolve(name.as_str()).await?;
            Ok(addrs
                .iter()
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use std::sync::atomic::AtomicUsize;

    /// Lookups that never return hold at most the resolver's thread limit, so
    /// other blocking work (reading the input) still gets a thread.
    #[test]
    fn hung_lookups_leave_blocking_threads_for_other_work() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(6)
            .enable_all()
            .build()
            .unwrap();
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let g = gate.clone();
        let mut resolver = Resolver::with_lookup(Arc::new(move |_host: &str| {
            let (open, cv) = &*g;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Err(DnsError("released".into()))
        }));
        Arc::get_mut(&mut resolver.inner).unwrap().threads =
            Arc::new(tokio::sync::Semaphore::new(2));
        let other = rt.block_on(async {
            for i in 0..10 {
                let r = resolver.clone();
                tokio::spawn(async move { r.resolve(&format!("never{i}.test")).await });
            }
            tokio::task::yield_now().await;
            tokio::time::timeout(Duration::from_secs(10), tokio::task::spawn_blocking(|| 42)).await
        });
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
        assert_eq!(other.expect("a blocking thread was free").unwrap(), 42);
        rt.shutdown_timeout(Duration::from_secs(5));
    }

    const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7));

    /// A fake lookup that counts its calls and answers with `answer`.
    fn counting(answer: fn(&str) -> Result<Vec<IpAddr>, DnsError>) -> (LookupFn, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let lookup: LookupFn = Arc::new(move |host| {
            counted.fetch_add(1, Ordering::SeqCst);
            answer(host)
        });
        (lookup, calls)
    }

    fn found(_: &str) -> Result<Vec<IpAddr>, DnsError> {
        Ok(vec![ADDR])
    }

    fn no_such_name(host: &str) -> Result<Vec<IpAddr>, DnsError> {
        Err(DnsError(format!("{host}: no such name").into()))
    }

    fn try_again(host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let io = std::io::Error::other(format!("{host}: temporary failure"));
        Err(DnsError(Box::new(TemporaryDns(io))))
    }

    #[test]
    fn rfc6761_names() {
        assert!(matches!(
            special_name("this-host-does-not-exist.invalid"),
            Some(Err(_))
        ));
        assert!(matches!(special_name("INVALID."), Some(Err(_))));
        assert_eq!(special_name("a.localhost").unwrap().unwrap().len(), 2);
        assert_eq!(special_name("LocalHost.").unwrap().unwrap().len(), 2);
        assert!(special_name("example.com").is_none());
        assert!(special_name("localhost.example").is_none());
    }

    #[tokio::test]
    async fn special_names_and_literals_send_no_query() {
        let (lookup, calls) = counting(found);
        let r = Resolver::with_lookup(lookup);
        assert_eq!(
            &*r.resolve("127.0.0.2").await.unwrap(),
            &["127.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            &*r.resolve("[::1]").await.unwrap(),
            &[IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(r.resolve("x.localhost").await.unwrap().len(), 2);
        assert!(r.resolve("x.invalid.").await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(r.stats(), DnsStats::default());
    }

    /// 100 lookups of one new name, all waiting before the query answers,
    /// make one call and get the same answer.
    #[tokio::test]
    async fn concurrent_lookups_share_one_query() {
        let calls = Arc::new(AtomicUsize::new(0));
        // The fake lookup blocks (on its blocking-pool thread) until the gate
        // is opened, which happens only once all 100 lookups are waiting.
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let counted = calls.clone();
        let lookup: LookupFn = Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            gate.lock().unwrap().recv().unwrap();
            Ok(vec![ADDR])
        });
        let r = Resolver::with_lookup(lookup);
        let names = ["Same.Example", "same.example.", "SAME.example"];
        let lookups: Vec<_> = (0..100)
            .map(|i| {
                let r = r.clone();
                tokio::spawn(async move { r.resolve(names[i % 3]).await })
            })
            .collect();
        // Every lookup is counted as it joins or starts the query, under the
        // resolver's lock; yield until all 100 have.
        while {
            let s = r.stats();
            s.queries + s.joined < 100
        } {
            tokio::task::yield_now().await;
        }
        open.send(()).unwrap();
        for l in lookups {
            assert_eq!(&*l.await.unwrap().unwrap(), &[ADDR]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let s = r.stats();
        assert_eq!((s.queries, s.joined, s.cached), (1, 99, 0));
    }

    #[tokio::test]
    async fn concurrent_failures_share_the_error_and_its_marker() {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let lookup: LookupFn = Arc::new(move |host| {
            gate.lock().unwrap().recv().unwrap();
            try_again(host)
        });
        let r = Resolver::with_lookup(lookup);
        let lookups: Vec<_> = (0..10)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.resolve("flaky.example").await })
            })
            .collect();
        while r.stats().joined < 9 {
            tokio::task::yield_now().await;
        }
        open.send(()).unwrap();
        for l in lookups {
            let err = l.await.unwrap().unwrap_err();
            assert!(is_temporary(&err));
            // As the fetch pipeline sees it: kind dns, worth a retry, and the
            // original message once.
            let wrapped = std::io::Error::other(err);
            let e = crate::http::classify::request_error(&wrapped);
            assert_eq!(e.kind(), crate::error::ErrorKind::Dns);
            assert!(matches!(e, crate::error::FetchError::TemporaryDns(_)));
            assert_eq!(e.to_string(), "flaky.example: temporary failure");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_cached_until_the_ttl() {
        let (lookup, calls) = counting(found);
        let r = Resolver::with_lookup(lookup);
        r.resolve("a.example").await.unwrap();
        tokio::time::advance(POSITIVE_TTL - Duration::from_millis(1)).await;
        assert_eq!(&*r.resolve("A.EXAMPLE.").await.unwrap(), &[ADDR]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(r.stats().cached, 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        r.resolve("a.example").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(r.stats().queries, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_cached_for_the_shorter_ttl() {
        let (lookup, calls) = counting(no_such_name);
        let r = Resolver::with_lookup(lookup);
        let first = r.resolve("gone.example").await.unwrap_err();
        assert!(!is_temporary(&first));
        tokio::time::advance(NEGATIVE_TTL - Duration::from_millis(1)).await;
        let again = r.resolve("gone.example").await.unwrap_err();
        assert_eq!(again.to_string(), first.to_string());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        r.resolve("gone.example").await.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn temporary_failures_are_not_cached() {
        let (lookup, calls) = counting(try_again);
        let r = Resolver::with_lookup(lookup);
        for n in 1..=3 {
            let err = r.resolve("flaky.example").await.unwrap_err();
            assert!(is_temporary(&err));
            assert_eq!(calls.load(Ordering::SeqCst), n);
        }
        assert_eq!(r.stats().cached, 0);
    }

    #[tokio::test]
    async fn the_cache_drops_the_least_recently_used_name() {
        let (lookup, calls) = counting(found);
        let r = Resolver::with_lookup(lookup);
        for i in 0..CACHE_CAPACITY {
            r.resolve(&format!("h{i}.example")).await.unwrap();
        }
        // h0 is used again, so h1 is now the least recently used.
        r.resolve("h0.example").await.unwrap();
        r.resolve(&format!("h{CACHE_CAPACITY}.example"))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), CACHE_CAPACITY + 1);
        r.resolve("h0.example").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), CACHE_CAPACITY + 1);
        r.resolve("h1.example").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), CACHE_CAPACITY + 2);
        assert!(r.inner.lock().cache.len() <= CACHE_CAPACITY);
        assert!(r.inner.lock().in_flight.is_empty());
    }

    #[tokio::test]
    async fn a_dropped_lookup_still_fills_the_cache() {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let lookup: LookupFn = Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            gate.lock().unwrap().recv().unwrap();
            Ok(vec![ADDR])
        });
        let r = Resolver::with_lookup(lookup);
        let first = tokio::spawn({
            let r = r.clone();
            async move { r.resolve("late.example").await }
        });
        while r.stats().queries < 1 {
            tokio::task::yield_now().await;
        }
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        open.send(()).unwrap();
        // Joins the query still in flight, or finds its answer cached.
        assert_eq!(&*r.resolve("late.example").await.unwrap(), &[ADDR]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_service_gives_socket_addresses() {
        let (lookup, _) = counting(found);
        let mut r = Resolver::with_lookup(lookup);
        let name = Name::from_str("svc.example").unwrap();
        let addrs: Vec<_> = r.call(name).await.unwrap().collect();
        assert_eq!(addrs, [SocketAddr::new(ADDR, 0)]);
    }

    #[test]
    fn blocking_threads_cover_the_concurrency() {
        assert_eq!(max_blocking_threads(5), 512);
        assert_eq!(max_blocking_threads(10_000), 10_064);
        assert_eq!(max_blocking_threads(usize::MAX), usize::MAX);
    }
}
