//! Writing records: JSON Lines on stdout, the summary and messages on stderr.
//!
//! Records are serialised into a buffer on the runtime, and whole buffers are
//! handed to one writer thread that owns a locked stdout (fd's receiver owns
//! stdout the same way). The runtime thus never blocks on a slow reader:
//! requests keep progressing while stdout is full, and only when two buffers
//! are waiting does the pipeline pause (bounded memory). The caller hands the
//! buffer over whenever no further record is ready, so a reader sees each line
//! promptly while a fast stream is written in large blocks; on a terminal every
//! line is handed over at once (line buffering, as ripgrep does).
//!
//! A closed stdout (`| head -n 3`) is a normal end, not an error: the process
//! exits at once with status 141, as if killed by SIGPIPE like the GNU tools,
//! and prints nothing. A failed write only shows a closed pipe when there is
//! something to write, so [`watch_stdout_reader`] also watches the descriptor
//! for the reader going away while slow requests are still pending.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use tokio::sync::mpsc;

use futures::{FutureExt, Stream, StreamExt};

use crate::exit::Exit;
use crate::progress;
use crate::result::{FetchResult, Summary};

/// Buffer size at which records are handed to the writer even while more
/// are ready (64 KiB).
const HANDOFF_BYTES: usize = 64 * 1024;

/// Appends one record to `buf` as one line of JSON (with `TerminalSafe`
/// escaping).
pub fn encode_record(buf: &mut Vec<u8>, record: &FetchResult) {
    // Writing to a Vec cannot fail, and FetchResult always serialises.
    let _ = write_json_line(buf, record);
}

/// The stdout side of the binary: a buffer filled on the runtime and a writer
/// thread that drains it.
pub struct StdoutSink {
    /// Records not yet handed to the writer.
    buf: Vec<u8>,
    /// Hand over after every record (stdout is a terminal).
    line_buffered: bool,
    /// To the writer thread; at most two buffers wait in it.
    tx: mpsc::Sender<Vec<u8>>,
    /// The writer thread; joined by [`StdoutSink::finish`].
    writer: std::thread::JoinHandle<()>,
}

impl StdoutSink {
    /// Starts the writer thread on stdout, line-buffered if it is a terminal.
    ///
    /// The writer ends the process on a write error: status 141 silently for
    /// `BrokenPipe`, status 2 with a message otherwise.
    pub fn start() -> StdoutSink {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(2);
        let terminal = io::stdout().is_terminal();
        let writer = std::thread::Builder::new()
            .name("stdout-writer".into())
            .spawn(move || {
                let mut out = io::stdout().lock();
                while let Some(chunk) = rx.blocking_recv() {
                    let mut write = || out.write_all(&chunk).and_then(|()| out.flush());
                    // On a terminal the records would be glued to the
                    // progress line: it is erased first (and redrawn below
                    // them at its next tick).
                    let written = if terminal {
                        progress::with_line_erased(write)
                    } else {
                        write()
                    };
                    if let Err(e) = written {
                        write_failed(e);
                    }
                }
            })
            .expect("spawn the stdout writer thread");
        StdoutSink {
            buf: Vec::with_capacity(HANDOFF_BYTES + 4096),
            line_buffered: terminal,
            tx,
            writer,
        }
    }

    /// Writes every record of `records`, calling `each` on it first, and
    /// returns when the stream ends.
    ///
    /// Records are handed to the writer only when no further one is ready:
    /// promptly for a trickle, in large blocks for a fast stream. "Ready" is
    /// judged after one yield to the runtime, which polls the I/O driver
    /// first, so that responses that arrived together are written together
    /// (profiled: a hand-over per record cost a thread wake-up and a write
    /// each).
    pub async fn write_all<S>(&mut self, records: S, mut each: impl FnMut(&FetchResult))
    where
        S: Stream<Item = FetchResult>,
    {
        let mut records = std::pin::pin!(records);
        loop {
            let mut next = records.next().now_or_never();
            if next.is_none() {
                tokio::task::yield_now().await;
                next = records.next().now_or_never();
            }
            let next = match next {
                Some(next) => next,
                None => {
                    self.flush().await;
                    records.next().await
                }
            };
            let Some(record) = next else { break };
            each(&record);
            self.push(&record).await;
        }
    }

    /// Adds one record; hands the buffer over if it is full or on a terminal.
    async fn push(&mut self, record: &FetchResult) {
        encode_record(&mut self.buf, record);
        if self.line_buffered || self.buf.len() >= HANDOFF_BYTES {
            self.flush().await;
        }
    }

    /// Hands whatever is buffered to the writer (waits while two buffers are
    /// already waiting).
    async fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(HANDOFF_BYTES + 4096));
        // The receiver lives until `finish`; a failed send cannot happen.
        let _ = self.tx.send(chunk).await;
    }

    /// Hands over the rest and waits until the writer has written everything.
    pub async fn finish(mut self) {
        self.flush().await;
        let StdoutSink { tx, writer, .. } = self;
        drop(tx);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
}

/// Ends the process after a failed write to stdout: silently with 141 for a
/// closed pipe, else with a message and status 2.
/// Writes one `\n` on stdout, before any record: stdout appends to an
/// earlier output file that ends in a torn line (a run killed mid-record),
/// and the first record must not be glued to that fragment. A write error
/// ends the process as the record writer's does.
pub fn end_torn_line() {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(b"\n").and_then(|()| out.flush()) {
        write_failed(e);
    }
}

fn write_failed(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        exit_broken_pipe();
    }
    report(&Notice::error("stdout", &format!("writing to stdout: {e}")));
    std::process::exit(Exit::Error.code());
}

fn write_json_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafe);
    value.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// serde_json's compact format, but also escaping the control characters it
/// leaves raw: DEL (U+007F), the C1 controls (U+0080..U+009F, e.g. U+009B, an
/// 8-bit CSI some terminals obey) and the line/paragraph separators
/// (U+2028/U+2029). serde_json already escapes U+0000..U+001F. A hostile
/// URL list thus cannot drive a terminal through our output; the JSON still
/// decodes to the exact input text.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Fast paths: ASCII without DEL (the usual record), then no byte
        // that can start an escaped character: DEL is 0x7F; C1 controls are
        // 0xC2 0x80..0x9F in UTF-8; U+2028/U+2029 start with 0xE2.
        if ascii_without_del(fragment.as_bytes())
            || !fragment
                .bytes()
                .any(|b| b == 0x7f || b == 0xc2 || b == 0xe2)
        {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}') {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Whether every byte is below 0x7F (ASCII other than DEL), tested eight
/// bytes at a time: a byte below 0x80 plus one sets its top bit only when
/// it was 0x7F, and never carries into the next byte.
fn ascii_without_del(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let w = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
        if w & TOPS != 0 || w.wrapping_add(ONES) & TOPS != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| b < 0x7f)
}

/// Writes the summary as the last line on stderr, in one `write` so that it
/// is not interleaved with other processes sharing stderr (`xargs -P`).
pub fn write_summary(summary: &Summary) {
    let mut line = Vec::with_capacity(128);
    let _ = write_json_line(&mut line, summary);
    let _ = io::stderr().lock().write_all(&line);
}

/// The `type` of a stderr message: how bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The run goes on as asked, or nearly (a value was lowered, say).
    Warning,
    /// Something the run was asked to do failed (an input file could not be
    /// read); the exit status is 2.
    Error,
}

/// A message on stderr while a run is going: one JSON line, so that stderr
/// stays JSON Lines up to the summary (`2>&1 >/dev/null | jq` never breaks).
///
/// ```text
/// {"type":"warning","kind":"open_file_limit","message":"--max-concurrency 500 does not fit the open-file limit (64); using 48","flag":"--max-concurrency"}
/// {"type":"error","kind":"input","message":"urls.txt: No such file or directory (os error 2)","file":"urls.txt"}
/// ```
///
/// Usage errors, found before any work starts, are plain text instead
/// (`fetcher-stream: …`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice<'a> {
    /// `warning` or `error`.
    #[serde(rename = "type")]
    pub level: Level,
    /// What the message is about, in a closed set of snake_case names:
    /// warnings `open_file_limit` (`-c` lowered to fit the open-file limit),
    /// `raised` (a value raised to what the run needs: `--lookahead` below
    /// `-c`), `per_host_cap` (the default per-host cap held the run back;
    /// once per run), `terminal_input` (URLs are read from the terminal;
    /// plain text instead when stderr is a terminal too), `earlier_missing`
    /// (a `--resume` or `--if-changed` file does not exist: read as empty),
    /// `earlier_unparsable` (lines of such a file that are not records,
    /// passed over; once per file), `earlier_overwritten` (such a file is
    /// standard output opened with `>`, not `>>`); errors `input`, `stdout`, `internal`,
    /// `earlier_unreadable` (such a file cannot be read; the run stops
    /// before fetching), `warc` (the `--warc` file could not be finished).
    pub kind: &'static str,
    /// The message for a person, one sentence.
    pub message: &'a str,
    /// The flag concerned, e.g. `--max-concurrency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<&'static str>,
    /// The input file concerned, as named on the command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
}

impl<'a> Notice<'a> {
    /// A warning of `kind` (see [`Notice::kind`]).
    pub fn warning(kind: &'static str, message: &'a str) -> Notice<'a> {
        Notice {
            level: Level::Warning,
            kind,
            message,
            flag: None,
            file: None,
        }
    }

    /// An error of `kind` (see [`Notice::kind`]).
    pub fn error(kind: &'static str, message: &'a str) -> Notice<'a> {
        Notice {
            level: Level::Error,
            ..Notice::warning(kind, message)
        }
    }

    /// Names the flag concerned.
    pub fn flag(self, flag: &'static str) -> Notice<'a> {
        Notice {
            flag: Some(flag),
            ..self
        }
    }

    /// Names the input file concerned.
    pub fn file(self, file: &'a str) -> Notice<'a> {
        Notice {
            file: Some(file),
            ..self
        }
    }
}

/// Writes `notice` on stderr as one JSON line, in one `write` (records go
/// only to stdout, so the two never interleave). Control characters are
/// escaped as in records.
///
/// While the progress line is shown, the notice is printed above it as
/// plain text instead (`fetcher-stream: warning: MESSAGE`), so that the line
/// is not torn: stderr is then a terminal for a person, not JSON Lines.
pub fn report(notice: &Notice) {
    let level = match notice.level {
        Level::Warning => "warning",
        Level::Error => "error",
    };
    let text = format!(
        "fetcher-stream: {level}: {}",
        escape_controls(notice.message)
    );
    if progress::print_above(&text) {
        return;
    }
    let mut line = Vec::with_capacity(160);
    let _ = write_json_line(&mut line, notice);
    let _ = io::stderr().lock().write_all(&line);
}

/// Prints `fetcher-stream: MESSAGE` on stderr as one plain-text line, in one
/// `write`: for usage errors before any work starts, and for the hint that
/// URLs are read from the terminal when stderr is a terminal too. Control
/// characters in the message (from a file name, say) are escaped.
pub fn report_error(message: &str) {
    let line = format!("fetcher-stream: {}\n", escape_controls(message));
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// `text` with control characters other than newline and tab written as
/// `\u{..}` escapes, so that messages echoing user input cannot drive a
/// terminal.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Ends the process as the GNU tools do when their reader goes away: no
/// message, status 141. Used for `BrokenPipe` on stdout.
pub fn exit_broken_pipe() -> ! {
    // The terminal keeps no half-drawn progress line.
    progress::clear();
    // SAFETY: `_exit` ends the process without running destructors or flushing
    // stdout, which is what we want: stdout's reader is gone.
    unsafe { libc::_exit(Exit::BrokenPipe.code()) }
}

/// If stdout is a pipe or a socket, starts a thread that waits (in `poll(2)`,
/// not busy) for its reader to go away and then ends the process with status
/// 141, even while no record is ready to be written.
pub fn watch_stdout_reader() {
    let fd = libc::STDOUT_FILENO;
    // SAFETY: fstat on a valid descriptor number with a zeroed out-struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return;
    }
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("stdout-watch".into())
        .spawn(move || loop {
            let mut pfd = libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            };
            // With no events requested, poll reports only POLLERR/POLLHUP, which
            // a pipe's write end gets when its read end is closed.
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, -1) };
            if n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                exit_broken_pipe();
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn messages_escape_control_characters() {
        assert_eq!(
            escape_controls("a\rb\u{1b}[31m\tc\n"),
            "a\\u{d}b\\u{1b}[31m\tc\n"
        );
    }

    #[test]
    fn del_c1_and_separators_are_escaped_and_round_trip() {
        let url = "a\u{1b}b\u{7f}c\u{9b}d\u{2028}e\u{e9}";
        let mut buf = Vec::new();
        let r = FetchResult::Failure {
            url: url.into(),
            error: "e".into(),
            error_kind: ErrorKind::InvalidUrl,
            elapsed_ms: 0.0,
            status: None,
            line: None,
            response: None,
            attempts: None,
            extra: None,
        };
        encode_record(&mut buf, &r);
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("a\\u001bb\\u007fc\\u009bd\\u2028e\u{e9}"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back["url"], url);
    }

    #[test]
    fn ascii_without_del_finds_del_and_non_ascii_anywhere() {
        let base = b"http://127.0.0.1:8080/bytes/100/12345".to_vec();
        assert!(ascii_without_del(&base));
        assert!(ascii_without_del(b""));
        assert!(ascii_without_del(&[0x7e; 17]));
        for at in 0..base.len() {
            for bad in [0x7f, 0x80, 0xc2, 0xe2, 0xff] {
                let mut b = base.clone();
                b[at] = bad;
                assert!(!ascii_without_del(&b), "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn writes_one_line_per_record() {
        let mut buf = Vec::new();
        for i in 0..3 {
            encode_record(
                &mut buf,
                &FetchResult::Failure {
                    url: format!("u{i}"),
                    error: "e".into(),
                    error_kind: ErrorKind::Dns,
                    elapsed_ms: 1.0,
                    status: None,
                    line: None,
                    response: None,
                    attempts: None,
                    extra: None,
                },
            );
        }
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 3);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["error_kind"], "dns");
        }
    }
}
