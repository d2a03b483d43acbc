//! Retries: which failures are transient, the backoff
//! between attempts, and `Retry-After` (RFC 9110 sec. 10.2.3).
//!
//! With `--retries N`, a URL whose attempt ends in a transient failure is
//! tried again, up to N more times:
//! - failures of kind `connect`, `timeout` and `io`, and `dns` only when the
//!   resolver said the failure was temporary (`EAI_AGAIN`, see
//!   [`crate::error::TemporaryDns`]);
//! - responses with status 429, 502, 503 or 504 (the final status, after
//!   redirects).
//!
//! Never retried: every other kind (`invalid_url`, `tls`, `protocol`,
//! `body`, ...) and every other status (a 404 is an answer). Only idempotent
//! methods are retried (RFC 9110 sec. 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT,
//! DELETE); `--retry-all` retries the others (POST, PATCH, ...) too.
//!
//! The wait before attempt k+1 is exponential backoff with *full jitter*: a
//! random duration in `[0, min(max_delay, base * 2^(k-1))]`. A `429` or `503`
//! with `Retry-After` makes the wait at least the time it asks for, capped by
//! `--max-retry-after`, and pauses the host for that long (see
//! [`crate::schedule`]).
//!
//! This module is the policy only. The waiting happens in the look-ahead
//! scheduler of [`crate::schedule`], which `--retries` turns on: the
//! attempt's task ends, the URL's slots are freed, and the URL waits in the
//! window until its next attempt may start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method};

use tokio::time::Instant;

use crate::aimd::Feedback;
use crate::clock;
use crate::error::{ErrorKind, FetchError};
use crate::target::HostKey;

/// When and how often to try a URL again. Built from [`crate::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts after the first (`--retries`). 0: no retries.
    pub retries: u32,
    /// Backoff base (`--retry-delay`): the first wait is at most this.
    pub base: Duration,
    /// Backoff cap (`--retry-max-delay`).
    pub max_delay: Duration,
    /// Retry non-idempotent methods too (`--retry-all`).
    pub retry_all: bool,
    /// Longest `Retry-After` honoured (`--max-retry-after`).
    pub max_retry_after: Duration,
}

/// Whether a response status is worth another attempt: 429 Too Many
/// Requests, 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Whether a failure is worth another attempt: kinds `connect`, `timeout`
/// and `io`, and a `dns` failure only when it was a temporary one
/// ([`FetchError::TemporaryDns`], `EAI_AGAIN`).
pub(crate) fn is_transient(err: &FetchError) -> bool {
    match err.kind() {
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io => true,
        ErrorKind::Dns => matches!(err, FetchError::TemporaryDns(_)),
        _ => false,
    }
}

impl RetryPolicy {
    /// Whether attempt number `attempt` (1-based) of a `method` request may
    /// be followed by another.
    pub(crate) fn allows(&self, method: &Method, attempt: u32) -> bool {
        // RFC 9110 sec. 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE may
        // be sent again after a failure.
        attempt <= self.retries && (self.retry_all || method.is_idempotent())
    }

    /// The backoff ceiling after attempt `attempt` (1-based):
    /// `min(max_delay, base * 2^(attempt-1))`.
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        // Capped at the far future too, so that the jitter's float product
        // stays far from `Duration`'s limit.
        self.base
            .saturating_mul(factor)
            .min(self.max_delay)
            .min(clock::FAR_FUTURE)
    }

    /// A full-jitter backoff after attempt `attempt`: uniform in
    /// `[0, ceiling(attempt)]`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.ceiling(attempt).mul_f64(fastrand::f64())
    }

    /// The wait before the next attempt: the backoff, or the `Retry-After`
    /// delay (already capped) if that is longer.
    pub(crate) fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.backoff(attempt).max(retry_after.unwrap_or_default())
    }
}

/// The delay a `Retry-After` field asks for (RFC 9110 sec. 10.2.3): either
/// delay-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`,
/// measured from `now`; a date in the past gives 0). Capped at `cap`. `None`
/// when the value is neither.
pub(crate) fn parse_retry_after(
    value: &HeaderValue,
    now: SystemTime,
    cap: Duration,
) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let delay = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a long time".
        Duration::from_secs(text.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(text).ok()?;
        at.duration_since(now).unwrap_or_default()
    };
    Some(delay.min(cap))
}

/// Where a URL that is to be tried again stands: the attempts made so far,
/// when its clock started (its first attempt's start; the record's
/// `elapsed_ms` counts from here over every attempt and wait), and the
/// earliest moment the next attempt may start (tokio's clock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryState {
    /// Attempts made so far (at least 1).
    pub(crate) attempts: u32,
    /// When the first attempt started.
    pub(crate) started: std::time::Instant,
    /// Not before this: the backoff, or the `Retry-After` delay if longer.
    pub(crate) not_before: Instant,
    /// What the attempt just ended tells of its host's load, for the
    /// scheduler's adaptive per-host cap (set by the attempt; `Neither`
    /// until then).
    pub(crate) feedback: Feedback,
}

impl RetryPolicy {
    /// Whether attempt number `attempt` (1-based) of a `method` request,
    /// started first at `started`, is tried again after it ended `transient`ly
    /// (see [`is_transient`], [`is_transient_status`]); if so, when.
    pub(crate) fn after(
        &self,
        method: &Method,
        attempt: u32,
        transient: bool,
        retry_after: Option<Duration>,
        started: std::time::Instant,
    ) -> Option<RetryState> {
        (transient && self.allows(method, attempt)).then(|| RetryState {
            attempts: attempt,
            started,
            not_before: clock::later(Instant::now(), self.wait(attempt, retry_after)),
            feedback: Feedback::Neither,
        })
    }
}

/// Hosts told to wait by a `429` or `503` response's `Retry-After`: no new
/// request goes to a paused host before its pause ends. Attempts set pauses
/// (only while the scheduler runs); the scheduler checks them before it
/// starts a URL. Uses tokio's clock (so paused test time applies).
#[derive(Default)]
pub(crate) struct HostPauses {
    /// Set once any pause was recorded: until then, checks cost one load.
    any: AtomicBool,
    until: Mutex<HashMap<HostKey, Instant>>,
}

impl HostPauses {
    /// Pauses `host` until `until` (a later pause already set is kept).
    pub(crate) fn pause(&self, host: &HostKey, until: Instant) {
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, t| *t > now);
        let t = map.entry(host.clone()).or_insert(until);
        *t = (*t).max(until);
        self.any.store(true, Ordering::Release);
    }

    /// When `host`'s pause ends, if it is paused now.
    pub(crate) fn paused_until(&self, host: &HostKey) -> Option<Instant> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        map.get(host).copied().filter(|t| *t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            retry_all: false,
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let p = policy();
        let ceilings: Vec<u64> = (1..=5).map(|a| p.ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 5, 5]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(5));
        for attempt in 1..=5 {
            for _ in 0..100 {
                assert!(p.backoff(attempt) <= p.ceiling(attempt));
            }
        }
        // Full jitter: the waits spread over the range, not all at the top.
        let low = (0..200)
            .filter(|_| p.backoff(3) < Duration::from_secs(2))
            .count();
        assert!((40..160).contains(&low), "{low}");
        assert!(p.wait(1, Some(Duration::from_secs(9))) == Duration::from_secs(9));
    }

    #[test]
    fn only_idempotent_methods_unless_retry_all() {
        let p = policy();
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(p.allows(&m.parse().unwrap(), 1), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT", "PURGE"] {
            assert!(!p.allows(&m.parse().unwrap(), 1), "{m}");
        }
        let all = RetryPolicy {
            retry_all: true,
            ..p
        };
        assert!(all.allows(&Method::POST, 3));
        assert!(
            !all.allows(&Method::POST, 4),
            "only `retries` more attempts"
        );
    }

    #[test]
    fn transient_kinds_and_statuses() {
        let transport = |kind| FetchError::Transport {
            kind,
            message: String::new(),
        };
        for k in [ErrorKind::Connect, ErrorKind::Timeout, ErrorKind::Io] {
            assert!(is_transient(&transport(k)), "{k}");
        }
        assert!(!is_transient(&transport(ErrorKind::Dns)));
        assert!(is_transient(&FetchError::TemporaryDns("again".into())));
        assert!(is_transient(&FetchError::Timeout(Duration::from_secs(1))));
        for k in [
            ErrorKind::InvalidUrl,
            ErrorKind::Tls,
            ErrorKind::Protocol,
            ErrorKind::Body,
            ErrorKind::Cancelled,
        ] {
            assert!(!is_transient(&transport(k)), "{k}");
        }
        assert!(!is_transient(&FetchError::Cancelled));
        let statuses: Vec<u16> = (100..600).filter(|s| is_transient_status(*s)).collect();
        assert_eq!(statuses, [429, 502, 503, 504]);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let cap = Duration::from_secs(60);
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(
            parse_retry_after(&v("5"), now, cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after(&v("3600"), now, cap), Some(cap));
        assert_eq!(
            parse_retry_after(&v("99999999999999999999999"), now, cap),
            Some(cap)
        );
        assert_eq!(
            parse_retry_after(&v("Sun, 06 Nov 1994 08:49:47 GMT"), now, cap),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after(&v("Sun, 06 Nov 1994 08:00:00 GMT"), now, cap),
            Some(Duration::ZERO)
        );
        // The obsolete RFC 850 and asctime forms are HTTP-dates too.
        assert_eq!(
            parse_retry_after(&v("Sunday, 06-Nov-94 08:49:38 GMT"), now, cap),
            Some(Duration::from_secs(1))
        );
        for bad in ["", "-1", "1.5", "soon", "5 s"] {
            assert_eq!(parse_retry_after(&v(bad), now, cap), None, "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_expire_and_keep_the_later_end() {
        let p = HostPauses::default();
        let h = crate::target::host_key(&url::Url::parse("http://a/").unwrap());
        assert_eq!(p.paused_until(&h), None);
        let t = Instant::now() + Duration::from_secs(2);
        p.pause(&h, t);
        p.pause(&h, Instant::now() + Duration::from_secs(1));
        assert_eq!(p.paused_until(&h), Some(t));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(p.paused_until(&h), None);
    }
}
