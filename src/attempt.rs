//! One URL's attempts: from an input line to its request, its redirects,
//! its body and its record.
//!
//! [`Fetcher`] holds what every attempt shares: the pooled client
//! ([`crate::http`]), the run's [`Config`], the default header fields built
//! once, the retry policy and the `Retry-After` host pauses.
//! [`Fetcher::prepare`] turns a line into a [`Job`] (or straight into its
//! failure record, without a request); [`Fetcher::start`] spawns one attempt
//! of a job as its own tokio task, so requests keep progressing while the
//! consumer (stdout) is slow. An attempt runs under one `tokio::time::timeout`
//! that covers resolution, connect, TLS, every redirect hop and the whole
//! body, and ends [`Attempted::Done`] with the record, or
//! [`Attempted::Retry`] after a transient failure that the retry policy
//! allows to try again: the attempt does not wait for its next one; the
//! caller (the scheduler) holds the job meanwhile.
//!
//! This layer knows nothing of concurrency: how many attempts run at once,
//! and in which order, is the caller's business.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::future::{self, Either};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use tokio::task::JoinHandle;
use url::Url;

use crate::aimd::Feedback;
use crate::clock;
use crate::config::{BodyHash, Config};
use crate::error::{ErrorKind, FetchError};
use crate::http::body::{check_framing, read_body, BodyOptions, ACCEPT_ENCODING};
use crate::http::redirect::{drain_small, is_redirect, redirect_target, resolve_location};
use crate::http::{build_client, ConnInfo, HttpClient, RequestBody};
use crate::input::InputLine;
use crate::result::{round_ms, with_spec_hash, FetchResult, Passthrough, ResponseFacts};
use crate::retry::{self, HostPauses, RetryPolicy, RetryState};
use crate::store::{RequestParts, ResponseParts, Stash};
use crate::target::{check_target, host_key, parse_url, request_uri, same_origin, HostKey};

/// What every attempt shares (behind one `Arc`).
pub(crate) struct Fetcher {
    client: HttpClient,
    config: Config,
    /// Default header fields plus the user's, built once.
    headers: HeaderMap,
    /// `config.retry_policy()`, built once.
    retry: RetryPolicy,
    /// `Retry-After` pauses, set here and read by the scheduler.
    pauses: Arc<HostPauses>,
    /// Whether a `Retry-After` pauses its host ([`Config::urls_may_wait`]).
    pauses_hosts: bool,
    /// `Authorization: Basic` from [`Config::user`], built once (marked
    /// sensitive).
    user_auth: Option<HeaderValue>,
}

impl Fetcher {
    /// The client and shared state for a run of `config`.
    pub(crate) fn new(config: Config) -> Fetcher {
        Fetcher {
            client: build_client(
                config.max_concurrency.max(1),
                &config.client,
                config.stats.client(),
            ),
            headers: default_headers(&config),
            retry: config.retry_policy(),
            pauses: Arc::new(HostPauses::default()),
            pauses_hosts: config.urls_may_wait(),
            user_auth: config
                .user
                .as_ref()
                .map(|c| crate::http::basic_auth(c.user.as_bytes(), c.password.as_bytes())),
            config,
        }
    }

    /// Whether a final `status` is a success: always, unless
    /// [`Config::accept`] names the statuses that are.
    fn accepts(&self, status: u16) -> bool {
        self.config
            .accept
            .as_ref()
            .is_none_or(|set| set.contains(status))
    }

    /// The run's settings.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The host pauses that `Retry-After` sets.
    pub(crate) fn pauses(&self) -> &Arc<HostPauses> {
        &self.pauses
    }

    /// Turns a line into a [`Job`], or into its failure record when it cannot be
    /// fetched at all (no request is made; `elapsed_ms` is 0).
    pub(crate) fn prepare(&self, line: InputLine) -> Result<Job, FetchResult> {
        let started = Instant::now();
        let InputLine {
            text,
            problem,
            line,
            spec,
        } = line;
        let mut spec = spec.map(|s| *s).unwrap_or_default();
        spec.extra = with_spec_hash(spec.spec_hash, spec.extra.take());
        let url = match problem {
            Some(e) => Err(e),
            None => parse_url(&text, self.config.default_scheme),
        };
        match url {
            Ok(url) => {
                let body = spec.body.or_else(|| self.config.body.clone());
                // curl's rule: a body without -X (or a spec "method") means POST.
                let method = spec
                    .method
                    .or_else(|| self.config.method.clone())
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
                let line = line.filter(|_| e.kind() == ErrorKind::InvalidInput);
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

    /// Spawns one attempt of `job` as its own task (attempt 1 when `retry` is
    /// `None`, when the URL's clock starts; else attempt `retry.attempts + 1`)
    /// and returns how it ended. Dropping the future aborts the task. After
    /// cancellation it answers at once with a `cancelled` record.
    pub(crate) fn start(
        self: &Arc<Self>,
        mut job: Job,
        retry: Option<RetryState>,
    ) -> impl Future<Output = Attempted> + Send {
        let started = retry.map_or_else(Instant::now, |r| r.started);
        let attempts_made = retry.map_or(0, |r| r.attempts);
        let extra = job.extra.take();
        if self.config.cancel.is_cancelled() {
            let mut record = failure(job.text, FetchError::Cancelled, started);
            record.set_attempts(attempts_made);
            record.set_extra(extra);
            return Either::Left(future::ready(Attempted::Done(record)));
        }
        let echo = job.text.clone();
        // Saturates: `--retries 4294967295` allows one attempt more than a
        // u32 counts.
        let attempt = attempts_made.saturating_add(1);
        // Boxed: the attempt's future is several KiB, and tokio moves a
        // spawned future (and its task cell) several times on the way into
        // the task; a box is moved as one pointer (measured: about 3,700
        // fewer instructions per URL in `bench/ir.sh`, for one allocation).
        let task = AbortOnDrop(tokio::spawn(Box::pin(run_attempt(
            self.clone(),
            job,
            attempt,
            started,
        ))));
        Either::Right(async move {
            let mut task = task;
            let mut record = match (&mut task.0).await {
                Ok(Attempted::Retry(mut job, retry)) => {
                    job.extra = extra;
                    return Attempted::Retry(job, retry);
                }
                Ok(Attempted::Done(r)) => r,
                Err(e) => {
                    let err = if e.is_cancelled() {
                        FetchError::Cancelled
                    } else {
                        FetchError::Transport {
                            kind: ErrorKind::Io,
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
    pub(crate) extra: Option<Box<Passthrough>>,
}

/// How an attempt of a URL ended: with the URL's record, or with a transient
/// failure to try again (the job comes back, to wait for its next attempt
/// without holding a slot).
pub(crate) enum Attempted {
    /// The URL is finished: its record.
    Done(FetchResult),
    /// Try again as attempt `retry.attempts + 1`, not before
    /// `retry.not_before`.
    Retry(Job, RetryState),
}

impl Attempted {
    /// What this attempt tells of its host's load (for `--max-per-host
    /// auto`): the final status of a response (a `status` failure's too),
    /// else the failure's kind.
    pub(crate) fn feedback(&self) -> Feedback {
        match self {
            Attempted::Retry(_, retry) => retry.feedback,
            Attempted::Done(FetchResult::Success { status, .. })
            | Attempted::Done(FetchResult::Failure {
                status: Some(status),
                ..
            }) => Feedback::of_status(*status),
            Attempted::Done(FetchResult::Failure { error_kind, .. }) => {
                Feedback::of_failure(*error_kind)
            }
        }
    }
}

fn failure(url: String, err: FetchError, started: Instant) -> FetchResult {
    FetchResult::Failure {
        url,
        error: err.to_string(),
        error_kind: err.kind(),
        elapsed_ms: elapsed_ms(started),
        status: None,
        line: None,
        response: None,
        attempts: None,
        extra: None,
    }
}

fn elapsed_ms(started: Instant) -> f64 {
    round_ms(started.elapsed().as_secs_f64() * 1000.0)
}

/// One attempt of a URL, as a spawned task, under its own `timeout`. A
/// transient failure with retries left does not wait here: the job comes
/// back as [`Attempted::Retry`] with the time its next attempt may start, so
/// the scheduler can free its slots meanwhile. A `429`/`503` with
/// `Retry-After` pauses the host (while the scheduler runs). Otherwise the
/// record is this attempt's, with `attempts` and an `elapsed_ms` counted
/// from `started` over every attempt and wait.
async fn run_attempt(fetcher: Arc<Fetcher>, job: Job, attempt: u32, started: Instant) -> Attempted {
    let cancel = fetcher.config.cancel.clone();
    let policy = fetcher.retry;
    let limit = fetcher.config.timeout;
    // Outside the deadline, so what a timed-out exchange spooled can still
    // be removed before its record goes out.
    let mut stash = Stash::new(
        fetcher.config.output_dir.as_deref(),
        fetcher.config.warc.as_ref(),
    );
    let outcome = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(FetchError::Cancelled),
        r = tokio::time::timeout(limit, exchange(&fetcher, &job, &mut stash)) => {
            r.unwrap_or(Err(FetchError::Timeout(limit)))
        }
    };
    let retry_after = match &outcome {
        Ok(done) => done
            .retry_after
            .as_ref()
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now(), policy.max_retry_after)),
        Err(_) => None,
    };
    if let (Some(delay), Ok(done)) = (retry_after, &outcome) {
        if fetcher.pauses_hosts {
            // The host that answered, which after a redirect is not the
            // input URL's.
            let until = clock::later(tokio::time::Instant::now(), delay);
            fetcher.pauses.pause(&done.responder, until);
        }
    }
    let transient = match &outcome {
        Ok(done) => retry::is_transient_status(done.status),
        Err(e) => retry::is_transient(e),
    };
    if let Some(mut retry) = policy.after(&job.method, attempt, transient, retry_after, started) {
        stash.discard().await;
        retry.feedback = match &outcome {
            Ok(done) => Feedback::of_status(done.status),
            Err(e) => Feedback::of_failure(e.kind()),
        };
        return Attempted::Retry(job, retry);
    }
    // The record's time ends with the body, before it is stored. Only the
    // attempt whose record goes out keeps its body and exchanges.
    let elapsed = elapsed_ms(started);
    let outcome = match outcome {
        Ok(mut done) if stash.is_on() => match stash.keep().await {
            Ok(path) => {
                done.facts.body_path = path;
                Ok(done)
            }
            Err(e) => Err(e),
        },
        Ok(done) => Ok(done),
        Err(e) => {
            stash.discard().await;
            Err(e)
        }
    };
    let mut record = match outcome {
        // The exchange completed, but the run does not accept its final
        // status (a dead link, with `--accept 200..=299`).
        Ok(done) if !fetcher.accepts(done.status) && !done.facts.not_modified => {
            FetchResult::Failure {
                url: job.text,
                status: Some(done.status),
                error: FetchError::Status(done.status).to_string(),
                error_kind: ErrorKind::Status,
                elapsed_ms: elapsed,
                line: None,
                response: Some(done.facts),
                attempts: None,
                extra: None,
            }
        }
        Ok(done) => FetchResult::Success {
            url: job.text,
            status: done.status,
            size: done.size,
            elapsed_ms: elapsed,
            http_version: done.http_version,
            wire_size: done.wire_size,
            response: Some(done.facts),
            attempts: None,
            extra: None,
        },
        Err(e) => failure(job.text, e, started),
    };
    record.set_attempts(attempt);
    Attempted::Done(record)
}

/// What one exchange (a request, its redirects and the final body) gave.
struct Exchange {
    status: u16,
    size: u64,
    wire_size: Option<u64>,
    http_version: &'static str,
    /// The `Retry-After` field of a final 429 or 503 response.
    retry_after: Option<HeaderValue>,
    /// The host of the final response (after any redirect): the one a
    /// `Retry-After` pauses.
    responder: HostKey,
    /// What the record says of the final response and its connection.
    facts: Box<ResponseFacts>,
}

/// Milliseconds, rounded as in records.
fn ms(d: Duration) -> f64 {
    round_ms(d.as_secs_f64() * 1000.0)
}

/// A field value as text: UTF-8, with any other byte shown as U+FFFD.
fn lossy(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// The record's facts of a final response with these `headers` and
/// `status`, received from `url` after `redirects` redirects over a
/// connection `conn`, its head `ttfb` after the hop started; `sha256` is
/// filled in once the body is read.
fn response_facts(
    config: &Config,
    url: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    redirects: u32,
    conn: ConnInfo,
    ttfb: Duration,
) -> Box<ResponseFacts> {
    // One pass over the fields instead of a hash lookup per name: the
    // first field line of each name, as `HeaderMap::get` gives.
    let (mut content_type, mut etag, mut last_modified) = (None, None, None);
    for (name, value) in headers {
        let slot = if *name == header::CONTENT_TYPE {
            &mut content_type
        } else if *name == header::ETAG {
            &mut etag
        } else if *name == header::LAST_MODIFIED {
            &mut last_modified
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(lossy(value));
        }
    }
    // The first `Location` of a 3xx that was not followed, where a client
    // would go next.
    let location = status
        .is_redirection()
        .then(|| headers.get(header::LOCATION))
        .flatten()
        .filter(|v| !v.as_bytes().trim_ascii().is_empty())
        .map(|v| match resolve_location(url, v.as_bytes()) {
            Some(next) => without_userinfo(next),
            None => lossy(v),
        });
    let mut picked = BTreeMap::new();
    for name in &config.include_headers {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            continue;
        };
        let mut joined = lossy(first);
        for v in values {
            joined.push_str(", ");
            joined.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
        picked.insert(name.as_str().to_owned(), joined);
    }
    let phases = conn.phases;
    Box::new(ResponseFacts {
        not_modified: false,
        final_url: (redirects > 0).then(|| without_userinfo(url.clone())),
        location,
        redirects: (redirects > 0).then_some(redirects),
        remote_addr: conn.remote_addr,
        reused: conn.reused,
        dns_ms: phases.and_then(|p| p.dns).map(ms),
        connect_ms: phases.map(|p| ms(p.connect)),
        tls_ms: phases.and_then(|p| p.tls).map(ms),
        ttfb_ms: ms(ttfb),
        content_type,
        etag,
        last_modified,
        headers: (!picked.is_empty()).then_some(picked),
        sha256: None,
        body_path: None,
    })
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
    fetcher: &Fetcher,
    job: &Job,
    method: &Method,
    body: HopBody<'_>,
    current: &Url,
    origin: &Url,
    cross_origin: bool,
) -> Result<Request<RequestBody>, FetchError> {
    let data = match body {
        HopBody::Send(b) => b.clone(),
        HopBody::None | HopBody::Dropped => bytes::Bytes::new(),
    };
    let mut req = Request::builder()
        .method(method.clone())
        .uri(request_uri(current)?)
        .body(RequestBody::new(data))
        .map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    let headers = req.headers_mut();
    for (name, value) in &fetcher.headers {
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
    // Credentials by precedence: an Authorization field given by the user,
    // the hop URL's userinfo, then (on the input URL's origin only) the
    // input URL's userinfo and `--user`.
    if !headers.contains_key(header::AUTHORIZATION) {
        let value = if has_userinfo(current) {
            basic_auth(current)
        } else if !cross_origin {
            basic_auth(origin).or_else(|| fetcher.user_auth.clone())
        } else {
            None
        };
        if let Some(value) = value {
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

/// What the WARC record of a response head shows: `url` without
/// `user:password@` and `#fragment` (neither is sent), the version, status,
/// reason phrase, fields and peer.
fn response_parts<'r>(
    url: &Url,
    head: &'r http::response::Parts,
    conn: ConnInfo,
) -> ResponseParts<'r> {
    let mut sent = url.clone();
    sent.set_fragment(None);
    ResponseParts {
        uri: without_userinfo(sent),
        version: head.version,
        status: head.status,
        reason: head
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| r.as_bytes()),
        headers: &head.headers,
        ip: conn.remote_addr.map(|a| a.ip()),
    }
}

/// Requests the job's URL, follows redirects, and counts the final body's
/// bytes; with `--output-dir` or `--warc`, `stash` gets the final body and
/// the exchanges as they go.
async fn exchange(
    fetcher: &Fetcher,
    job: &Job,
    stash: &mut Stash<'_>,
) -> Result<Exchange, FetchError> {
    let config = &fetcher.config;
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
        let hop_started = Instant::now();
        let mut validators;
        let resp = loop {
            let req = build_request(fetcher, job, &method, body, &current, &origin, cross_origin)?;
            validators = Validators::of(req.headers());
            if stash.records_exchanges() {
                stash.request(RequestParts {
                    method: req.method(),
                    url: &current,
                    headers: req.headers(),
                    body: match body {
                        HopBody::Send(b) => b,
                        HopBody::None | HopBody::Dropped => &[],
                    },
                });
            }
            match fetcher.client.request(req, resends > 0).await {
                Ok(resp) => break resp,
                Err(e)
                    if method.is_idempotent()
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
        let ttfb = hop_started.elapsed();
        let status = resp.status();
        let http_version = version_name(resp.version());
        // Framing is checked as soon as the head arrives, before a redirect is
        // followed or a body byte read. A response known to have no body
        // (HEAD, 204, 304) has no framing to trust. Returning drops the
        // unread body, which closes its connection.
        if !hyper::body::Body::is_end_stream(resp.body()) {
            check_framing(resp.version(), resp.headers())?;
        }
        if is_redirect(status) && config.max_redirects > 0 {
            if let Some(next) = redirect_target(&current, resp.headers())? {
                if redirects >= config.max_redirects {
                    return Err(FetchError::TooManyRedirects(config.max_redirects));
                }
                check_target(&next)?;
                let (head, incoming) = resp.into_parts();
                let conn = incoming.conn_info();
                let drained = drain_small(incoming).await;
                if stash.records_exchanges() {
                    stash.hop(response_parts(&current, &head, conn), drained);
                }
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
        let options = BodyOptions {
            decode: config.compressed,
            max_size: config.max_size,
            sha256: config.hash == Some(BodyHash::Sha256),
        };
        let (head, incoming) = resp.into_parts();
        let mut facts = response_facts(
            config,
            &current,
            status,
            &head.headers,
            redirects,
            incoming.conn_info(),
            ttfb,
        );
        let not_modified = validators.any() && status == StatusCode::NOT_MODIFIED;
        if not_modified {
            validators.fill_in(&mut facts);
        }
        if stash.is_on() {
            stash.start_final(
                &job.url,
                response_parts(&current, &head, incoming.conn_info()),
                not_modified,
            );
        }
        let read = read_body(&head.headers, incoming, options, stash.taps()).await?;
        facts.sha256 = read.sha256.map(|d| data_encoding::HEXLOWER.encode(&d));
        facts.not_modified = not_modified;
        return Ok(Exchange {
            facts,
            status: status.as_u16(),
            size: read.size,
            wire_size: read.wire_size,
            http_version,
            responder: host_key(&current),
            retry_after,
        });
    }
}

/// The validators of a copy the client holds that a request carried (RFC
/// 9110 sec. 13.1.2 `If-None-Match`, 13.1.3 `If-Modified-Since`): with
/// either, the request is conditional, and a `304` answer means that copy
/// is current.
struct Validators {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
}

impl Validators {
    /// The request's `If-None-Match` and `If-Modified-Since`.
    fn of(headers: &HeaderMap) -> Validators {
        Validators {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            if_modified_since: headers.get(header::IF_MODIFIED_SINCE).cloned(),
        }
    }

    fn any(&self) -> bool {
        self.if_none_match.is_some() || self.if_modified_since.is_some()
    }

    /// A `304` says the copy the validators came from is current, and
    /// should repeat its `ETag` and `Last-Modified` (RFC 9110 sec. 15.4.5)
    /// but need not: what it leaves out is taken from the request, so the
    /// record names the current copy's validators and a later
    /// `--if-changed` run over this output can send them again. An
    /// `If-None-Match` listing several tags, or `*`, names no one copy and
    /// is not taken.
    fn fill_in(self, facts: &mut ResponseFacts) {
        let text = |v: HeaderValue| v.to_str().ok().map(str::to_owned);
        if facts.etag.is_none() {
            facts.etag = self
                .if_none_match
                .and_then(text)
                .filter(|tag| tag != "*" && !tag.contains(','));
        }
        if facts.last_modified.is_none() {
            facts.last_modified = self.if_modified_since.and_then(text);
        }
    }
}

/// The run's header fields: the defaults, replaced by the user's of the
/// same name.
fn default_headers(config: &Config) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(ua) = HeaderValue::from_str(&config.user_agent) {
        h.insert(header::USER_AGENT, ua);
    }
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    if config.compressed {
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn facts_take_the_first_line_of_each_named_field() {
        let mut h = HeaderMap::new();
        h.append(header::DATE, HeaderValue::from_static("d"));
        h.append(header::ETAG, HeaderValue::from_static("\"e1\""));
        h.append(header::CONTENT_TYPE, HeaderValue::from_static("text/a"));
        h.append(header::CONTENT_TYPE, HeaderValue::from_static("text/b"));
        h.append(header::ETAG, HeaderValue::from_static("\"e2\""));
        let url = Url::parse("http://h/").unwrap();
        let facts = response_facts(
            &Config::default(),
            &url,
            StatusCode::OK,
            &h,
            0,
            ConnInfo::default(),
            Duration::ZERO,
        );
        assert_eq!(facts.content_type.as_deref(), Some("text/a"));
        assert_eq!(facts.etag.as_deref(), Some("\"e1\""));
        assert_eq!(facts.last_modified, None);
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
}
