//! Reading input: files or stdin, one URL a line, lazily and in bounded memory.
//!
//! [`LineDecoder`] is a `tokio_util::codec::Decoder` that never fails on
//! content: tokio-util's `FramedRead` ends the stream after the first decoder
//! error, so an overlong or non-UTF-8 line is turned into an item (and later into
//! one `invalid_url` record), never into an error. Only I/O errors end a source.
//!
//! [`read_sources`] chains the sources in order (like `cat`; a URL given as an
//! argument is a source of one line) and applies the line
//! rules: surrounding whitespace trimmed (so CRLF is fine), a UTF-8 BOM dropped
//! from the first line of each source, blank lines and lines starting with `#`
//! skipped. Every other line becomes exactly one [`InputLine`].
//!
//! With [`InputFormat::Jsonl`] each non-blank line is a request spec instead
//! (see [`crate::spec`]): [`classify_spec_line`] turns it into an
//! [`InputLine`] with its spec, or into one carrying an `invalid_input`
//! problem and its line number. Line numbers count the physical lines of each
//! source from 1, blank ones included.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, Stream, StreamExt};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::{Decoder, FramedRead};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::error::FetchError;
use crate::result::{line_key, Passthrough};
use crate::spec::{parse_spec, RequestSpec};

/// Longest accepted line, in bytes (64 KiB), not counting its line ending
/// (`\n` or `\r\n`): a line of exactly this many bytes is read whole with
/// either ending.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How many bytes of an overlong line are kept to show in its record.
const SHOWN_PREFIX_BYTES: usize = 256;

/// The UTF-8 byte order mark, dropped before a source's first line.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One raw line from a source, before trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawLine {
    /// A line of at most 64 KiB (not counting a final `\r`), without its `\n`.
    Line(Bytes),
    /// A line longer than the limit: only its first bytes are kept; the rest was
    /// read and discarded without being held in memory.
    TooLong(Bytes),
}

/// A `\n`-delimited line decoder with a length limit that turns overlong lines
/// into [`RawLine::TooLong`] items instead of errors.
///
/// Memory is bounded by the limit plus one read buffer, whatever the input.
#[derive(Debug)]
pub struct LineDecoder {
    /// Longest line accepted, in bytes.
    max_len: usize,
    /// Set after an overlong line was reported, until its `\n` is seen.
    discarding: bool,
    /// How far the buffer has been searched for `\n` (avoids rescanning).
    scanned: usize,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        LineDecoder {
            max_len,
            discarding: false,
            scanned: 0,
        }
    }
}

impl Default for LineDecoder {
    /// A decoder with the [`MAX_LINE_BYTES`] limit.
    fn default() -> Self {
        LineDecoder::new(MAX_LINE_BYTES)
    }
}

impl RawLine {
    /// The line's bytes (the kept prefix of an overlong one), without a UTF-8
    /// BOM when `first` (the first line of a source).
    fn content(&self, first: bool) -> &[u8] {
        let (RawLine::Line(b) | RawLine::TooLong(b)) = self;
        if first {
            b.strip_prefix(BOM).unwrap_or(b)
        } else {
            b
        }
    }
}

/// The length of a line without the CR of a CRLF ending: the limit counts
/// the same line the same with either ending.
fn content_len(line: &[u8]) -> usize {
    line.len() - usize::from(line.last() == Some(&b'\r'))
}

impl Decoder for LineDecoder {
    type Item = RawLine;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RawLine>, std::io::Error> {
        loop {
            if let Some(pos) = buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + pos;
                let mut line = buf.split_to(end + 1);
                self.scanned = 0;
                if self.discarding {
                    self.discarding = false;
                    continue;
                }
                line.truncate(end);
                if content_len(&line) > self.max_len {
                    line.truncate(SHOWN_PREFIX_BYTES);
                    return Ok(Some(RawLine::TooLong(line.freeze())));
                }
                return Ok(Some(RawLine::Line(line.freeze())));
            }
            if self.discarding {
                buf.clear();
                self.scanned = 0;
                return Ok(None);
            }
            // The line so far, less a `\r` that may turn out to be the CR of
            // its CRLF.
            if content_len(buf) > self.max_len {
                let prefix = buf.split_to(SHOWN_PREFIX_BYTES.min(buf.len())).freeze();
                buf.clear();
                self.scanned = 0;
                self.discarding = true;
                return Ok(Some(RawLine::TooLong(prefix)));
            }
            self.scanned = buf.len();
            return Ok(None);
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawLine>, std::io::Error> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        self.scanned = 0;
        if self.discarding || buf.is_empty() {
            self.discarding = false;
            buf.clear();
            return Ok(None);
        }
        let line = buf.split().freeze();
        Ok(Some(RawLine::Line(line)))
    }
}

/// How input lines are read (`--input`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputFormat {
    /// One URL a line; blank and `#` lines skipped (the default).
    #[default]
    Text,
    /// One JSON request spec a line (JSON Lines); blank lines skipped, every
    /// other line is a spec or an `invalid_input` failure. No comment lines.
    Jsonl,
}

/// One counted input line: the text to echo as `url`, and, when the line cannot
/// be a URL at all, the reason.
#[derive(Debug)]
pub struct InputLine {
    /// The trimmed line (lossily decoded if it was not UTF-8; shortened with `…`
    /// if it was over the limit). For a `--input jsonl` spec, its `url`.
    pub text: String,
    /// Set when the line was rejected while reading (not UTF-8, too long, not a
    /// request spec).
    pub problem: Option<FetchError>,
    /// The 1-based line number in its source, when known (set for `--input
    /// jsonl`, and written in `invalid_input` records).
    pub line: Option<u64>,
    /// Per-line request settings from a `--input jsonl` spec; `None` for plain
    /// URL lines, which use the run's settings.
    pub spec: Option<Box<RequestSpec>>,
}

impl From<String> for InputLine {
    fn from(text: String) -> Self {
        InputLine {
            text,
            problem: None,
            line: None,
            spec: None,
        }
    }
}

impl From<&str> for InputLine {
    fn from(text: &str) -> Self {
        InputLine::from(text.to_owned())
    }
}

/// A raw line after the rules shared by both formats: the UTF-8 BOM of a
/// source's first line dropped, surrounding ASCII whitespace trimmed (so CRLF
/// is fine).
enum Content<'a> {
    /// Nothing but whitespace.
    Blank,
    /// UTF-8 text.
    Text(&'a str),
    /// Over [`MAX_LINE_BYTES`]: the kept prefix as text (ending before a cut
    /// UTF-8 sequence), to be shown with `…`.
    TooLong(String),
    /// Not UTF-8: the text with U+FFFD for the bad bytes.
    NotUtf8(String),
}

impl RawLine {
    fn trimmed(&self, first: bool) -> Content<'_> {
        let bytes = self.content(first);
        if matches!(self, RawLine::TooLong(_)) {
            let mut shown = bytes.trim_ascii();
            // The cut may have split a UTF-8 sequence: end before it.
            if let Err(e) = std::str::from_utf8(shown) {
                if e.error_len().is_none() {
                    shown = &shown[..e.valid_up_to()];
                }
            }
            return Content::TooLong(String::from_utf8_lossy(shown).into_owned());
        }
        let bytes = bytes.trim_ascii();
        if bytes.is_empty() {
            return Content::Blank;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Content::Text(text),
            Err(_) => Content::NotUtf8(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// The message for a line over [`MAX_LINE_BYTES`].
fn too_long_message() -> String {
    format!("line longer than {MAX_LINE_BYTES} bytes")
}

const NOT_UTF8: &str = "line is not valid UTF-8";

/// Applies the line rules to one raw line. `first` is true for the first line of
/// a source (where a UTF-8 BOM is dropped). Returns `None` for blank and comment
/// lines.
pub fn classify_line(raw: RawLine, first: bool) -> Option<InputLine> {
    match raw.trimmed(first) {
        Content::Blank => None,
        Content::Text(t) if t.starts_with('#') => None,
        Content::NotUtf8(t) if t.starts_with('#') => None,
        content => Some(url_line(content)),
    }
}

/// An [`InputLine`] for a line that is not skipped; a blank one is an
/// `invalid_url` failure (a URL argument, which is never skipped).
fn url_line(content: Content) -> InputLine {
    let invalid = |text: String, message: String| InputLine {
        problem: Some(FetchError::InvalidUrl(message)),
        ..InputLine::from(text)
    };
    match content {
        Content::Blank => invalid(String::new(), "empty argument".into()),
        Content::Text(t) => InputLine::from(t),
        Content::TooLong(shown) => invalid(format!("{shown}…"), too_long_message()),
        Content::NotUtf8(t) => invalid(t, NOT_UTF8.into()),
    }
}

/// Applies the `--input jsonl` rules to raw line number `number` (1-based) of
/// a source; `first` is true for its first line (a UTF-8 BOM is dropped).
/// Returns `None` for a blank line.
///
/// A spec gives an [`InputLine`] whose `text` is its `url`; anything else
/// (not JSON, not a spec, not UTF-8, over 64 KiB) gives one with
/// an `invalid_input` problem whose message starts with `line N: `, `text` the
/// spec's `url` if it had one, else the line itself. `line` is set either way,
/// and so is the spec's `spec_hash`: [`line_key`] of the line without a
/// BOM and surrounding ASCII whitespace (of its kept first 256 bytes when
/// it is over 64 KiB).
pub fn classify_spec_line(raw: RawLine, first: bool, number: u64) -> Option<InputLine> {
    // The line as read: the key its record's `spec_hash` carries.
    let key = line_key(raw.content(first).trim_ascii());
    let invalid = |text: String, message: String, extra: Option<Box<Passthrough>>| InputLine {
        text,
        problem: Some(FetchError::InvalidInput(format!(
            "line {number}: {message}"
        ))),
        line: Some(number),
        spec: Some(Box::new(RequestSpec {
            extra,
            spec_hash: Some(key),
            ..RequestSpec::default()
        })),
    };
    let text = match raw.trimmed(first) {
        Content::Blank => return None,
        Content::Text(t) => t,
        Content::TooLong(shown) => {
            return Some(invalid(format!("{shown}…"), too_long_message(), None))
        }
        Content::NotUtf8(t) => return Some(invalid(t, NOT_UTF8.into(), None)),
    };
    Some(match parse_spec(text) {
        Ok(spec) => InputLine {
            text: spec.url,
            problem: None,
            line: Some(number),
            spec: Some(Box::new(RequestSpec {
                spec_hash: Some(key),
                ..spec.request
            })),
        },
        Err(bad) => invalid(
            bad.url.unwrap_or_else(|| text.to_owned()),
            bad.message,
            bad.extra,
        ),
    })
}

/// What [`read_inputs`] calls when a source cannot be opened or read: with
/// the source's name (`-` for stdin) and the error. The other sources are
/// still read.
pub type OnReadError = Arc<dyn Fn(&str, &std::io::Error) + Send + Sync>;

/// Lines of one reader, with the line rules of `format` applied. An I/O error
/// ends the source after calling `on_error` with `name`.
fn read_lines<R>(
    reader: R,
    name: String,
    format: InputFormat,
    on_error: OnReadError,
    cancel: CancellationToken,
) -> impl Stream<Item = InputLine> + Send + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let mut number = 0u64;
    let reader = GatedRead {
        inner: reader,
        cancel,
        in_flight: false,
    };
    FramedRead::with_capacity(reader, LineDecoder::default(), 16 * 1024)
        .scan((), move |_, r| {
            futures::future::ready(match r {
                Ok(line) => Some(line),
                Err(e) => {
                    on_error(&name, &e);
                    None
                }
            })
        })
        .filter_map(move |raw| {
            number += 1;
            futures::future::ready(match format {
                InputFormat::Text => classify_line(raw, number == 1),
                InputFormat::Jsonl => classify_spec_line(raw, number == 1, number),
            })
        })
}

/// A reader that starts no new read once `cancel` has fired.
///
/// After SIGINT the input must stop being read, yet every line already read
/// must get a record. A read that was in flight when the token fired may still
/// complete (its bytes were read, so their lines are answered); a new one is
/// never started: the reader stays pending instead, and the pipeline, which
/// after cancellation takes only lines that are ready at once, ends there.
/// Without this gate, tokio's stdin (a read on a blocking thread) would start
/// one more read after the signal and consume lines that then got no record.
struct GatedRead<R> {
    inner: R,
    /// The run's cancellation token.
    cancel: CancellationToken,
    /// Set while the inner reader has returned `Pending` (a read is under way).
    in_flight: bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for GatedRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if !this.in_flight && this.cancel.is_cancelled() {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.in_flight = polled.is_pending();
        polled
    }
}

/// One input of a run, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One URL line given as an argument (`--url`, or an argument starting
    /// with `http://` or `https://`): the argument's bytes, under the text
    /// line rules whatever the [`InputFormat`], with no line number.
    Url(Bytes),
    /// A file of lines of the run's [`InputFormat`]; `-` is standard input.
    File(PathBuf),
}

/// Reads the given files in order (`-` is stdin; no files means stdin), lazily,
/// as lines of `format`: [`read_sources`] with every path an [`Input::File`].
pub fn read_inputs(
    paths: Vec<PathBuf>,
    format: InputFormat,
    cancel: CancellationToken,
    on_error: OnReadError,
) -> impl Stream<Item = InputLine> + Send + 'static {
    read_sources(
        paths.into_iter().map(Input::File).collect(),
        format,
        cancel,
        on_error,
    )
}

/// Reads the given inputs in order, lazily: a URL argument is one line, a
/// file (`-` is stdin) gives lines of `format`. No inputs at all means stdin.
///
/// A file that cannot be opened or read is passed to `on_error` with its name
/// (the binary prints `fetcher-stream: FILE: No such file or directory (os
/// error 2)`), and the other inputs are still read, as `cat` does.
///
/// Once `cancel` fires, no new read is started: a read under way may still
/// deliver its lines, then the stream stays pending. Hand it to
/// [`crate::fetch_stream`] with the same token in [`crate::Config::cancel`],
/// which then takes only the lines that are ready at once and ends.
pub fn read_sources(
    inputs: Vec<Input>,
    format: InputFormat,
    cancel: CancellationToken,
    on_error: OnReadError,
) -> impl Stream<Item = InputLine> + Send + 'static {
    let inputs = if inputs.is_empty() {
        vec![Input::File(PathBuf::from("-"))]
    } else {
        inputs
    };
    stream::iter(inputs)
        .then(move |input| {
            let on_error = on_error.clone();
            let cancel = cancel.clone();
            async move {
                let path = match input {
                    Input::Url(arg) => return stream::once(async { argument_line(arg) }).boxed(),
                    Input::File(path) => path,
                };
                if path.as_os_str() == "-" {
                    return read_lines(tokio::io::stdin(), "-".into(), format, on_error, cancel)
                        .boxed();
                }
                let name = path.display().to_string();
                match tokio::fs::File::open(&path).await {
                    Ok(f) => read_lines(f, name, format, on_error, cancel).boxed(),
                    Err(e) => {
                        on_error(&name, &e);
                        stream::empty().boxed()
                    }
                }
            }
        })
        .flatten()
}

/// A URL argument as a text line: over the line limit it becomes a
/// [`RawLine::TooLong`] as a read line would (an argument may be longer).
/// Unlike a line of a file, it is never skipped: an empty (or blank)
/// argument is an `invalid_url` failure, and one starting with `#` is a URL
/// like any other, so each argument gives exactly one record.
fn argument_line(arg: Bytes) -> InputLine {
    let raw = if arg.len() > MAX_LINE_BYTES {
        RawLine::TooLong(arg.slice(..SHOWN_PREFIX_BYTES))
    } else {
        RawLine::Line(arg)
    };
    url_line(raw.trimmed(false))
}

/// Input adapter: after cancellation, yields only items that are ready at once
/// (already read into memory), then ends; never waits for more input.
pub(crate) struct StopOnCancel<S> {
    inner: S,
    /// The run's token, checked before each pull.
    cancel: CancellationToken,
    /// Resolves when the token fires; polled while the input is pending so that
    /// a blocked read wakes the pipeline.
    fired: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
}

impl<S> StopOnCancel<S> {
    pub(crate) fn new(inner: S, cancel: CancellationToken) -> Self {
        StopOnCancel {
            inner,
            fired: Box::pin(cancel.clone().cancelled_owned()),
            cancel,
            done: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for StopOnCancel<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.cancel.is_cancelled() {
            return match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
                _ => {
                    self.done = true;
                    Poll::Ready(None)
                }
            };
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => {
                // Wake when the token fires, so a blocked read is abandoned.
                if self.fired.as_mut().poll(cx).is_ready() {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], max: usize) -> Vec<RawLine> {
        let mut d = LineDecoder::new(max);
        let mut out = Vec::new();
        // Feed in small chunks to exercise partial lines.
        let mut buf = BytesMut::new();
        for chunk in input.chunks(3) {
            buf.extend_from_slice(chunk);
            while let Some(l) = d.decode(&mut buf).unwrap() {
                out.push(l);
            }
        }
        while let Some(l) = d.decode_eof(&mut buf).unwrap() {
            out.push(l);
        }
        out
    }

    fn line(s: &str) -> RawLine {
        RawLine::Line(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn splits_lines_and_keeps_last_unterminated() {
        assert_eq!(
            decode_all(b"a\nbb\r\nccc", 100),
            vec![line("a"), line("bb\r"), line("ccc")]
        );
    }

    #[test]
    fn overlong_line_is_one_item_and_next_line_survives() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        let lines = decode_all(&input, 10);
        assert_eq!(lines.len(), 2);
        assert!(matches!(lines[0], RawLine::TooLong(_)));
        assert_eq!(lines[1], line("ok"));
    }

    #[test]
    fn the_limit_does_not_count_the_line_ending() {
        let exact = "x".repeat(10);
        for ending in ["\n", "\r\n"] {
            let input = format!("{exact}{ending}ok\n");
            assert_eq!(
                decode_all(input.as_bytes(), 10),
                vec![
                    line(&format!("{exact}{}", ending.trim_end_matches('\n'))),
                    line("ok")
                ],
                "{ending:?}"
            );
            let over = format!("{exact}y{ending}ok\n");
            let lines = decode_all(over.as_bytes(), 10);
            assert!(matches!(lines[0], RawLine::TooLong(_)), "{ending:?}");
            assert_eq!(lines[1..], [line("ok")], "{ending:?}");
        }
        // A line of exactly the limit ending in a lone `\r` at the end of input.
        assert_eq!(
            decode_all(format!("{exact}\r").as_bytes(), 10),
            vec![line(&format!("{exact}\r"))]
        );
        // A `\r` inside the line counts.
        let lines = decode_all(format!("{exact}\rz\n").as_bytes(), 10);
        assert!(matches!(lines[0], RawLine::TooLong(_)));
    }

    #[test]
    fn overlong_unterminated_last_line_is_one_item() {
        let lines = decode_all(&[b'y'; 40], 10);
        assert_eq!(lines.len(), 1);
        assert!(matches!(lines[0], RawLine::TooLong(_)));
    }

    #[test]
    fn overlong_line_is_shown_without_a_split_character() {
        let mut raw = b"http://a/".to_vec();
        raw.extend("é".repeat(200).as_bytes()); // cut at 256 bytes splits one
        let l = classify_line(RawLine::TooLong(Bytes::from(raw[..256].to_vec())), false).unwrap();
        assert!(!l.text.contains('\u{fffd}'), "{}", l.text);
        assert!(l.text.ends_with("é…"), "{}", l.text);
    }

    #[test]
    fn line_rules() {
        assert!(classify_line(line("   "), false).is_none());
        assert!(classify_line(line("# comment"), false).is_none());
        assert!(classify_line(line("  #x"), false).is_none());
        let l = classify_line(line("\u{feff}http://a/\r"), true).unwrap();
        assert_eq!(l.text, "http://a/");
        assert!(l.problem.is_none());
        let bad =
            classify_line(RawLine::Line(Bytes::from_static(b"http://a/\xff")), false).unwrap();
        assert_eq!(bad.text, "http://a/\u{fffd}");
        assert_eq!(
            bad.problem.unwrap().kind(),
            crate::error::ErrorKind::InvalidUrl
        );
    }

    fn spec_line(s: &str, n: u64) -> Option<InputLine> {
        classify_spec_line(line(s), n == 1, n)
    }

    #[test]
    fn spec_lines() {
        assert!(spec_line("  \r", 3).is_none());
        let l = spec_line("\u{feff}{\"url\":\"http://a/\",\"id\":1}\r", 1).unwrap();
        assert_eq!((l.text.as_str(), l.line), ("http://a/", Some(1)));
        assert!(l.problem.is_none());
        let spec = l.spec.unwrap();
        assert!(spec.extra.is_some());
        // The key of the line as read, without the BOM and the CR.
        let key = line_key(br#"{"url":"http://a/","id":1}"#);
        assert_eq!(spec.spec_hash, Some(key));
        let bad = spec_line("# not a comment", 7).unwrap();
        let hash = bad.spec.as_ref().and_then(|s| s.spec_hash);
        assert_eq!(hash, Some(line_key(b"# not a comment")));
        assert_eq!((bad.text.as_str(), bad.line), ("# not a comment", Some(7)));
        let e = bad.problem.unwrap();
        assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput);
        assert!(
            e.to_string().starts_with("invalid input: line 7: not JSON"),
            "{e}"
        );
        let bad = spec_line(r#"{"url":"http://a/","method":"A B","id":5}"#, 2).unwrap();
        assert_eq!(bad.text, "http://a/");
        assert!(bad.spec.unwrap().extra.is_some());
        let raw = RawLine::Line(Bytes::from_static(b"{\"url\":\"\xff\"}"));
        let bad = classify_spec_line(raw, false, 4).unwrap();
        assert_eq!(
            bad.problem.unwrap().to_string(),
            "invalid input: line 4: line is not valid UTF-8"
        );
        let long = RawLine::TooLong(Bytes::from_static(b"{\"url\":"));
        let bad = classify_spec_line(long, false, 9).unwrap();
        assert_eq!(bad.text, "{\"url\":…");
        assert_eq!(bad.line, Some(9));
        assert_eq!(
            bad.problem.unwrap().kind(),
            crate::error::ErrorKind::InvalidInput
        );
    }
}
