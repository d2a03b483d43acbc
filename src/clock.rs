//! Deadlines from durations that users and servers choose.
//!
//! A duration from a flag (`--timeout 1e19`, `--retry-delay`,
//! `--max-retry-after`) or from a server (`Retry-After:
//! 99999999999999999999`) can be far larger than any clock can hold, and
//! `Instant + Duration` panics when the sum overflows. Every deadline built
//! from such a duration goes through [`later`], which saturates at
//! [`FAR_FUTURE`] from the start instant: a wait that long is never reached
//! in practice, and it is what tokio itself uses for a `timeout` or `sleep`
//! too long to represent.

use std::time::Duration;

use tokio::time::Instant;

/// The longest wait a deadline stands for: about 30 years, as tokio's own
/// far-future instant.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + wait`, with `wait` capped at [`FAR_FUTURE`] so that the sum never
/// overflows.
pub(crate) fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait.min(FAR_FUTURE)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_waits_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(2)),
            now + Duration::from_secs(2)
        );
        assert_eq!(later(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(
            later(now, Duration::from_secs(u64::MAX / 2)),
            now + FAR_FUTURE
        );
        // The saturated deadline still leaves room for the timer's rounding.
        let _ = later(now, Duration::MAX) + Duration::from_secs(1);
    }
}
