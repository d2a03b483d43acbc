//! The pipeline: a `Stream` of input lines in, a `Stream` of [`FetchResult`]s out.
//!
//! Each line gets a concurrency slot from `buffer_unordered(max_concurrency)`
//! (or `buffered` for [`Config::keep_order`]); the fetch then runs as its own
//! spawned tokio task, so requests keep progressing while the consumer (stdout)
//! is slow. Every task shares one pooled client ([`crate::http`]) and runs under one
//! `tokio::time::timeout` that covers resolution, connect, TLS, every redirect
//! hop and the whole body.
//!
//! When a URL may have to wait, for its host or for its next attempt
//! (`--max-per-host`, `--rate-per-host`, `--rate`, `--retries`; see
//! [`Config::scheduled`]), the look-ahead scheduler of [`crate::schedule`]
//! takes the place of `buffer_unordered`; without them nothing changes. A
//! task runs one attempt (under its own timeout); after a transient failure
//! that [`crate::retry`] says to try again, it hands the URL back to the
//! scheduler with the time of its next attempt, and the URL waits in the
//! window without holding a slot.
//!
//! One line in gives exactly one record out: unusable lines become failure
//! records without a request, and when [`Config::cancel`] fires the pipeline
//! stops pulling new lines (lines already buffered in memory are still
//! answered), and every unfinished request ends as a `cancelled` failure.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::future::{self, Either, FutureExt};
use futures::stream::{Stream, StreamExt};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use url::Url;

use crate::error::FetchError;
use crate::http::{build_client, ClientOptions, HttpClient};
use crate::input::InputLine;
use crate::result::{round_ms, FetchResult};
use crate::retry::{self, RetryPolicy};
use crate::schedule::{host_key, Limits, Rate, Scheduler, SchedulerOptions};
use crate::target::{check_scheme, parse_url, request_uri, same_origin, DefaultScheme};

/// Settings for a run. `Config::default()` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most requests in flight at once (>= 1). Default 5. Values below 1 are
    /// treated as 1.
    pub max_concurrency: usize,
    /// Deadline for each URL, covering DNS, connect, TLS, the request, the
    /// response head, every redirect hop and the whole body. Default 5 s.
    pub timeout: Duration,
    /// Most redirects followed per URL (301, 302, 303, 307, 308; RFC 9110
    /// sec. 15.4). 0 means none: the 3xx response is the result. Default 10.
    pub max_redirects: u32,
    /// Emit records in input order (futures' `buffered`) instead of completion
    /// order; the concurrency is the same. With the per-host scheduler,
    /// finished records wait in the look-ahead window until the ones before
    /// them are out, so at most `lookahead` lines lie between the oldest
    /// record not yet yielded and the newest line read. Default `false`.
    pub keep_order: bool,
    /// The request method (`-X`): any RFC 9110 token, sent as given. Default
    /// `None`: `GET`, or `POST` for a request with a body (curl's rule for
    /// `-d`). A `--input jsonl` spec's `method` replaces it for its line.
    pub method: Option<Method>,
    /// The request body sent with every URL (`-d`, `--data-binary`), one
    /// `Bytes` shared by all requests. A `--input jsonl` spec's `body`
    /// replaces it for its line. Sent with `Content-Length` and, unless a
    /// header field gives one, `Content-Type: application/x-www-form-urlencoded`
    /// (curl's `-d`). Default `None`: no body.
    pub body: Option<bytes::Bytes>,
    /// Send `Accept-Encoding: gzip, br, zstd, deflate` and decode responses
    /// by their `Content-Encoding`; records then carry `wire_size`
    /// (`--compressed`, see [`crate::body`]). Default `false`.
    pub compressed: bool,
    /// Most body bytes read per response (decoded ones with `compressed`);
    /// past it the URL is a `body_too_large` failure (`--max-size`). Default
    /// `None`: no limit.
    pub max_size: Option<u64>,
    /// Extra request header fields, sent in order after the defaults (they
    /// replace a default of the same name). `Authorization`, `Cookie` and
    /// `Proxy-Authorization` are not sent to another origin after a redirect
    /// (curl's rule, CVE-2018-1000007). Default: none.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The `User-Agent` field. Default `fetcher-stream/<version>`.
    pub user_agent: String,
    /// Scheme for lines without one (`host[:port][/path]`). Default `https`.
    pub default_scheme: DefaultScheme,
    /// TLS roots, `--insecure` and `--resolve`. Default: Mozilla's roots,
    /// verification on, system resolver.
    pub client: ClientOptions,
    /// Fires to interrupt the run: no new lines are taken, and unfinished
    /// requests end as `cancelled` failures. Default: a fresh token nobody fires.
    pub cancel: CancellationToken,
    /// Most requests in flight to one host (scheme + host + port;
    /// `--max-per-host`). Setting it switches the pipeline to the look-ahead
    /// scheduler of [`crate::schedule`] (see [`Config::scheduled`]). Default
    /// `None`: no per-host cap.
    pub max_per_host: Option<usize>,
    /// Lines the scheduler reads ahead to find URLs of hosts that can take a
    /// request (`--lookahead`); at least `max_concurrency`. Only used when
    /// the scheduler runs ([`Config::scheduled`]). Default `None`: 4 x
    /// `max_concurrency`.
    pub lookahead: Option<usize>,
    /// Request attempts per time unit over the whole run (`--rate`), evenly
    /// spaced; switches to the scheduler (a `Retry-After` then pauses its
    /// host). The scheduler takes the tokens in input order before a URL gets
    /// its slot. Default `None`: unlimited.
    pub rate: Option<Rate>,
    /// Request attempts per time unit to one host (`--rate-per-host`), evenly
    /// spaced; switches to the scheduler. A URL whose host has no token yet
    /// waits in the window. Default `None`.
    pub rate_per_host: Option<Rate>,
    /// Attempts after the first for transient failures (`--retries`; see
    /// [`crate::retry`]). Above 0 it switches to the scheduler: a URL waiting
    /// for its next attempt goes back into the window at its input position,
    /// holding no slot. Default 0.
    pub retries: u32,
    /// Backoff base (`--retry-delay`): the wait after attempt k is random in
    /// `[0, min(retry_max_delay, retry_delay * 2^(k-1))]`. Default 1 s.
    pub retry_delay: Duration,
    /// Backoff cap (`--retry-max-delay`). Default 30 s.
    pub retry_max_delay: Duration,
    /// Retry non-idempotent methods too (`--retry-all`). Default `false`.
    pub retry_all: bool,
    /// Longest `Retry-After` honoured (`--max-retry-after`): longer ones are
    /// cut to this. Default 60 s.
    pub max_retry_after: Duration,
}

impl Config {
    /// Whether the look-ahead scheduler of [`crate::schedule`] replaces
    /// `buffer_unordered`: when any request control that can make a URL wait
    /// is on (`max_per_host`, `rate_per_host`, `retries` > 0, `rate`). A URL
    /// that must wait for its host (a per-host cap or rate token, a
    /// `Retry-After` pause) or for its next attempt (a retry's backoff) then
    /// waits in the window without holding a slot. With none of these the
    /// pipeline is the plain `buffer_unordered(max_concurrency)` stream, in
    /// which nothing ever waits.
    pub fn scheduled(&self) -> bool {
        self.retries > 0
            || self.max_per_host.is_some()
            || self.rate.is_some()
            || self.rate_per_host.is_some()
    }

    /// Whether a `429`/`503` response's `Retry-After` pauses its host: exactly
    /// when the scheduler runs ([`Config::scheduled`]), which keeps the
    /// paused host's URLs in its window. A plain run does not pause hosts, so
    /// one server's `Retry-After` cannot hold up other URLs.
    pub fn pauses_hosts(&self) -> bool {
        self.scheduled()
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries,
            base: self.retry_delay,
            max_delay: self.retry_max_delay,
            retry_all: self.retry_all,
            max_retry_after: self.max_retry_after,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrency: 5,
            timeout: Duration::from_secs(5),
            max_redirects: 10,
            keep_order: false,
            method: None,
            body: None,
            compressed: false,
            max_size: None,
            headers: Vec::new(),
            user_agent: concat!("fetcher-stream/", env!("CARGO_PKG_VERSION")).to_owned(),
            default_scheme: DefaultScheme::Https,
            client: ClientOptions::default(),
            cancel: CancellationToken::new(),
            max_per_host: None,
            lookahead: None,
            rate: None,
            rate_per_host: None,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            retry_all: false,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// What every fetch task shares (behind one `Arc`).
pub(crate) struct Shared {
    client: HttpClient,
    config: Config,
    /// Default header fields plus the user's, built once.
    headers: HeaderMap,
    /// Rate limiters and `Retry-After` pauses, shared with the scheduler.
    limits: Arc<Limits>,
    /// `config.retry_policy()`, built once.
    retry: RetryPolicy,
}

/// Fetches each URL of `urls`, at most `config.max_concurrency` at a time, and
/// yields one [`FetchResult`] per item as each completes (in input order with
/// `config.keep_order`).
///
/// Items are URLs as `String`s (or [`InputLine`]s from [`crate::read_inputs`]);
/// each item gives exactly one record, including empty or unparsable ones
/// (`invalid_url`). The stream ends after the last record. Must be polled
/// inside a tokio runtime; dropping it aborts the requests in flight.
///
/// # Example
/// ```no_run
/// use futures::StreamExt;
/// # #[tokio::main] async fn main() {
/// let urls = futures::stream::iter(vec!["https://example.com/".to_string()]);
/// let mut results = fetcher_stream::fetch_stream(urls, fetcher_stream::Config::default());
/// while let Some(r) = results.next().await {
///     println!("{}", serde_json::to_string(&r).unwrap());
/// }
/// # }
/// ```
pub fn fetch_stream<S, T>(urls: S, config: Config) -> impl Stream<Item = FetchResult> + Send
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<InputLine> + Send + 'static,
{
    let concurrency = config.max_concurrency.max(1);
    let keep_order = config.keep_order;
    let headers = default_headers(&config);
    let limits = Arc::new(Limits::new(config.rate, config.rate_per_host));
    let shared = Arc::new(Shared {
        client: build_client(concurrency, &config.client),
        headers,
        limits: limits.clone(),
        retry: config.retry_policy(),
        config,
    });
    let cancel = shared.config.cancel.clone();
    if shared.config.scheduled() {
        let options = SchedulerOptions {
            concurrency,
            per_host: shared.config.max_per_host,
            lookahead: shared.config.lookahead,
            keep_order,
            cancel: cancel.clone(),
        };
        let lines = StopOnCancel::new(urls.boxed(), cancel)
            .map(Into::into)
            .boxed();
        let for_prepare = shared.clone();
        let scheduler = Scheduler::new(
            lines,
            options,
            limits,
            move |line| prepare(&for_prepare, line),
            move |job, resume| launch(shared.clone(), job, resume).boxed(),
        );
        return Either::Left(scheduler);
    }
    let jobs =
        StopOnCancel::new(urls.boxed(), cancel).map(move |item| start(shared.clone(), item.into()));
    Either::Right(if keep_order {
        Either::Left(jobs.buffered(concurrency))
    } else {
        Either::Right(jobs.buffer_unordered(concurrency))
    })
}

/// Like [`fetch_stream`], but collects the records in input order.
///
/// # Example
/// ```no_run
/// # #[tokio::main] async fn main() {
/// let urls = futures::stream::iter(vec!["https://example.com/".to_string()]);
/// let results = fetcher_stream::fetch_all(urls, fetcher_stream::Config::default()).await;
/// assert_eq!(results.len(), 1);
/// # }
/// ```
pub async fn fetch_all<S, T>(urls: S, config: Config) -> Vec<FetchResult>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<InputLine> + Send + 'static,
{
    let config = Config {
        keep_order: true,
        ..config
    };
    fetch_stream(urls, config).collect().await
}

fn default_headers(config: &Config) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(ua) = HeaderValue::from_str(&config.user_agent) {
        h.insert(header::USER_AGENT, ua);
    }
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    if config.compressed {
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(crate::http::body::ACCEPT_ENCODING),
        );
    }
    for (name, _) in &config.headers {
        h.remove(name);
    }
    for (name, value) in &config.headers {
        h.append(name.clone(), value.clone());
    }
    h
}

/// Input adapter: after cancellation, yields only items that are ready at once
/// (already read into memory), then ends; never waits for more input.
pub(crate) struct StopOnCancel<S> {
    inner: S,
    /// The run's token, checked before each pull.
    cancel: CancellationToken,
    /// Resolves when the token fires; polled while the input is pending so that
    /// a blocked read wakes the pipeline.
    fired: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
}

impl<S> StopOnCancel<S> {
    pub(crate) fn new(inner: S, cancel: CancellationToken) -> Self {
        StopOnCancel {
            inner,
            fired: Box::pin(cancel.clone().cancelled_owned()),
            cancel,
            done: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for StopOnCancel<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.cancel.is_cancelled() {
            return match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
                _ => {
                    self.done = true;
                    Poll::Ready(None)
                }
            };
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => {
                // Wake when the token fires, so a blocked read is abandoned.
                if self.fired.as_mut().poll(cx).is_ready() {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending
            }
        }
    }
}

/// Aborts the task when dropped (dropping a `JoinHandle` alone does not).
struct AbortOnDrop(JoinHandle<Attempted>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One URL ready to fetch: the line's text (echoed as `url`), the parsed URL,
/// and the request settings that apply to it (the run's, or its spec's).
pub(crate) struct Job {
    /// The input line as given, echoed in the record.
    pub(crate) text: String,
    /// The parsed URL.
    pub(crate) url: Url,
    /// The request method for the first hop.
    pub(crate) method: Method,
    /// Header fields of a `--input jsonl` spec, sent after (and replacing) the
    /// run's own.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body, if any (`-d`, or the spec's `body`); a clone of the
    /// run's `Bytes`, never a copy of the data.
    pub(crate) body: Option<bytes::Bytes>,
    /// Pass-through keys of a `--input jsonl` spec, copied into the record.
    pub(crate) extra: Option<Box<crate::result::Passthrough>>,
}

/// Turns a line into a [`Job`], or into its failure record when it cannot be
/// fetched at all (no request is made; `elapsed_ms` is 0).
pub(crate) fn prepare(shared: &Shared, line: InputLine) -> Result<Job, FetchResult> {
    let started = Instant::now();
    let InputLine {
        text,
        problem,
        line,
        spec,
    } = line;
    let spec = spec.map(|s| *s).unwrap_or_default();
    let url = match problem {
        Some(e) => Err(e),
        None => parse_url(&text, shared.config.default_scheme),
    };
    match url {
        Ok(url) => {
            let body = spec.body.or_else(|| shared.config.body.clone());
            // curl's rule: a body without -X (or a spec "method") means POST.
            let method = spec
                .method
                .or_else(|| shared.config.method.clone())
                .unwrap_or(if body.is_some() {
                    Method::POST
                } else {
                    Method::GET
                });
            Ok(Job {
                text,
                url,
                method,
                headers: spec.headers,
                body,
                extra: spec.extra,
            })
        }
        Err(e) => {
            let line = line.filter(|_| e.kind() == crate::ErrorKind::InvalidInput);
            let mut record = failure(text, e, started);
            if let FetchResult::Failure {
                line: l, extra: x, ..
            } = &mut record
            {
                *l = line;
                *x = spec.extra;
            }
            Err(record)
        }
    }
}

/// Called when a line gets its concurrency slot in the plain pipeline: the
/// clock starts here.
fn start(
    shared: Arc<Shared>,
    line: InputLine,
) -> impl std::future::Future<Output = FetchResult> + Send {
    match prepare(&shared, line) {
        Ok(job) => Either::Right(launch(shared.clone(), job, None).then(move |attempted| {
            match attempted {
                Attempted::Done(record) => Either::Left(future::ready(record)),
                // Not reached: retries switch the pipeline to the scheduler
                // (`Config::scheduled`), which re-queues a retry in its
                // window. Should one come here, it waits in its slot.
                Attempted::Retry(job, resume) => {
                    Either::Right(retry_in_slot(shared, job, resume).boxed())
                }
            }
        })),
        Err(record) => Either::Left(future::ready(record)),
    }
}

/// Runs the further attempts of a URL without the scheduler, waiting for each
/// in the slot it holds.
async fn retry_in_slot(shared: Arc<Shared>, mut job: Job, mut resume: Resume) -> FetchResult {
    let cancel = shared.config.cancel.clone();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {},
            _ = tokio::time::sleep_until(resume.not_before) => {},
        }
        match launch(shared.clone(), job, Some(resume)).await {
            Attempted::Done(record) => return record,
            Attempted::Retry(j, r) => (job, resume) = (j, r),
        }
    }
}

/// Where a URL that is to be tried again stands: the attempts made so far,
/// when its clock started (its first attempt's launch; the record's
/// `elapsed_ms` counts from here over every attempt and wait), and the
/// earliest moment the next attempt may start (tokio's clock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resume {
    /// Attempts made so far (at least 1).
    pub(crate) attempts: u32,
    /// When the first attempt was launched.
    pub(crate) started: Instant,
    /// Not before this: the backoff, or the `Retry-After` delay if longer.
    pub(crate) not_before: tokio::time::Instant,
}

/// How an attempt of a URL ended: with the URL's record, or with a transient
/// failure to try again (the job comes back, to wait for its next attempt
/// without holding a slot).
pub(crate) enum Attempted {
    /// The URL is finished: its record.
    Done(FetchResult),
    /// Try again as attempt `resume.attempts + 1`, not before
    /// `resume.not_before`.
    Retry(Job, Resume),
}

/// Spawns one attempt of `job` as its own task (attempt 1 when `resume` is
/// `None`, when the URL's clock starts; else attempt `resume.attempts + 1`)
/// and returns how it ended. Dropping the future aborts the task. After
/// cancellation it answers at once with a `cancelled` record.
pub(crate) fn launch(
    shared: Arc<Shared>,
    mut job: Job,
    resume: Option<Resume>,
) -> impl Future<Output = Attempted> + Send {
    let started = resume.map_or_else(Instant::now, |r| r.started);
    let attempts_made = resume.map_or(0, |r| r.attempts);
    let extra = job.extra.take();
    if shared.config.cancel.is_cancelled() {
        let mut record = failure(job.text, FetchError::Cancelled, started);
        record.set_attempts(attempts_made);
        record.set_extra(extra);
        return Either::Left(future::ready(Attempted::Done(record)));
    }
    let echo = job.text.clone();
    let attempt = attempts_made + 1;
    let task = AbortOnDrop(tokio::spawn(run_attempt(shared, job, attempt, started)));
    Either::Right(async move {
        let mut task = task;
        let mut record = match (&mut task.0).await {
            Ok(Attempted::Retry(mut job, resume)) => {
                job.extra = extra;
                return Attempted::Retry(job, resume);
            }
            Ok(Attempted::Done(r)) => r,
            Err(e) => {
                let err = if e.is_cancelled() {
                    FetchError::Cancelled
                } else {
                    FetchError::Transport {
                        kind: crate::ErrorKind::Io,
                        message: format!("fetch task failed: {e}"),
                    }
                };
                let mut record = failure(echo, err, started);
                record.set_attempts(attempt);
                record
            }
        };
        record.set_extra(extra);
        Attempted::Done(record)
    })
}

fn failure(url: String, err: FetchError, started: Instant) -> FetchResult {
    FetchResult::Failure {
        url,
        error: err.to_string(),
        error_kind: err.kind(),
        elapsed_ms: elapsed_ms(started),
        line: None,
        attempts: None,
        extra: None,
    }
}

fn elapsed_ms(started: Instant) -> f64 {
    round_ms(started.elapsed().as_secs_f64() * 1000.0)
}

/// One attempt of a URL, as a spawned task, under its own `timeout` (see
/// [`crate::retry`]). A transient failure with retries left does not wait
/// here: the job comes back as [`Attempted::Retry`] with the time its next
/// attempt may start, so the scheduler can free its slots meanwhile. A
/// `429`/`503` with `Retry-After` pauses the host (when
/// [`Config::pauses_hosts`]). Otherwise the record is this attempt's, with
/// `attempts` and an `elapsed_ms` counted from `started` over every attempt
/// and wait.
async fn run_attempt(shared: Arc<Shared>, job: Job, attempt: u32, started: Instant) -> Attempted {
    let cancel = shared.config.cancel.clone();
    let policy = shared.retry;
    let outcome = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(FetchError::Cancelled),
        r = attempt_once(&shared, &job) => r,
    };
    let retry_after = match &outcome {
        Ok(done) => done
            .retry_after
            .as_ref()
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now(), policy.max_retry_after)),
        Err(_) => None,
    };
    let now = tokio::time::Instant::now();
    if let (Some(delay), Ok(done)) = (retry_after, &outcome) {
        if shared.config.pauses_hosts() {
            // The host that answered, which after a redirect is not the
            // input URL's (found in review: the wrong host was paused).
            shared.limits.pauses.pause(&done.responder, now + delay);
        }
    }
    let transient = match &outcome {
        Ok(done) => retry::is_transient_status(done.status),
        Err(e) => retry::is_transient(e),
    };
    if transient && policy.allows(&job.method, attempt) {
        let resume = Resume {
            attempts: attempt,
            started,
            not_before: now + policy.wait(attempt, retry_after),
        };
        return Attempted::Retry(job, resume);
    }
    let mut record = match outcome {
        Ok(done) => FetchResult::Success {
            url: job.text,
            status: done.status,
            size: done.size,
            elapsed_ms: elapsed_ms(started),
            http_version: done.http_version,
            final_url: done.final_url,
            wire_size: done.wire_size,
            attempts: None,
            extra: None,
        },
        Err(e) => failure(job.text, e, started),
    };
    record.set_attempts(attempt);
    Attempted::Done(record)
}

/// One attempt under the deadline (the scheduler took the rate tokens and
/// checked the host's pause before starting it).
async fn attempt_once(shared: &Shared, job: &Job) -> Result<Done, FetchError> {
    let limit = shared.config.timeout;
    match tokio::time::timeout(limit, fetch_url(shared, job)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(limit)),
    }
}

struct Done {
    status: u16,
    size: u64,
    wire_size: Option<u64>,
    http_version: &'static str,
    final_url: Option<String>,
    /// The `Retry-After` field of a final 429 or 503 response.
    retry_after: Option<HeaderValue>,
    /// The host of the final response (after any redirect): the one a
    /// `Retry-After` pauses.
    responder: crate::schedule::HostKey,
}

/// The name of an HTTP version as written in records.
fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "unknown",
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Credentials never forwarded to another origin after a redirect.
fn is_credential(name: &HeaderName) -> bool {
    name == header::AUTHORIZATION || name == header::COOKIE || name == header::PROXY_AUTHORIZATION
}

/// What a hop sends as its body.
#[derive(Clone, Copy)]
enum HopBody<'a> {
    /// No body: the request never had one.
    None,
    /// The job's body, with `Content-Length` and a default `Content-Type`.
    Send(&'a bytes::Bytes),
    /// The body was dropped by a redirect that turned the request into a GET
    /// (RFC 9110 sec. 15.4): its `Content-Type` is not sent either.
    Dropped,
}

/// One hop's request: method, target, default and user header fields, the
/// body, and credentials where they may go (`cross_origin` drops them, curl's
/// rule).
fn build_request(
    shared: &Shared,
    job: &Job,
    method: &Method,
    body: HopBody<'_>,
    current: &Url,
    origin: &Url,
    cross_origin: bool,
) -> Result<Request<crate::http::RequestBody>, FetchError> {
    let data = match body {
        HopBody::Send(b) => b.clone(),
        HopBody::None | HopBody::Dropped => bytes::Bytes::new(),
    };
    let mut req = Request::builder()
        .method(method.clone())
        .uri(request_uri(current)?)
        .body(crate::http::RequestBody::new(data))
        .map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    let headers = req.headers_mut();
    for (name, value) in &shared.headers {
        if cross_origin && is_credential(name) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    // A spec's own fields replace the run's fields of the same name.
    for (name, _) in &job.headers {
        headers.remove(name);
    }
    for (name, value) in &job.headers {
        if cross_origin && is_credential(name) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    if !headers.contains_key(header::AUTHORIZATION) {
        let creds = if has_userinfo(current) {
            Some(current)
        } else if !cross_origin {
            Some(origin)
        } else {
            None
        };
        if let Some(value) = creds.and_then(basic_auth) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    match body {
        HopBody::Send(b) => {
            // As curl's -d: a form unless the user said otherwise.
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            // Sent even for an empty body (`-d ''`), as curl does.
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
        }
        HopBody::Dropped => {
            headers.remove(header::CONTENT_TYPE);
        }
        HopBody::None => {}
    }
    // As curl's `-H 'Name:'`: a field the user gave with an empty value is
    // not sent, and neither is the default it replaced.
    let empty: Vec<HeaderName> = headers
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(n, _)| n.clone())
        .collect();
    for name in empty {
        headers.remove(name);
    }
    Ok(req)
}

/// The URL as text with any `user:password@` removed, so credentials from the
/// input never appear in a record's `final_url`.
fn without_userinfo(mut url: Url) -> String {
    if has_userinfo(&url) {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url.into()
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// `Authorization: Basic` from a URL's userinfo (RFC 7617), as curl does for
/// `http://user:pass@host/`: percent-decoded, then `user:pass` in base64.
/// The userinfo itself is never sent in the request target or `Host`.
fn basic_auth(url: &Url) -> Option<HeaderValue> {
    use percent_encoding::percent_decode_str;
    if !has_userinfo(url) {
        return None;
    }
    let user: Vec<u8> = percent_decode_str(url.username()).collect();
    let password: Vec<u8> = percent_decode_str(url.password().unwrap_or("")).collect();
    Some(crate::http::basic_auth(&user, &password))
}

/// Most times one request is sent again after an HTTP/2 server refused its
/// stream or left it above a GOAWAY's last stream id; the per-URL deadline
/// bounds the time. A server that ends each connection after 7 requests
/// needs about URLs / 7 connections, and a request may be refused on most of
/// them; the refused requests share each new connection, so the count of
/// connections stays one per round, not one per request.
const MAX_UNPROCESSED_RESENDS: u32 = 100;

/// Largest redirect body read (and dropped) so the connection can be reused.
const MAX_DRAINED_REDIRECT_BODY: u64 = 64 * 1024;

/// Longest wait for a small redirect body before giving up on reusing the
/// connection.
const REDIRECT_DRAIN_WAIT: Duration = Duration::from_millis(100);

/// Requests `url`, follows redirects, and counts the final body's bytes.
async fn fetch_url(shared: &Shared, job: &Job) -> Result<Done, FetchError> {
    let config = &shared.config;
    let origin = job.url.clone();
    let mut current = job.url.clone();
    let mut method = job.method.clone();
    let mut body = match &job.body {
        Some(b) => HopBody::Send(b),
        None => HopBody::None,
    };
    let mut redirects = 0u32;
    loop {
        let cross_origin = redirects > 0 && !same_origin(&origin, &current);
        // A request that dies on a kept-alive connection the server had just
        // closed, before any response byte, is sent once more on a new
        // connection, as curl does (the pool itself resends only requests
        // not yet written). An HTTP/2 stream the server refused or left
        // above its GOAWAY's last stream id was not processed (RFC 9113
        // sec. 8.7), so it is sent again as often as that happens, up to
        // MAX_UNPROCESSED_RESENDS: a server that closes each connection after
        // a few requests refuses the rest of every wave. Only for idempotent
        // methods.
        let mut resends = 0;
        let resp = loop {
            let req = build_request(shared, job, &method, body, &current, &origin, cross_origin)?;
            match shared.client.request(req, resends > 0).await {
                Ok(resp) => break resp,
                Err(e)
                    if retry::is_idempotent(&method)
                        && crate::http::is_stale_connection(&e)
                        && (resends == 0
                            || (crate::http::is_unprocessed_stream(&e)
                                && resends < MAX_UNPROCESSED_RESENDS)) =>
                {
                    resends += 1;
                }
                Err(e) => return Err(crate::http::request_error(&e)),
            }
        };
        let status = resp.status();
        let http_version = version_name(resp.version());
        // Framing is checked as soon as the head arrives, before a redirect is
        // followed or a body byte read. A response known to have no body
        // (HEAD, 204, 304) has no framing to trust. Returning drops the
        // unread body, which closes its connection.
        if !hyper::body::Body::is_end_stream(resp.body()) {
            crate::http::body::check_framing(resp.version(), resp.headers())?;
        }
        if is_redirect(status) && config.max_redirects > 0 {
            if let Some(next) = redirect_target(&current, resp.headers())? {
                if redirects >= config.max_redirects {
                    return Err(FetchError::TooManyRedirects(config.max_redirects));
                }
                check_scheme(&next)?;
                drain_small(resp).await;
                // RFC 9110 sec. 15.4.4: 303 turns the next request into GET (HEAD
                // stays HEAD). 301/302 after POST become GET too, as curl and
                // browsers do (sec. 15.4.2, 15.4.3). The body and its
                // Content-Type go with the method; 307 and 308 resend both.
                if status == StatusCode::SEE_OTHER
                    || (method == Method::POST && matches!(status.as_u16(), 301 | 302))
                {
                    if method != Method::HEAD {
                        method = Method::GET;
                    }
                    if matches!(body, HopBody::Send(_)) {
                        body = HopBody::Dropped;
                    }
                }
                redirects += 1;
                current = next;
                continue;
            }
        }
        let retry_after = matches!(status.as_u16(), 429 | 503)
            .then(|| resp.headers().get(header::RETRY_AFTER).cloned())
            .flatten();
        let options = crate::http::body::BodyOptions {
            decode: config.compressed,
            max_size: config.max_size,
        };
        let (head, incoming) = resp.into_parts();
        let read = crate::http::body::read_body(&head.headers, incoming, options).await?;
        return Ok(Done {
            status: status.as_u16(),
            size: read.size,
            wire_size: read.wire_size,
            http_version,
            responder: host_key(&current),
            final_url: (redirects > 0).then(|| without_userinfo(current)),
            retry_after,
        });
    }
}

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
fn redirect_target(current: &Url, headers: &HeaderMap) -> Result<Option<Url>, FetchError> {
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
    let raw = first.as_bytes().trim_ascii();
    if raw.is_empty() {
        return Ok(None);
    }
    let mut text = String::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii() {
            text.push(b as char);
        } else {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(current.join(&text).ok())
}

/// Reads a small redirect body to its end so the connection returns to the
/// pool; a large or unknown-length one is dropped (the connection is closed).
async fn drain_small(resp: crate::http::PoolResponse) {
    use hyper::body::Body as _;
    let body = resp.into_body();
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|n| n <= MAX_DRAINED_REDIRECT_BODY);
    if small {
        let _ = tokio::time::timeout(REDIRECT_DRAIN_WAIT, body.collect()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::default();
        assert_eq!(c.max_concurrency, 5);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.max_redirects, 10);
        assert_eq!(c.method, None);
        assert!(c.body.is_none() && !c.compressed && c.max_size.is_none());
        assert!(c.user_agent.starts_with("fetcher-stream/"));
        assert_eq!(
            (c.max_per_host, c.lookahead, c.rate, c.rate_per_host),
            (None, None, None, None)
        );
        assert_eq!((c.retries, c.retry_all), (0, false));
        assert_eq!(c.retry_delay, Duration::from_secs(1));
        assert_eq!(c.retry_max_delay, Duration::from_secs(30));
        assert_eq!(c.max_retry_after, Duration::from_secs(60));
        assert!(!c.pauses_hosts() && !c.scheduled());
    }

    #[test]
    fn the_scheduler_runs_when_a_url_may_have_to_wait() {
        let rate = Some("5/s".parse().unwrap());
        for c in [
            Config {
                max_per_host: Some(2),
                ..Config::default()
            },
            Config {
                rate_per_host: rate,
                ..Config::default()
            },
            Config {
                rate,
                ..Config::default()
            },
            Config {
                retries: 1,
                ..Config::default()
            },
        ] {
            assert!(c.scheduled() && c.pauses_hosts(), "{c:?}");
        }
        let plain = Config {
            lookahead: Some(50),
            max_concurrency: 50,
            keep_order: true,
            ..Config::default()
        };
        assert!(!plain.scheduled() && !plain.pauses_hosts());
    }

    #[test]
    fn user_headers_replace_defaults() {
        let c = Config {
            headers: vec![
                (header::USER_AGENT, HeaderValue::from_static("mine")),
                (
                    HeaderName::from_static("x-a"),
                    HeaderValue::from_static("1"),
                ),
            ],
            ..Config::default()
        };
        let h = default_headers(&c);
        assert_eq!(h.get_all(header::USER_AGENT).iter().count(), 1);
        assert_eq!(h[header::USER_AGENT], "mine");
        assert_eq!(h["x-a"], "1");
    }

    #[test]
    fn final_url_never_shows_credentials() {
        let u = Url::parse("http://u:p@h/get").unwrap();
        assert_eq!(without_userinfo(u), "http://h/get");
    }

    #[test]
    fn userinfo_becomes_basic_auth() {
        let u = Url::parse("http://us%65r:p%40ss@h/").unwrap();
        assert_eq!(basic_auth(&u).unwrap(), "Basic dXNlcjpwQHNz");
        assert!(basic_auth(&Url::parse("http://h/").unwrap()).is_none());
    }

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
