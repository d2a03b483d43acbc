//! Writing records: JSON Lines on stdout, the summary and messages on stderr.
//!
//! As fd's receiver does, one writer owns a locked, buffered stdout. The caller
//! flushes whenever no further record is ready, so a reader sees each line
//! promptly while a fast stream is written in large blocks; on a terminal every
//! line is flushed (line buffering, as ripgrep does).
//!
//! A closed stdout (`| head -n 3`) is a normal end, not an error: the process
//! exits at once with status 141, as if killed by SIGPIPE like the GNU tools,
//! and prints nothing. A failed write only shows a closed pipe when there is
//! something to write, so [`watch_stdout_reader`] also watches the descriptor
//! for the reader going away while slow requests are still pending.

use std::io::{self, BufWriter, IsTerminal, Write};

use serde::Serialize;

use crate::result::{FetchResult, Summary};

/// Exit status used when the reader of stdout goes away (128 + SIGPIPE).
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// The JSON Lines writer for records.
pub struct RecordWriter<W: Write> {
    out: BufWriter<W>,
    /// Flush after every line (set when stdout is a terminal).
    line_buffered: bool,
}

impl RecordWriter<io::StdoutLock<'static>> {
    /// A writer on the locked stdout, line-buffered if stdout is a terminal.
    pub fn stdout() -> Self {
        let line_buffered = io::stdout().is_terminal();
        RecordWriter::new(io::stdout().lock(), line_buffered)
    }
}

impl<W: Write> RecordWriter<W> {
    /// A writer on `out` with a 64 KiB buffer.
    pub fn new(out: W, line_buffered: bool) -> Self {
        RecordWriter {
            out: BufWriter::with_capacity(64 * 1024, out),
            line_buffered,
        }
    }

    /// Writes one record as one line.
    ///
    /// # Errors
    /// The underlying write error (`BrokenPipe` when the reader went away).
    pub fn write(&mut self, record: &FetchResult) -> io::Result<()> {
        write_json_line(&mut self.out, record)?;
        if self.line_buffered {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes buffered lines.
    ///
    /// # Errors
    /// The underlying write error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
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
        // Fast path: DEL is 0x7F; C1 controls are 0xC2 0x80..0x9F in UTF-8;
        // U+2028/U+2029 start with 0xE2.
        if !fragment
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

/// Writes the summary as the last line on stderr.
pub fn write_summary(summary: &Summary) {
    let mut err = io::stderr().lock();
    let _ = write_json_line(&mut err, summary);
    let _ = err.flush();
}

/// Prints `fetcher-stream: MESSAGE` on stderr as one line (stdout is not
/// interleaved with it: records go only to stdout).
pub fn report_error(message: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "fetcher-stream: {message}");
}

/// Ends the process as the GNU tools do when their reader goes away: no
/// message, status 141. Used for `BrokenPipe` on stdout.
pub fn exit_broken_pipe() -> ! {
    // SAFETY: `_exit` ends the process without running destructors or flushing
    // stdout, which is what we want: stdout's reader is gone.
    unsafe { libc::_exit(EXIT_BROKEN_PIPE) }
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
    use crate::ErrorKind;

    #[test]
    fn del_c1_and_separators_are_escaped_and_round_trip() {
        let url = "a\u{1b}b\u{7f}c\u{9b}d\u{2028}e\u{e9}";
        let mut buf = Vec::new();
        let r = FetchResult::Failure {
            url: url.into(),
            error: "e".into(),
            error_kind: ErrorKind::InvalidUrl,
            elapsed_ms: 0.0,
        };
        RecordWriter::new(&mut buf, false).write(&r).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("a\\u001bb\\u007fc\\u009bd\\u2028e\u{e9}"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back["url"], url);
    }

    #[test]
    fn writes_one_line_per_record() {
        let mut buf = Vec::new();
        {
            let mut w = RecordWriter::new(&mut buf, false);
            for i in 0..3 {
                w.write(&FetchResult::Failure {
                    url: format!("u{i}"),
                    error: "e".into(),
                    error_kind: ErrorKind::Dns,
                    elapsed_ms: 1.0,
                })
                .unwrap();
            }
            w.flush().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 3);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["error_kind"], "dns");
        }
    }
}
