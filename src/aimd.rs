//! The adaptive per-host cap of `--max-per-host auto`: additive increase,
//! multiplicative decrease (AIMD), as TCP's congestion window grows and
//! shrinks (RFC 5681 sec. 3.1).
//!
//! [`Aimd`] is one host's controller, a plain struct the scheduler
//! ([`crate::schedule`]) keeps beside the host's count of requests in flight
//! and feeds with each finished attempt:
//!
//! - It starts at [`INITIAL_CAP`] (2; lower only when `-c` is lower).
//! - **Decrease.** A sign of overload from the host, a `429` or `503`
//!   response or a `timeout` failure, halves the cap (rounded down, at
//!   least 1), once per *window*: each request is tagged with the window it
//!   was sent in ([`Aimd::window`]), and a decrease opens a new one. A sign
//!   from a request sent before the last decrease does not halve the cap
//!   again (those requests were sent at the old, larger cap; TCP likewise
//!   reacts once per round trip, RFC 5681 sec. 3.2, RFC 6582).
//! - **Increase.** A run of `cap` answers in a row (any other status) raises
//!   the cap by one, up to `-c` (`max`): one more request per full window's
//!   worth of answers, TCP's congestion avoidance.
//! - **Probing again.** The cap that failed is remembered. Reaching it (or
//!   passing it) again needs a longer run: [`PROBE_RUN`] x `cap` answers,
//!   doubled each time the probe fails at that cap again (a *strike*), up to
//!   [`MAX_PROBE_DOUBLINGS`] doublings. A server that refuses its 4th
//!   request at once is then asked for a 4th ever more rarely, so few
//!   requests are refused, while a server whose capacity grew is still
//!   found out. Once the cap passes the remembered one, it is forgotten.
//!
//! Other failures (`connect`, `dns`, `tls`, ...) say nothing of the host's
//! load and leave the controller as it is.

use crate::error::ErrorKind;

/// The cap each host starts at (unless `-c` is lower).
pub(crate) const INITIAL_CAP: usize = 2;

/// Answers in a row needed per unit of cap to reach the cap that last
/// failed: `PROBE_RUN x cap` instead of `cap`.
pub(crate) const PROBE_RUN: usize = 4;

/// Most doublings of the probe run after failed probes at the same cap
/// (so the longest run is `PROBE_RUN x 2^MAX_PROBE_DOUBLINGS x cap`).
pub(crate) const MAX_PROBE_DOUBLINGS: u32 = 4;

/// What one finished attempt tells of its host's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feedback {
    /// The host answered with a status other than 429 and 503.
    Answered,
    /// A `429` or `503` response, or a `timeout`: the host is overloaded.
    Overloaded,
    /// Anything else (a connect or DNS failure, cancellation, ...): no
    /// sign either way.
    Neither,
}

impl Feedback {
    /// The feedback of a response with final status `status`: `429` (Too
    /// Many Requests, RFC 6585 sec. 4) and `503` (Service Unavailable, RFC
    /// 9110 sec. 15.6.4) are overload, any other status an answer.
    pub(crate) fn of_status(status: u16) -> Feedback {
        match status {
            429 | 503 => Feedback::Overloaded,
            _ => Feedback::Answered,
        }
    }

    /// The feedback of a failure of kind `kind` without a response: a
    /// `timeout` is overload, any other kind no sign.
    pub(crate) fn of_failure(kind: ErrorKind) -> Feedback {
        match kind {
            ErrorKind::Timeout => Feedback::Overloaded,
            _ => Feedback::Neither,
        }
    }
}

/// One host's adaptive cap (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aimd {
    /// Requests to the host allowed in flight now, in `1..=max`.
    cap: usize,
    /// The ceiling of the cap (`-c`).
    max: usize,
    /// Answers in a row since the cap last changed (or since the last sign
    /// of overload).
    run: usize,
    /// The window requests are sent in now; a decrease opens the next one.
    window: u64,
    /// The cap at the last decrease, while the cap has not passed it since.
    failed_at: Option<usize>,
    /// Decreases in a row at (or above) `failed_at`: each doubles the run
    /// needed to reach it again.
    strikes: u32,
}

impl Aimd {
    /// A controller for a host under a global cap of `max` (at least 1).
    pub(crate) fn new(max: usize) -> Aimd {
        let max = max.max(1);
        Aimd {
            cap: INITIAL_CAP.min(max),
            max,
            run: 0,
            window: 0,
            failed_at: None,
            strikes: 0,
        }
    }

    /// Requests to the host allowed in flight now.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// The window a request sent now belongs to: give it back to
    /// [`Aimd::on_overload`] when that request shows overload.
    pub(crate) fn window(&self) -> u64 {
        self.window
    }

    /// Takes one finished attempt's feedback; `sent_in` is the window the
    /// request was sent in.
    pub(crate) fn on_feedback(&mut self, feedback: Feedback, sent_in: u64) {
        match feedback {
            Feedback::Answered => self.on_answer(),
            Feedback::Overloaded => self.on_overload(sent_in),
            Feedback::Neither => {}
        }
    }

    /// An answer: one more in the run; a full run raises the cap by one.
    pub(crate) fn on_answer(&mut self) {
        self.run += 1;
        if self.cap < self.max && self.run >= self.run_needed() {
            self.cap += 1;
            self.run = 0;
            if self.failed_at.is_some_and(|failed| self.cap > failed) {
                self.failed_at = None;
                self.strikes = 0;
            }
        }
    }

    /// A sign of overload from a request sent in window `sent_in`: halves
    /// the cap, unless the cap was already halved since that request went.
    /// Either way the run of answers starts again.
    pub(crate) fn on_overload(&mut self, sent_in: u64) {
        self.run = 0;
        if sent_in != self.window {
            return;
        }
        self.strikes = match self.failed_at {
            Some(failed) if self.cap >= failed => self.strikes.saturating_add(1),
            _ => 1,
        };
        self.failed_at = Some(self.cap);
        self.cap = (self.cap / 2).max(1);
        self.window += 1;
    }

    /// Answers in a row needed to raise the cap by one from where it is.
    fn run_needed(&self) -> usize {
        match self.failed_at {
            Some(failed) if self.cap + 1 >= failed => {
                let doublings = self.strikes.saturating_sub(1).min(MAX_PROBE_DOUBLINGS);
                self.cap.saturating_mul(PROBE_RUN) << doublings
            }
            _ => self.cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` answers.
    fn answers(a: &mut Aimd, n: usize) {
        for _ in 0..n {
            a.on_answer();
        }
    }

    #[test]
    fn starts_at_two_or_at_the_global_cap() {
        assert_eq!(Aimd::new(50).cap(), INITIAL_CAP);
        assert_eq!(Aimd::new(1).cap(), 1);
        assert_eq!(Aimd::new(0).cap(), 1);
    }

    /// A full window's worth of answers (`cap` in a row) adds one, up to
    /// the global cap.
    #[test]
    fn grows_by_one_per_window_of_answers_up_to_max() {
        let mut a = Aimd::new(5);
        answers(&mut a, 1);
        assert_eq!(a.cap(), 2);
        answers(&mut a, 1);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 1);
        assert_eq!(a.cap(), 4);
        answers(&mut a, 4);
        assert_eq!(a.cap(), 5);
        answers(&mut a, 100);
        assert_eq!(a.cap(), 5);
    }

    /// Overload halves the cap (rounded down, at least 1), once per window:
    /// requests sent before the decrease do not halve it again.
    #[test]
    fn halves_once_per_window() {
        let mut a = Aimd::new(64);
        answers(&mut a, 2 + 3 + 4 + 5 + 6 + 7 + 8);
        assert_eq!(a.cap(), 9);
        let old = a.window();
        a.on_overload(old);
        assert_eq!(a.cap(), 4);
        // Three more of the requests sent at 9 come back refused.
        for _ in 0..3 {
            a.on_overload(old);
        }
        assert_eq!(a.cap(), 4);
        // One sent after the decrease halves it again.
        a.on_overload(a.window());
        assert_eq!(a.cap(), 2);
        a.on_overload(a.window());
        assert_eq!(a.cap(), 1);
        a.on_overload(a.window());
        assert_eq!(a.cap(), 1, "never below 1");
    }

    /// Overload resets the run of answers, even one from an old window.
    #[test]
    fn overload_restarts_the_run() {
        let mut a = Aimd::new(64);
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 2);
        a.on_overload(a.window().wrapping_sub(1));
        assert_eq!(a.cap(), 3);
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3, "the run started again");
        answers(&mut a, 1);
        assert_eq!(a.cap(), 4);
    }

    /// After a decrease the cap climbs back at the usual pace below the cap
    /// that failed, then needs `PROBE_RUN x cap` answers to reach it,
    /// doubled with each failed probe, and forgets it once past it.
    #[test]
    fn probes_the_failed_cap_ever_more_rarely() {
        let mut a = Aimd::new(64);
        answers(&mut a, 2 + 3);
        assert_eq!(a.cap(), 4);
        a.on_overload(a.window());
        assert_eq!(a.cap(), 2);
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3);
        // 3 -> 4 reaches the cap that failed: 4 x 3 answers.
        answers(&mut a, 4 * 3 - 1);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 1);
        assert_eq!(a.cap(), 4);
        // The probe fails again: twice as long a run next time.
        a.on_overload(a.window());
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 2 * 4 * 3 - 1);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 1);
        assert_eq!(a.cap(), 4);
        // Each strike doubles it, up to MAX_PROBE_DOUBLINGS doublings.
        for strikes in 3..10u32 {
            a.on_overload(a.window());
            answers(&mut a, 2);
            assert_eq!(a.cap(), 3);
            let doublings = (strikes - 1).min(MAX_PROBE_DOUBLINGS);
            answers(&mut a, ((PROBE_RUN * 3) << doublings) - 1);
            assert_eq!(a.cap(), 3, "strike {strikes}");
            answers(&mut a, 1);
            assert_eq!(a.cap(), 4, "strike {strikes}");
        }
        // Past 4 the server's capacity grew: from 4 to 5 is a probe too,
        // after 5 the failure is forgotten and the pace is the usual one.
        answers(&mut a, (PROBE_RUN * 4) << MAX_PROBE_DOUBLINGS);
        assert_eq!(a.cap(), 5);
        answers(&mut a, 5);
        assert_eq!(a.cap(), 6);
        // A new failure starts the strikes afresh.
        a.on_overload(a.window());
        assert_eq!(a.cap(), 3);
        answers(&mut a, 3);
        assert_eq!(a.cap(), 4);
        answers(&mut a, 4);
        assert_eq!(a.cap(), 5);
        answers(&mut a, 4 * 5);
        assert_eq!(a.cap(), 6);
    }

    /// A failure below the remembered cap replaces it, with one strike.
    #[test]
    fn a_lower_failure_replaces_the_remembered_cap() {
        let mut a = Aimd::new(64);
        answers(&mut a, 2 + 3 + 4 + 5 + 6 + 7);
        assert_eq!(a.cap(), 8);
        a.on_overload(a.window());
        assert_eq!(a.cap(), 4);
        a.on_overload(a.window());
        assert_eq!(a.cap(), 2);
        // 2 -> 3 is a normal step, 3 -> 4 a probe of the cap that failed
        // last (4), with one strike.
        answers(&mut a, 2);
        assert_eq!(a.cap(), 3);
        answers(&mut a, 4 * 3);
        assert_eq!(a.cap(), 4);
    }

    /// 429 and 503 are overload, other statuses answers; of the failures
    /// only a timeout is overload.
    #[test]
    fn feedback_of_outcomes() {
        for (status, want) in [
            (429, Feedback::Overloaded),
            (503, Feedback::Overloaded),
            (200, Feedback::Answered),
            (404, Feedback::Answered),
            (500, Feedback::Answered),
            (502, Feedback::Answered),
        ] {
            assert_eq!(Feedback::of_status(status), want, "{status}");
        }
        assert_eq!(
            Feedback::of_failure(ErrorKind::Timeout),
            Feedback::Overloaded
        );
        for kind in [ErrorKind::Connect, ErrorKind::Dns, ErrorKind::Cancelled] {
            assert_eq!(Feedback::of_failure(kind), Feedback::Neither, "{kind}");
        }
    }

    /// `Neither` changes nothing; `on_feedback` routes the other two.
    #[test]
    fn feedback_routes() {
        let mut a = Aimd::new(64);
        let before = a.clone();
        a.on_feedback(Feedback::Neither, 0);
        assert_eq!(a, before);
        a.on_feedback(Feedback::Answered, 0);
        a.on_feedback(Feedback::Answered, 0);
        assert_eq!(a.cap(), 3);
        a.on_feedback(Feedback::Overloaded, a.window());
        assert_eq!(a.cap(), 1);
    }
}
