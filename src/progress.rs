//! The progress line: one status line on stderr while a run goes, erased
//! before the summary.
//!
//! The line shows records done (and input lines read), records per second
//! since the start, successes, failures, attempts in flight and the time
//! elapsed. Counting a record is three relaxed atomic additions
//! ([`Progress::record`]); nothing is formatted per record. A ticker thread
//! draws the line every 100 ms (so at most 10 times a second), reading the
//! counters and [`RunStats`] at draw time.
//!
//! A frame is `\r`, the text, and `ESC[K` (erase to the end of the line);
//! erasing is `\r ESC[K`. The cursor never leaves the line, so nothing
//! printed before the run is overwritten, and the text is cut to one column
//! less than the terminal's width, read (`TIOCGWINSZ` on stderr) at every
//! draw, so that it never wraps: a wrapped line could not be redrawn by
//! `\r`. Only the columns are read: a terminal may leave the rows 0 (a
//! fresh pseudo-terminal given only `stty cols N` does), which is why
//! console's `Term::size`, needing both, is not used (it reports 80 columns
//! then).
//!
//! Everything written to the terminal while the line is shown goes through
//! one lock, so nothing interleaves with a frame: [`print_above`] erases the
//! line, prints a message and its newline and redraws the line;
//! [`with_line_erased`] erases it for a write to stdout on the same
//! terminal (redrawn at the next tick); [`clear`] erases it for good, from
//! the end of the run or from wherever the process ends early (a second
//! signal, a closed stdout).

use std::fmt;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::RunStats;
use crate::error::ErrorKind;
use crate::result::FetchResult;

/// Time between two draws: at most 10 a second.
const TICK: Duration = Duration::from_millis(100);

/// Columns assumed when the terminal does not say (stderr is not a terminal,
/// or its width is unset) and `COLUMNS` does not either.
const DEFAULT_COLUMNS: usize = 80;

/// Puts the cursor at the start of the line.
const RETURN: &str = "\r";

/// Erases from the cursor to the end of the line (ECMA-48 EL, `CSI K`).
const ERASE_TO_END: &str = "\x1b[K";

/// When to show the progress line (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum When {
    /// Only when stderr is a terminal (TERM not dumb) and stdout is not
    /// (the records go to a file or a pipe), without -q, and when the URLs
    /// are not typed at the terminal (the default).
    #[default]
    Auto,
    /// Even when stderr is not a terminal: a pipe or file then gets the
    /// line's carriage returns and erase sequences. When stdout is the
    /// terminal too, the line is erased before records are written and
    /// redrawn below them.
    Always,
    /// Never: stderr stays JSON Lines.
    Never,
}

/// What decides whether `--progress auto` shows the line.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stderr is a terminal.
    pub stderr_is_terminal: bool,
    /// stdout is a terminal: the records would scroll the line away, so
    /// `auto` leaves it off (as curl shows its meter only when the output
    /// is redirected).
    pub stdout_is_terminal: bool,
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
                terminal.stderr_is_terminal
                    && !terminal.stdout_is_terminal
                    && !terminal.dumb
                    && !terminal.typing
                    && !quiet
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

/// The line being shown: what it is drawn from, and whether it is on the
/// terminal now.
struct Line {
    counts: Arc<Counts>,
    stats: RunStats,
    started: Instant,
    /// A frame is on the terminal (not erased since it was drawn).
    drawn: bool,
}

impl Line {
    /// Appends a frame (`\r`, the text cut to `columns - 1`, `ESC[K`) to
    /// `out`, and notes that the line is drawn.
    fn draw(&mut self, out: &mut String) {
        let mut text = String::with_capacity(128);
        let _ = write_line(&mut text, &self.counts, &self.stats, self.started.elapsed());
        out.push_str(RETURN);
        out.push_str(fit(&text, columns().saturating_sub(1)));
        out.push_str(ERASE_TO_END);
        self.drawn = true;
    }

    /// Appends `\r ESC[K` to `out` if the line is drawn, and notes that it
    /// is not.
    fn erase(&mut self, out: &mut String) {
        if std::mem::take(&mut self.drawn) {
            out.push_str(RETURN);
            out.push_str(ERASE_TO_END);
        }
    }
}

/// The line being shown, if any, behind the lock that orders every write to
/// the terminal while it is shown. Process-wide, as stderr is.
static SHOWN: Mutex<Option<Line>> = Mutex::new(None);

fn shown() -> MutexGuard<'static, Option<Line>> {
    // Nothing panics while holding it; a poisoned slot is still usable.
    SHOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes `text` to stderr in one `write` where it can (errors ignored: a
/// progress line is not worth failing a run for).
fn write_stderr(text: &str) {
    if !text.is_empty() {
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }
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
        *shown() = Some(Line {
            counts: counts.clone(),
            stats,
            started: Instant::now(),
            drawn: false,
        });
        let mine = counts.clone();
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || tick(&mine));
        if spawned.is_err() {
            // No thread, no line: the run goes on without it.
            *shown() = None;
            return Progress { counts: None };
        }
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

/// The ticker: draws the line every [`TICK`] until it is no longer the one
/// shown (`counts` tells it apart from a later run's line).
fn tick(counts: &Arc<Counts>) {
    let mut frame = String::with_capacity(256);
    loop {
        std::thread::sleep(TICK);
        let mut slot = shown();
        let Some(line) = slot.as_mut().filter(|l| Arc::ptr_eq(&l.counts, counts)) else {
            return;
        };
        frame.clear();
        line.draw(&mut frame);
        write_stderr(&frame);
    }
}

/// Erases the line being shown, if any, and stops drawing it.
pub fn clear() {
    let mut slot = shown();
    if let Some(mut line) = slot.take() {
        let mut out = String::new();
        line.erase(&mut out);
        write_stderr(&out);
    }
}

/// Prints `message` and a newline above the progress line and redraws the
/// line, if one is shown, and returns `true`; returns `false` (printing
/// nothing) otherwise.
pub fn print_above(message: &str) -> bool {
    let mut slot = shown();
    let Some(line) = slot.as_mut() else {
        return false;
    };
    let mut out = String::with_capacity(message.len() + 160);
    line.erase(&mut out);
    out.push_str(message);
    out.push('\n');
    line.draw(&mut out);
    write_stderr(&out);
    true
}

/// Runs `write` (a write to stdout, when stdout is the terminal the line is
/// drawn on) with the line erased and no frame drawn meanwhile; the next
/// tick draws it again, below what was written. Just runs `write` when no
/// line is shown.
pub fn with_line_erased<T>(write: impl FnOnce() -> T) -> T {
    let mut slot = shown();
    if let Some(line) = slot.as_mut() {
        let mut out = String::new();
        line.erase(&mut out);
        write_stderr(&out);
    }
    write()
}

/// The terminal's width in columns: stderr's window size, else `COLUMNS`,
/// else [`DEFAULT_COLUMNS`].
fn columns() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize, zeroed beforehand, on success.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0
        && size.ws_col > 0
    {
        return usize::from(size.ws_col);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .unwrap_or(DEFAULT_COLUMNS)
}

/// `text` cut to at most `width` columns: whole ` | `-separated fields from
/// the front while they fit, else the first `width` characters. The text is
/// ASCII, one column a byte.
fn fit(text: &str, width: usize) -> &str {
    if text.len() <= width {
        return text;
    }
    // A separator starting at `width` or before ends a prefix that fits.
    match text[..text.len().min(width + 3)].rfind(" | ") {
        Some(end) => &text[..end],
        None => &text[..width],
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

    fn terminal(stderr: bool, stdout: bool, dumb: bool, typing: bool) -> Terminal {
        Terminal {
            stderr_is_terminal: stderr,
            stdout_is_terminal: stdout,
            dumb,
            typing,
        }
    }

    #[test]
    fn auto_shows_only_on_a_terminal_that_is_not_typed_at_nor_written_to() {
        let tty = terminal(true, false, false, false);
        assert!(When::Auto.shows(false, tty));
        assert!(!When::Auto.shows(true, tty), "-q");
        assert!(!When::Auto.shows(false, terminal(false, false, false, false)));
        assert!(!When::Auto.shows(false, terminal(true, true, false, false)));
        assert!(!When::Auto.shows(false, terminal(true, false, true, false)));
        assert!(!When::Auto.shows(false, terminal(true, false, false, true)));
        assert!(When::Always.shows(true, terminal(false, true, true, true)));
        assert!(!When::Never.shows(false, tty));
    }

    #[test]
    fn the_line_is_cut_at_a_field_to_fit() {
        let line = "12 done (40 read) | 6.0/s | 10 ok | 2 failed | 5 in flight | 2.0s";
        assert_eq!(fit(line, 200), line);
        assert_eq!(fit(line, line.len()), line);
        assert_eq!(fit(line, line.len() - 1), &line[..line.len() - 7]);
        assert_eq!(fit(line, 29), "12 done (40 read) | 6.0/s");
        assert_eq!(fit(line, 25), "12 done (40 read) | 6.0/s");
        assert_eq!(fit(line, 24), "12 done (40 read)");
        assert_eq!(fit(line, 17), "12 done (40 read)");
        assert_eq!(fit(line, 16), "12 done (40 read");
        assert_eq!(fit(line, 0), "");
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
