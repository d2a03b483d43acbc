//! The look-ahead scheduler: `-c`, `--max-per-host`, `--rate`,
//! `--rate-per-host`, `--lookahead`, host pauses from `Retry-After`, and the
//! waits between `--retries` attempts.
//!
//! The `Scheduler` is a `Stream` of records like `buffer_unordered(c)` (or
//! `buffered(c)` with `--keep-order`). It pulls input lines into a bounded *look-ahead
//! window* (`--lookahead N`, default 4 x `-c`) and starts, in input order,
//! every waiting URL whose host (scheme + host + port, [`url::Origin`]) is
//! below its cap, not paused, and has a rate token, and (for a retry) whose
//! next attempt is due, while fewer than `-c` requests are in flight. A URL
//! that cannot go waits in the window *without holding a global slot*, so
//! URLs of other hosts further on take the free slots: no head-of-line
//! blocking. Without per-host caps, rates or retries every URL can go at
//! once: the window is then `-c` lines, and the scheduler does what
//! `buffer_unordered(c)` does, at the same CPU cost per URL (measured on W1
//! and W3 of `bench/run.sh`).
//!
//! Each start runs one attempt. When it ends in a transient failure that
//! [`crate::retry`] allows to try again, the task hands the job back
//! (`attempt::Attempted::Retry`) with its attempt count, its start
//! time and the earliest moment of its next attempt (the backoff, or the
//! `Retry-After` delay, which also pauses the host); the scheduler frees the
//! URL's global and per-host slots and puts it back into the window at its
//! input position, where it waits like any other URL. It still counts
//! against the window. On cancellation it ends at once as `cancelled`, with
//! the attempts made.
//!
//! Memory is bounded by the window: at most N lines are waiting,
//! in flight or (unordered) queued for output at once; with `--keep-order`, at
//! most N lines lie between the oldest record not yet written and the newest
//! line read (finished records are held until the ones before them are
//! written, so a slow URL can stop the window from moving, as with
//! `buffered`).
//!
//! Per-host rate tokens are taken with governor's non-blocking `check_key`;
//! when a host has none, the scheduler sets one timer for the earliest moment
//! a blocked host can go (a token's arrival or a pause's end) and meanwhile
//! starts other hosts' URLs; a retry not yet due is handled the same way. The
//! global `--rate` token is taken the same way, last, so attempts go out in
//! input order and the wait is not counted in `elapsed_ms`; when it is
//! missing the pass ends (no URL can start), and a host token just taken is
//! lost, since governor cannot check two limiters at once: that can only slow
//! the host, never exceed its rate.
//!
//! When a dispatch pass ends with global slots free and a URL waiting for
//! its host's cap, the cap is what holds the run back: the scheduler tells
//! [`crate::config::Config::on_cap_held`] once per run (the binary then
//! warns, when the cap is its default). Until then each pass that leaves a
//! capped URL behind costs one flag test.
//!
//! With `--max-per-host auto` each host's cap adapts: the host slot holds
//! an [`crate::aimd::Aimd`] controller, each start tags its attempt with the
//! controller's current window, and each finished attempt (a retry's too)
//! feeds back what it says of the host's load (`Attempted::feedback`: a
//! 429 or 503 or a timeout is overload, another status an answer). The
//! controller lives in the host slot, so a host with no URL left in the
//! window forgets its cap and starts again at 2 when it comes back. The
//! slot keeps the cap in use beside the count in flight, a fixed one too,
//! so the check costs the same either way, and without `auto` no feedback
//! is computed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered, Stream, StreamExt};
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::aimd::Aimd;
use crate::attempt::{Attempted, Fetcher, Job};
use crate::clock;
use crate::config::Rate;
use crate::config::{CapHeld, CapHook, HostCap};
use crate::input::InputLine;
use crate::result::FetchResult;
use crate::retry::RetryState;
use crate::target::{host_key, HostKey};

/// A governor quota of one token every `rate.interval()`, no bursts.
fn quota(rate: Rate) -> Quota {
    Quota::with_period(rate.interval()).expect("interval is at least 1 ns")
}

/// The run's rate limiters.
pub(crate) struct Limits {
    /// `--rate`: one token per attempt, taken by the scheduler before the
    /// attempt gets its slot.
    pub(crate) rate: Option<DefaultDirectRateLimiter>,
    /// `--rate-per-host`: one token per attempt and host, taken by the
    /// scheduler with `check_key` before it starts the attempt.
    pub(crate) host_rate: Option<DefaultKeyedRateLimiter<HostKey>>,
}

impl Limits {
    pub(crate) fn new(rate: Option<Rate>, rate_per_host: Option<Rate>) -> Limits {
        Limits {
            rate: rate.map(|r| RateLimiter::direct(quota(r))),
            host_rate: rate_per_host.map(|r| RateLimiter::keyed(quota(r))),
        }
    }

    /// Takes `host`'s rate token now, or says how long until one is due.
    fn try_host_token(&self, host: &HostKey) -> Result<(), Duration> {
        match &self.host_rate {
            None => Ok(()),
            Some(l) => l
                .check_key(host)
                .map_err(|not_until| not_until.wait_time_from(l.clock().now())),
        }
    }

    /// Drops per-host rate state that no longer limits anything (hosts whose
    /// bucket is full again), as governor's `retain_recent` does.
    fn forget_idle_hosts(&self) {
        if let Some(l) = &self.host_rate {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Takes the global `--rate` token now, or says how long until one is
    /// due.
    fn try_global_token(&self) -> Result<(), Duration> {
        match &self.rate {
            None => Ok(()),
            Some(l) => l
                .check()
                .map_err(|not_until| not_until.wait_time_from(l.clock().now())),
        }
    }
}

/// How many hosts leave the window between two sweeps of the per-host rate
/// limiter's idle entries, so that a list of millions of hosts does not keep
/// one entry per host.
const FORGET_HOSTS_EVERY: u64 = 4096;

/// A URL in the window, waiting for its host (or, after a transient
/// failure, for its next attempt).
struct Waiting {
    seq: u64,
    host: usize,
    job: Job,
    /// For a retry: the attempts made, the URL's start, and the earliest
    /// moment the next attempt may start. `None` before the first attempt.
    retry: Option<RetryState>,
}

/// What the scheduler knows of one host in the window.
struct HostSlot {
    key: HostKey,
    /// Requests to this host in flight (started by the scheduler).
    in_flight: usize,
    /// Most requests to this host in flight: `--max-per-host`, or with
    /// `auto` the controller's cap, copied here after each change so that
    /// the check is the same load either way.
    cap: usize,
    /// With `--max-per-host auto`: the host's controller.
    aimd: Option<Aimd>,
    /// Window entries and requests that refer to this slot; freed at 0.
    refs: usize,
    /// The dispatch pass in which the host was last found unable to go.
    blocked_in_pass: u64,
    /// Window entries of this host waiting to start.
    waiting: usize,
}

/// The look-ahead scheduler: a `Stream` of records like `buffer_unordered`
/// (or `buffered`), with per-host caps, per-host rate tokens and pauses.
pub(crate) struct Scheduler {
    input: BoxStream<'static, InputLine>,
    input_done: bool,
    fetcher: Arc<Fetcher>,
    limits: Limits,
    /// `-c`: most requests in flight.
    concurrency: usize,
    /// `--max-per-host` (`usize::MAX` when only a per-host rate is set);
    /// with `auto`, the most a host's cap can grow to (`-c`).
    per_host: usize,
    /// `--max-per-host auto`: each host's cap adapts (see [`crate::aimd`]).
    adaptive: bool,
    /// `--lookahead` (at least `concurrency`).
    lookahead: usize,
    keep_order: bool,
    /// Sequence number of the next line read.
    next_seq: u64,
    /// With `keep_order`: the sequence number of the next record to yield.
    next_out: u64,
    waiting: VecDeque<Waiting>,
    /// Attempts in flight: each ends with its line's sequence number, its
    /// host slot, and the window of the host's controller it was sent in
    /// (0 without `auto`).
    running: FuturesUnordered<BoxFuture<'static, (u64, usize, u64, Attempted)>>,
    /// Finished records: in completion order, or (keep_order) by sequence.
    ready: VecDeque<FetchResult>,
    held: BTreeMap<u64, FetchResult>,
    /// Whether URLs are counted by host: only when a control that can make a
    /// URL wait is on ([`crate::config::Config::urls_may_wait`]). Otherwise
    /// every URL shares slot 0, which no cap, rate or pause ever blocks, and
    /// no host key is built or hashed.
    by_host: bool,
    hosts: Vec<HostSlot>,
    free_hosts: Vec<usize>,
    host_index: HashMap<HostKey, usize>,
    pass: u64,
    /// Hosts with at least one URL waiting in the window: once that many
    /// hosts are found unable to go, a dispatch pass stops scanning.
    hosts_waiting: usize,
    /// Host slots freed so far (to forget idle hosts' rate state now and then).
    freed: u64,
    /// Wakes the scheduler when the earliest blocked host may go.
    timer: Option<Pin<Box<Sleep>>>,
    /// Told the first time the per-host cap holds the run back; taken
    /// (`None`) once told, or from the start when nobody listens.
    on_cap_held: Option<CapHook>,
    cancel: CancellationToken,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Scheduler {
    /// A scheduler that reads `input` and runs its URLs' attempts with
    /// `fetcher`, under the fetcher's configuration.
    pub(crate) fn new(input: BoxStream<'static, InputLine>, fetcher: Arc<Fetcher>) -> Scheduler {
        let config = fetcher.config();
        let limits = Limits::new(config.rate, config.rate_per_host);
        let concurrency = config.max_concurrency.max(1);
        let adaptive = config.max_per_host == Some(HostCap::Auto);
        let per_host = match config.max_per_host {
            Some(HostCap::Fixed(n)) => n.max(1),
            Some(HostCap::Auto) => concurrency,
            None => usize::MAX,
        };
        let by_host = config.urls_may_wait();
        // Reading ahead only helps when a URL may have to wait.
        let lookahead = if by_host {
            config
                .lookahead
                .unwrap_or(concurrency.saturating_mul(4))
                .max(concurrency)
        } else {
            concurrency
        };
        let keep_order = config.keep_order;
        let cancel = config.cancel.clone();
        let on_cap_held = config.on_cap_held.clone();
        Scheduler {
            input,
            input_done: false,
            fetcher,
            limits,
            concurrency,
            per_host,
            adaptive,
            lookahead,
            keep_order,
            next_seq: 0,
            next_out: 0,
            waiting: VecDeque::new(),
            running: FuturesUnordered::new(),
            ready: VecDeque::new(),
            held: BTreeMap::new(),
            by_host,
            // Slot 0 serves every URL when they are not counted by host; its
            // own reference keeps it from ever being freed.
            hosts: if by_host {
                Vec::new()
            } else {
                vec![HostSlot {
                    key: url::Origin::new_opaque(),
                    in_flight: 0,
                    cap: usize::MAX,
                    aimd: None,
                    refs: 1,
                    waiting: 0,
                    blocked_in_pass: 0,
                }]
            },
            free_hosts: Vec::new(),
            host_index: HashMap::new(),
            pass: 0,
            hosts_waiting: 0,
            freed: 0,
            timer: None,
            on_cap_held,
            cancelled: Box::pin(cancel.clone().cancelled_owned()),
            cancel,
        }
    }

    /// Lines read and not yet yielded or (unordered) not yet finished.
    fn occupancy(&self) -> usize {
        if self.keep_order {
            (self.next_seq - self.next_out) as usize
        } else {
            self.waiting.len() + self.running.len() + self.ready.len()
        }
    }

    fn emit(&mut self, seq: u64, record: FetchResult) {
        if self.keep_order {
            self.held.insert(seq, record);
        } else {
            self.ready.push_back(record);
        }
    }

    fn take_ready(&mut self) -> Option<FetchResult> {
        if self.keep_order {
            let r = self.held.remove(&self.next_out)?;
            self.next_out += 1;
            Some(r)
        } else {
            self.ready.pop_front()
        }
    }

    fn host_slot(&mut self, key: HostKey) -> usize {
        if let Some(&i) = self.host_index.get(&key) {
            self.hosts[i].refs += 1;
            return i;
        }
        let aimd = self.adaptive.then(|| Aimd::new(self.per_host));
        let slot = HostSlot {
            key: key.clone(),
            in_flight: 0,
            cap: aimd.as_ref().map_or(self.per_host, Aimd::cap),
            aimd,
            refs: 1,
            waiting: 0,
            blocked_in_pass: 0,
        };
        let i = match self.free_hosts.pop() {
            Some(i) => {
                self.hosts[i] = slot;
                i
            }
            None => {
                self.hosts.push(slot);
                self.hosts.len() - 1
            }
        };
        self.host_index.insert(key, i);
        i
    }

    fn release_host(&mut self, i: usize) {
        let slot = &mut self.hosts[i];
        slot.refs -= 1;
        if slot.refs == 0 {
            self.host_index.remove(&slot.key);
            self.free_hosts.push(i);
            self.freed += 1;
            if self.freed.is_multiple_of(FORGET_HOSTS_EVERY) {
                self.limits.forget_idle_hosts();
            }
        }
    }

    /// Reads lines into the window while it has room and input is ready.
    fn fill(&mut self, cx: &mut Context<'_>) {
        while !self.input_done && self.occupancy() < self.lookahead {
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(line)) => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    match self.fetcher.prepare(line) {
                        Ok(job) => {
                            let host = if self.by_host {
                                self.host_slot(host_key(&job.url))
                            } else {
                                self.hosts[0].refs += 1;
                                0
                            };
                            self.count_waiting(host);
                            self.waiting.push_back(Waiting {
                                seq,
                                host,
                                job,
                                retry: None,
                            });
                        }
                        Err(record) => self.emit(seq, record),
                    }
                }
                Poll::Ready(None) => self.input_done = true,
                Poll::Pending => break,
            }
        }
    }

    /// Counts a URL of `host` entering the waiting queue.
    fn count_waiting(&mut self, host: usize) {
        self.hosts[host].waiting += 1;
        if self.hosts[host].waiting == 1 {
            self.hosts_waiting += 1;
        }
    }

    /// Starts a URL taken off the waiting queue.
    fn start(&mut self, w: Waiting) {
        self.hosts[w.host].waiting -= 1;
        if self.hosts[w.host].waiting == 0 {
            self.hosts_waiting -= 1;
        }
        self.hosts[w.host].in_flight += 1;
        let window = self.hosts[w.host].aimd.as_ref().map_or(0, Aimd::window);
        let fut = self.fetcher.start(w.job, w.retry);
        let (seq, host) = (w.seq, w.host);
        self.running
            .push(Box::pin(async move { (seq, host, window, fut.await) }));
    }

    /// Puts a URL to be tried again back into the window at its input
    /// position (the window is kept in input order), to wait for its
    /// `not_before` and its host like any other URL. It keeps its host
    /// reference and its place in the window's count.
    fn requeue(&mut self, seq: u64, host: usize, job: Job, retry: RetryState) {
        let at = self.waiting.partition_point(|w| w.seq < seq);
        self.count_waiting(host);
        self.waiting.insert(
            at,
            Waiting {
                seq,
                host,
                job,
                retry: Some(retry),
            },
        );
    }

    /// Starts waiting URLs, in input order, whose host can take them and
    /// whose retry time (if any) has come, while slots are free; arms the
    /// timer for the earliest blocked host or retry.
    fn dispatch(&mut self) {
        if self.cancel.is_cancelled() {
            // `Fetcher::start` answers at once with a `cancelled` record.
            while let Some(w) = self.waiting.pop_front() {
                self.start(w);
            }
            return;
        }
        if !self.by_host {
            // Nothing can make a URL wait: start them in input order while
            // slots are free.
            while self.running.len() < self.concurrency {
                let Some(w) = self.waiting.pop_front() else {
                    break;
                };
                self.start(w);
            }
            return;
        }
        self.pass += 1;
        let pass = self.pass;
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        // Hosts found unable to go in this pass: when every host with a
        // waiting URL is, nothing further on can start, and the scan stops
        // (a window of 100,000 lines to one host at its cap costs one step,
        // not 100,000).
        let mut blocked_hosts = 0;
        // A host found at its cap in this pass (to tell `on_cap_held`).
        let mut capped: Option<usize> = None;
        // Whether the pass ended for want of a global `--rate` token.
        let mut out_of_tokens = false;
        let mut i = 0;
        while i < self.waiting.len()
            && self.running.len() < self.concurrency
            && blocked_hosts < self.hosts_waiting
        {
            if let Some(at) = self.waiting[i].retry.map(|r| r.not_before) {
                if at > now {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    i += 1;
                    continue;
                }
            }
            let h = self.waiting[i].host;
            if self.hosts[h].blocked_in_pass == pass {
                i += 1;
                continue;
            }
            if self.hosts[h].in_flight >= self.hosts[h].cap {
                self.hosts[h].blocked_in_pass = pass;
                blocked_hosts += 1;
                capped.get_or_insert(h);
                i += 1;
                continue;
            }
            let key = &self.hosts[h].key;
            let blocked_until = match self.fetcher.pauses().paused_until(key) {
                Some(until) => Some(until),
                None => self
                    .limits
                    .try_host_token(key)
                    .err()
                    .map(|d| clock::later(now, d)),
            };
            if let Some(until) = blocked_until {
                self.hosts[h].blocked_in_pass = pass;
                blocked_hosts += 1;
                wake = Some(wake.map_or(until, |w| w.min(until)));
                i += 1;
                continue;
            }
            // The global `--rate` token last: taken here, in input order, so
            // attempts go out in input order and `elapsed_ms` (from the slot)
            // does not count the wait (taken inside the slot, tokens would go
            // to whichever task polled first). Without one no URL
            // can start, so the pass ends. The host's token just taken is then
            // lost, which can only slow that host, never speed it up.
            if let Err(d) = self.limits.try_global_token() {
                let until = clock::later(now, d);
                wake = Some(wake.map_or(until, |w| w.min(until)));
                out_of_tokens = true;
                break;
            }
            let w = self.waiting.remove(i).expect("index in range");
            self.start(w);
        }
        self.timer = wake.map(|t| Box::pin(tokio::time::sleep_until(t)));
        if let Some(h) = capped {
            if self.on_cap_held.is_some() && !out_of_tokens && self.running.len() < self.concurrency
            {
                self.tell_cap_held(h);
            }
        }
    }

    /// Tells `on_cap_held` (once) that `host`'s cap left a URL waiting while
    /// global slots stand free.
    fn tell_cap_held(&mut self, host: usize) {
        let Some(hook) = self.on_cap_held.take() else {
            return;
        };
        (hook.0)(&CapHeld {
            host: self.hosts[host].key.ascii_serialization(),
            cap: self.hosts[host].cap,
            free: self.concurrency - self.running.len(),
            slots: self.concurrency,
        });
    }
}

impl Stream for Scheduler {
    type Item = FetchResult;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FetchResult>> {
        let polled = self.as_mut().step(cx);
        // Two relaxed stores per poll: what `Config::stats` shows.
        self.fetcher
            .config()
            .stats
            .set_gauges(self.next_seq, self.running.len());
        polled
    }
}

impl Scheduler {
    /// One poll of the stream (see [`Stream::poll_next`]).
    fn step(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FetchResult>> {
        let this = &mut *self;
        loop {
            if let Some(r) = this.take_ready() {
                return Poll::Ready(Some(r));
            }
            this.fill(cx);
            this.dispatch();
            if let Some(r) = this.take_ready() {
                return Poll::Ready(Some(r));
            }
            match this.running.poll_next_unpin(cx) {
                Poll::Ready(Some((seq, host, window, attempted))) => {
                    let slot = &mut this.hosts[host];
                    slot.in_flight -= 1;
                    if let Some(aimd) = &mut slot.aimd {
                        aimd.on_feedback(attempted.feedback(), window);
                        slot.cap = aimd.cap();
                    }
                    match attempted {
                        Attempted::Done(record) => {
                            this.release_host(host);
                            this.emit(seq, record);
                        }
                        Attempted::Retry(job, retry) => this.requeue(seq, host, job, retry),
                    }
                    continue;
                }
                Poll::Ready(None) | Poll::Pending => {}
            }
            if let Some(t) = this.timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    this.timer = None;
                    continue;
                }
            }
            if !this.waiting.is_empty()
                && !this.cancel.is_cancelled()
                && this.cancelled.as_mut().poll(cx).is_ready()
            {
                continue;
            }
            let idle = this.waiting.is_empty() && this.running.is_empty();
            if this.input_done && idle && this.ready.is_empty() && this.held.is_empty() {
                return Poll::Ready(None);
            }
            return Poll::Pending;
        }
    }
}
