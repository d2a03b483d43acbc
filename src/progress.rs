//! The progress line: one status line on stderr while a run goes, drawn by
//! indicatif, erased before the summary.
//!
//! The line shows records done (and input lines read), records per second
//! since the start, successes, failures, attempts in flight and the time
//! elapsed. Counting a record is three relaxed atomic additions
//! ([`Progress::record`]); nothing is formatted per record. The line is
//! drawn only by indicatif's ticker thread, every 100 ms, which reads the
//! counters and [`RunStats`] at draw time; the draw target is also limited
//! to 10 draws a second. (indicatif's own limiter lets bursts of up to 20
//! draws through above its rate, so the line is never drawn from the record
//! loop: the ticker is what keeps it at 10 a second.)
//!
//! While the line is shown, stderr messages must not tear it: `output`
//! hands them to [`print_above`], which prints them above the line as plain
//! text. The line is registered in a process-wide slot for that, since
//! stderr itself is process-wide; [`clear`] erases it from wherever the
//! process ends early (a second signal, a closed stdout).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::config::RunStats;
use crate::error::ErrorKind;
use crate::result::FetchResult;

/// Most redraws a second.
const REDRAWS_PER_SECOND: u8 = 10;

/// When to show the progress line (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum When {
    /// Only when stderr is a terminal (TERM not dumb), without -q, and
    /// when the URLs are not typed at the terminal (the default).
    #[default]
    Auto,
    /// Even when stderr is not a terminal: a pipe or file then gets the
    /// line's carriage returns and erase sequences.
    Always,
    /// Never: stderr stays JSON Lines.
    Never,
}

/// What decides whether `--progress auto` shows the line.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stderr is a terminal.
    pub stderr_is_terminal: bool,
    /// `TERM` is `dumb` (a terminal that cannot move the cursor).
    pub dumb: bool,
    /// The URLs are being typed at the terminal (stdin is the terminal and
    /// no input was named): a redrawn line would garble the typing.
    pub typing: bool,
}

impl When {
    /// Whether the line is shown, for `-q` (`quiet`) and `terminal`.
    pub fn shows(self, quiet: bool, terminal: Terminal) -> bool {
        match self {
            When::Always => true,
            When::Never => false,
            When::Auto => {
                terminal.stderr_is_terminal && !terminal.dumb && !terminal.typing && !quiet
            }
        }
    }
}

/// The records counted so far, read by the ticker thread when it draws.
#[derive(Debug, Default)]
struct Counts {
    done: AtomicU64,
    succeeded: AtomicU64,
    cancelled: AtomicU64,
}

/// The progress line of one run, or nothing when it is not shown.
#[derive(Debug)]
pub struct Progress {
    counts: Option<Arc<Counts>>,
}

/// The line being shown, if any (see [`print_above`]).
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn shown() -> MutexGuard<'static, Option<ProgressBar>> {
    // Nothing panics while holding it; a poisoned slot is still usable.
    SHOWN.lock().unwrap_or_else(|e| e.into_inner())
}

impl Progress {
    /// Starts drawing the line on stderr when `show` is set (see
    /// [`When::shows`]), reading the run's gauges from `stats`; otherwise
    /// a handle that does nothing.
    pub fn start(show: bool, stats: RunStats) -> Progress {
        if !show {
            return Progress { counts: None };
        }
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let style = ProgressStyle::with_template("{line}")
            .expect("a valid template")
            .with_key(
                "line",
                move |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = write_line(w, &c, &stats, state.elapsed());
                },
            );
        let target = ProgressDrawTarget::term_like_with_hz(
            Box::new(console::Term::buffered_stderr()),
            REDRAWS_PER_SECOND,
        );
        let bar = ProgressBar::with_draw_target(None, target).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(1000 / u64::from(REDRAWS_PER_SECOND)));
        *shown() = Some(bar);
        Progress {
            counts: Some(counts),
        }
    }

    /// Counts one record (nothing when the line is not shown).
    pub fn record(&self, record: &FetchResult) {
        let Some(counts) = &self.counts else { return };
        counts.done.fetch_add(1, Ordering::Relaxed);
        match record.error_kind() {
            None => counts.succeeded.fetch_add(1, Ordering::Relaxed),
            Some(ErrorKind::Cancelled) => counts.cancelled.fetch_add(1, Ordering::Relaxed),
            Some(_) => 0,
        };
    }

    /// Erases the line (before the summary is written); stderr messages are
    /// JSON again from here on.
    pub fn finish(self) {
        if self.counts.is_some() {
            clear();
        }
    }
}

/// Erases the line being shown, if any, and stops drawing it.
pub fn clear() {
    let mut slot = shown();
    if let Some(bar) = slot.take() {
        bar.finish_and_clear();
    }
}

/// Prints `line` above the progress line and redraws it, if one is shown,
/// and returns `true`; returns `false` (printing nothing) otherwise.
pub fn print_above(line: &str) -> bool {
    let slot = shown();
    match &*slot {
        Some(bar) => {
            bar.println(line);
            true
        }
        None => false,
    }
}

/// The line: `12 done (40 read) | 5.8/s | 10 ok | 2 failed | 5 in flight | 2.1s`,
/// with `| N cancelled` after the failures once there are any.
fn write_line(
    w: &mut dyn fmt::Write,
    counts: &Counts,
    stats: &RunStats,
    elapsed: Duration,
) -> fmt::Result {
    let done = counts.done.load(Ordering::Relaxed);
    let succeeded = counts.succeeded.load(Ordering::Relaxed);
    let cancelled = counts.cancelled.load(Ordering::Relaxed);
    let failed = done.saturating_sub(succeeded + cancelled);
    // The gauges are set before a record leaves the pipeline, but read from
    // another thread they may lag it.
    let read = stats.lines_read().max(done);
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    write!(
        w,
        "{done} done ({read} read) | {rate:.1}/s | {succeeded} ok | {failed} failed"
    )?;
    if cancelled > 0 {
        write!(w, " | {cancelled} cancelled")?;
    }
    write!(w, " | {} in flight | ", stats.in_flight())?;
    write_elapsed(w, elapsed)
}

/// `4.2s` under a minute, `3m07s` under an hour, `2h05m09s` beyond.
fn write_elapsed(w: &mut dyn fmt::Write, elapsed: Duration) -> fmt::Result {
    let s = elapsed.as_secs();
    match s {
        0..60 => write!(w, "{:.1}s", elapsed.as_secs_f64()),
        60..3600 => write!(w, "{}m{:02}s", s / 60, s % 60),
        _ => write!(w, "{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(stderr_is_terminal: bool, dumb: bool, typing: bool) -> Terminal {
        Terminal {
            stderr_is_terminal,
            dumb,
            typing,
        }
    }

    #[test]
    fn auto_shows_only_on_a_terminal_that_is_not_typed_at() {
        let tty = terminal(true, false, false);
        assert!(When::Auto.shows(false, tty));
        assert!(!When::Auto.shows(true, tty), "-q");
        assert!(!When::Auto.shows(false, terminal(false, false, false)));
        assert!(!When::Auto.shows(false, terminal(true, true, false)));
        assert!(!When::Auto.shows(false, terminal(true, false, true)));
        assert!(When::Always.shows(true, terminal(false, true, true)));
        assert!(!When::Never.shows(false, tty));
    }

    #[test]
    fn the_line_shows_every_count() {
        let counts = Counts::default();
        let stats = RunStats::default();
        stats.set_gauges(40, 5);
        counts.done.store(12, Ordering::Relaxed);
        counts.succeeded.store(10, Ordering::Relaxed);
        let mut line = String::new();
        write_line(&mut line, &counts, &stats, Duration::from_millis(2_000)).unwrap();
        assert_eq!(
            line,
            "12 done (40 read) | 6.0/s | 10 ok | 2 failed | 5 in flight | 2.0s"
        );
        counts.cancelled.store(1, Ordering::Relaxed);
        line.clear();
        write_line(&mut line, &counts, &stats, Duration::from_secs(187)).unwrap();
        assert_eq!(
            line,
            "12 done (40 read) | 0.1/s | 10 ok | 1 failed | 1 cancelled | 5 in flight | 3m07s"
        );
    }

    #[test]
    fn elapsed_time_grows_units() {
        let text = |secs: f64| {
            let mut s = String::new();
            write_elapsed(&mut s, Duration::from_secs_f64(secs)).unwrap();
            s
        };
        assert_eq!(text(0.0), "0.0s");
        assert_eq!(text(59.94), "59.9s");
        assert_eq!(text(60.0), "1m00s");
        assert_eq!(text(7509.0), "2h05m09s");
    }
}
