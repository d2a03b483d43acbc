//! File-descriptor budget: every request in flight holds a socket, so a high
//! `--max-concurrency` can run into `RLIMIT_NOFILE` (often a soft limit of 1024,
//! or 64 under `ulimit -n 64`).
//!
//! At start the soft limit is raised to the hard limit (as many servers and
//! tools do; it only affects this process). If the concurrency still does not
//! fit, it is capped, and the caller says so once on stderr, rather than letting
//! connections fail with "Too many open files". Idle keep-alive connections
//! are held to what is left ([`idle_budget`]), so a list of many distinct
//! hosts does not fill the limit with idle sockets either.

/// The fewest descriptors the process runs with: below this it refuses to
/// start (exit 2) instead of failing half-way.
pub const MIN_FDS: u64 = 32;

/// Descriptors kept back for stdin/stdout/stderr, input files, the runtime's
/// own descriptors and the retry connection.
pub const RESERVED_FDS: u64 = 16;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit
/// now in force, or `None` when it cannot be read.
pub fn raise_nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Some(lim.rlim_cur)
}

/// The concurrency that fits in `soft_limit` descriptors: `requested`, or
/// fewer (at least 1) when requests plus [`RESERVED_FDS`] would not fit.
pub fn fit_concurrency(requested: usize, soft_limit: u64) -> usize {
    let available = soft_limit.saturating_sub(RESERVED_FDS).max(1);
    (requested as u64).min(available) as usize
}

/// How many connections may stay open after their requests (idle keep-alive
/// connections, all hosts together), so that they plus `concurrency` sockets
/// in flight fit in `soft_limit` descriptors, and at most
/// [`MAX_IDLE_SOCKETS`] whatever the limit. Past it the pool closes the least
/// recently used idle connection (see `http::pool`).
pub fn idle_budget(concurrency: usize, soft_limit: u64) -> usize {
    let available = soft_limit.saturating_sub(RESERVED_FDS) as usize;
    available.saturating_sub(concurrency).min(MAX_IDLE_SOCKETS)
}

/// Idle keep-alive connections kept, all hosts together, when the open-file
/// limit would allow more. A list of many distinct hosts leaves one idle
/// connection per host that will likely never be used again: 300,000 hosts
/// once kept 19,900 sockets open, about 20 KiB of memory each (more for a TLS
/// or HTTP/2 connection), and used up the ephemeral ports. One host rarely has
/// many idle connections at once (a request takes one as soon as it is
/// free), so this cap costs a single-host run almost nothing, and open
/// sockets stay at most the concurrency plus 256.
pub const MAX_IDLE_SOCKETS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_only_when_needed() {
        assert_eq!(fit_concurrency(500, 64), 48);
        assert_eq!(fit_concurrency(5, 64), 5);
        assert_eq!(fit_concurrency(5, 3), 1);
        assert_eq!(fit_concurrency(100_000, 1_048_576), 100_000);
    }

    #[test]
    fn idle_budget_leaves_room_for_requests_in_flight() {
        assert_eq!(idle_budget(48, 64), 0);
        assert_eq!(idle_budget(5, 64), 43);
        assert_eq!(idle_budget(5, 1_048_576), MAX_IDLE_SOCKETS);
        assert_eq!(idle_budget(1_000, 1_048_576), MAX_IDLE_SOCKETS);
    }

    /// The soft limit ends at the hard limit, and the value returned is the
    /// one in force (read back with `getrlimit`).
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit with a valid, initialised struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(soft, lim.rlim_cur);
        // An unlimited hard limit is above what the kernel lets the soft
        // limit reach (`nr_open`): then the raise fails and nothing changes.
        if lim.rlim_max != libc::RLIM_INFINITY {
            assert_eq!(lim.rlim_cur, lim.rlim_max);
        }
    }
}
