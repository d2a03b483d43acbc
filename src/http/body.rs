//! Reading a response body: counting it, decoding it (`--compressed`) and
//! stopping at `--max-size`.
//!
//! The body is read frame by frame and never kept: only its length matters.
//! Without `--compressed` the frames are counted as they arrive. With it, a
//! body whose `Content-Encoding` is one of `gzip` (also `x-gzip`), `br`,
//! `zstd` or `deflate` is decoded as a stream by the `async-compression`
//! crate, in blocks of [`DECODE_BLOCK`] bytes, so a body is never in memory
//! whole, and both lengths are reported: the decoded one (`size`) and the one
//! on the wire (`wire_size`).
//!
//! Decisions:
//! - An HTTP/1.x response with a body whose `Transfer-Encoding` is anything
//!   but exactly one `chunked` is refused as soon as its head arrives
//!   ([`check_framing`]), before any body byte is read, as curl refuses
//!   unknown transfer codings.
//! - `deflate` is the zlib format (RFC 9110 sec. 8.4.1.2, RFC 1950); as curl
//!   and browsers do, a body that does not start with a zlib header is decoded
//!   as raw deflate (RFC 1951), which some servers send.
//! - A body with several codings (`gzip, br`), an unknown one, or `identity`
//!   is not decoded: `size` is then the wire length, as with no coding.
//! - A body that fails to decode (corrupt or cut-off encoded data) is a
//!   `protocol` failure: the server broke the content coding it declared.
//! - `--max-size` limits the decoded length (the wire length without
//!   `--compressed`): reading stops as soon as the body passes the limit,
//!   with a `body_too_large` failure, which is also what bounds the work done
//!   on a decompression bomb. A `Content-Length` above the limit fails before
//!   any body byte is read. A body of exactly the limit is accepted, as with
//!   curl's `--max-filesize`.
//! - Bytes after the end of the encoded data are read and counted as wire
//!   bytes but not decoded (a gzip body's further members are decoded, RFC
//!   1952 sec. 2.2), so the body is always read to its end.
//! - Decoder memory per body is bounded by the format: 32 KiB windows for
//!   gzip and deflate, at most 16 MiB for Brotli (RFC 7932), and 8 MiB for
//!   zstd ([`ZSTD_WINDOW_LOG_MAX`]; a larger window is refused).
//! - A caller that keeps the body (`--output-dir`, `--warc`) gets copies of
//!   its bytes through [`BodyTaps`] as they are read: the bytes counted in
//!   `size`, and the bytes as received. Without taps nothing is copied.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http_body_util::{BodyDataStream, BodyExt};
use hyper::body::Body;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use crate::error::FetchError;

use super::BoxError;

/// Bytes decoded per read; the most decoded data held at once for one body.
pub const DECODE_BLOCK: usize = 16 * 1024;

/// Largest zstd window accepted, as a power of two: 8 MiB, the limit RFC 9659
/// sec. 3 sets for `zstd` in HTTP. A frame asking for more is refused (a
/// `protocol` failure) instead of making the decoder allocate up to 128 MiB.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// The `Accept-Encoding` value sent with `--compressed`: the codings
/// [`Coding`] decodes.
pub const ACCEPT_ENCODING: &str = "gzip, br, zstd, deflate";

/// How a body is to be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyOptions {
    /// Decode by `Content-Encoding` and report the wire length too
    /// (`--compressed`). Default `false`.
    pub decode: bool,
    /// Most body bytes accepted (decoded ones when decoding), `--max-size`.
    /// Default `None`: no limit.
    pub max_size: Option<u64>,
    /// Compute the SHA-256 of the bytes counted in `size` (decoded ones
    /// when decoding) as they stream (`--hash sha256`). Default `false`.
    pub sha256: bool,
}

/// The lengths of a body that was read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySize {
    /// Bytes of the body after decoding (the wire length when not decoded).
    pub size: u64,
    /// Bytes on the wire (after transfer-coding framing is removed, before
    /// content decoding); `Some` only when [`BodyOptions::decode`] is set.
    pub wire_size: Option<u64>,
    /// SHA-256 of the bytes counted in `size`; `Some` only when
    /// [`BodyOptions::sha256`] is set.
    pub sha256: Option<[u8; 32]>,
}

/// A copy of a body's bytes, sent block by block as they are read, to a
/// writer at the other end of a bounded channel. Sending waits while the
/// channel is full, so a slow disk slows the read instead of filling
/// memory. A closed channel (its writer failed) is not an error here: the
/// writer reports its own error.
#[derive(Debug, Clone)]
pub struct Tap(pub tokio::sync::mpsc::Sender<Bytes>);

impl Tap {
    /// Sends a copy of `data` (a reference count, not the bytes), waiting
    /// while the channel is full; does nothing once the writer has gone.
    pub async fn send(&self, data: &Bytes) {
        let _ = self.0.send(data.clone()).await;
    }
}

/// Where copies of a body's bytes go while [`read_body`] reads it. Default:
/// nowhere.
#[derive(Debug, Default)]
pub struct BodyTaps {
    /// The bytes as received: after the transfer coding is removed
    /// (de-chunked), before any content decoding.
    pub wire: Option<Tap>,
    /// The bytes counted in [`BodySize::size`]: decoded ones when decoding,
    /// else the same as `wire`.
    pub counted: Option<Tap>,
}

impl BodyTaps {
    /// Sends `data`, which is both as received and as counted, to each tap.
    async fn send_both(&self, data: &Bytes) {
        if let Some(t) = &self.wire {
            t.send(data).await;
        }
        if let Some(t) = &self.counted {
            t.send(data).await;
        }
    }
}

/// A running SHA-256 of the body bytes counted, when one was asked for.
struct Digest(Option<Sha256>);

impl Digest {
    fn new(on: bool) -> Digest {
        Digest(on.then(Sha256::new))
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.0 {
            h.update(data);
        }
    }

    fn finish(self) -> Option<[u8; 32]> {
        self.0.map(|h| h.finalize().into())
    }
}

/// A content coding this module decodes (RFC 9110 sec. 8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` or `x-gzip` (RFC 1952).
    Gzip,
    /// `br`, Brotli (RFC 7932).
    Brotli,
    /// `zstd`, Zstandard (RFC 8878).
    Zstd,
    /// `deflate`: zlib (RFC 1950), or raw deflate (RFC 1951) as a fallback.
    Deflate,
}

impl Coding {
    /// The coding to undo for a response with these header fields: `None` when
    /// there is no `Content-Encoding`, it is `identity`, unknown, or lists more
    /// than one coding (such bodies are counted as they are). Names are
    /// case-insensitive (RFC 9110 sec. 8.4.1).
    pub fn of(headers: &HeaderMap) -> Option<Coding> {
        let mut values = headers.get_all(header::CONTENT_ENCODING).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Coding::parse(value)
    }

    /// Parses one `Content-Encoding` field value (see [`Coding::of`]).
    pub fn parse(value: &HeaderValue) -> Option<Coding> {
        let name = value.to_str().ok()?.trim();
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else if name.eq_ignore_ascii_case("br") {
            Some(Coding::Brotli)
        } else if name.eq_ignore_ascii_case("zstd") {
            Some(Coding::Zstd)
        } else if name.eq_ignore_ascii_case("deflate") {
            Some(Coding::Deflate)
        } else {
            None
        }
    }

    /// The coding's name as written in `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Deflate => "deflate",
        }
    }
}

/// Whether `data` starts with a zlib header (RFC 1950 sec. 2.2): compression
/// method 8 (deflate), a window of at most 32 KiB, and a header check that is
/// a multiple of 31. With fewer than 2 bytes, zlib is assumed.
pub fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => true,
    }
}

/// A transport error from the body, kept apart from decoding errors inside the
/// `io::Error`s the decoders return.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(#[source] BoxError);

/// Checks that an HTTP/1.x response's body framing can be trusted: either no
/// `Transfer-Encoding` (the body is then framed by `Content-Length`, or read
/// until the server closes), or exactly one field whose value is `chunked`
/// (any case, surrounding whitespace allowed). Call it when the head arrives,
/// for responses that have a body (not for HEAD, 1xx, 204 or 304 responses,
/// whose framing is never used).
///
/// Anything else is refused: an unknown coding (`identityx`), a coding
/// before `chunked` (`gzip, chunked`; we decode no transfer coding), or
/// `chunked` not last or not alone (`chunked, identity`, two fields). RFC
/// 9112 sec. 6.3 makes a response whose final coding is not `chunked`
/// read-until-close, which hyper does; but then any bytes the server sends
/// next become "body", and a server that keeps the connection open makes the
/// URL wait for its deadline, so such a message is treated as the error it
/// is (curl refuses it too). HTTP/2 carries no `Transfer-Encoding` (RFC 9113
/// sec. 8.2.2: h2 refuses a response with one), and hyper itself refuses an
/// HTTP/1.0 response with one (RFC 9112 sec. 6.1).
///
/// # Errors
/// [`FetchError::TransferEncoding`] (kind `protocol`), naming the values.
pub fn check_framing(version: http::Version, headers: &HeaderMap) -> Result<(), FetchError> {
    if version >= http::Version::HTTP_2 {
        return Ok(());
    }
    let mut fields = headers.get_all(header::TRANSFER_ENCODING).iter();
    let Some(first) = fields.next() else {
        return Ok(());
    };
    // One field, and its whole value is `chunked`: the only case in which
    // hyper's chunked decoder is the whole framing (it looks only at the last
    // element of the last field).
    if fields.next().is_none()
        && first
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"chunked")
    {
        return Ok(());
    }
    let shown: Vec<String> = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .map(|v| v.as_bytes().escape_ascii().to_string())
        .collect();
    Err(FetchError::TransferEncoding(shown.join(", ")))
}

fn too_large(limit: u64, declared: Option<u64>) -> FetchError {
    FetchError::BodyTooLarge { limit, declared }
}

/// Reads `body` to its end (or to the first error) as `options` say; `headers`
/// are the response's. Copies of the bytes go to `taps` as they are read
/// (before a `--max-size` failure, the bytes up to the block that passed
/// the limit).
///
/// # Errors
/// `body_too_large` past [`BodyOptions::max_size`]; `protocol` for a body
/// that does not decode; otherwise the transport error, classified as for any
/// body (`body`, `protocol`, …).
pub async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    options: BodyOptions,
    taps: &BodyTaps,
) -> Result<BodySize, FetchError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let coding = if options.decode {
        Coding::of(headers)
    } else {
        None
    };
    // The limit is on the bytes counted: the wire bytes, or the decoded ones
    // when decoding. Only in the first case does `Content-Length` tell in
    // advance (an encoded body of 1,023 bytes may decode to 1,000).
    if let (Some(limit), None) = (options.max_size, coding) {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // A body known to be empty (HEAD, 304) declares the length it would have.
        if let Some(n) = declared.filter(|&n| n > limit && !body.is_end_stream()) {
            return Err(too_large(limit, Some(n)));
        }
    }
    let mut digest = Digest::new(options.sha256);
    let Some(coding) = coding else {
        let size = count(body, options.max_size, &mut digest, taps).await?;
        return Ok(BodySize {
            size,
            wire_size: options.decode.then_some(size),
            sha256: digest.finish(),
        });
    };
    let (size, wire_size) = decode(coding, body, options.max_size, &mut digest, taps).await?;
    Ok(BodySize {
        size,
        wire_size: Some(wire_size),
        sha256: digest.finish(),
    })
}

/// Counts (and digests, and taps) a body's data bytes as they arrive.
async fn count<B>(
    mut body: B,
    limit: Option<u64>,
    digest: &mut Digest,
    taps: &BodyTaps,
) -> Result<u64, FetchError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e: BoxError = e.into();
            super::classify::body_error(&*e)
        })?;
        if let Some(data) = frame.data_ref() {
            size += data.len() as u64;
            if let Some(limit) = limit.filter(|&l| size > l) {
                return Err(too_large(limit, None));
            }
            digest.update(data);
            taps.send_both(data).await;
        }
    }
    Ok(size)
}

/// Decodes a body as a stream (digesting the decoded bytes) and counts the
/// decoded and the wire bytes; the wire bytes go to `taps.wire`, the decoded
/// ones to `taps.counted`.
async fn decode<B>(
    coding: Coding,
    body: B,
    limit: Option<u64>,
    digest: &mut Digest,
    taps: &BodyTaps,
) -> Result<(u64, u64), FetchError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let mut data =
        BodyDataStream::new(body).map_err(|e| io::Error::other(TransportError(e.into())));
    // The first bytes decide between zlib and raw deflate; an empty body (no
    // data at all) has nothing to decode and is not an error.
    let first = loop {
        match data.next().await {
            None => return Ok((0, 0)),
            Some(Err(e)) => return Err(super::classify::body_error(&e)),
            Some(Ok(b)) if b.is_empty() => continue,
            Some(Ok(b)) => break b,
        }
    };
    let wire = Arc::new(AtomicU64::new(first.len() as u64));
    let counter = wire.clone();
    let raw_deflate = coding == Coding::Deflate && !looks_like_zlib(&first);
    let rest = data.inspect_ok(move |b| {
        counter.fetch_add(b.len() as u64, Ordering::Relaxed);
    });
    // The wire tap sees each block before the decoder does (boxed: the
    // decoders need an `Unpin` input); without it the stream is as it was.
    let rest = match taps.wire.clone() {
        Some(tap) => {
            tap.send(&first).await;
            rest.then(move |item| {
                let tap = tap.clone();
                async move {
                    if let Ok(b) = &item {
                        tap.send(b).await;
                    }
                    item
                }
            })
            .boxed()
            .left_stream()
        }
        None => rest.right_stream(),
    };
    let input = StreamReader::new(stream::iter([Ok(first)]).chain(rest));
    use async_compression::tokio::bufread as dec;
    let (size, input) = match coding {
        Coding::Gzip => {
            // A gzip body may hold several members (RFC 1952 sec. 2.2).
            let mut d = dec::GzipDecoder::new(input);
            d.multiple_members(true);
            drive(d, coding, limit, digest, taps, dec::GzipDecoder::into_inner).await?
        }
        Coding::Brotli => {
            let d = dec::BrotliDecoder::new(input);
            drive(
                d,
                coding,
                limit,
                digest,
                taps,
                dec::BrotliDecoder::into_inner,
            )
            .await?
        }
        Coding::Zstd => {
            let window = async_compression::zstd::DParameter::window_log_max(ZSTD_WINDOW_LOG_MAX);
            let d = dec::ZstdDecoder::with_params(input, &[window]);
            drive(d, coding, limit, digest, taps, dec::ZstdDecoder::into_inner).await?
        }
        Coding::Deflate if raw_deflate => {
            let d = dec::DeflateDecoder::new(input);
            drive(
                d,
                coding,
                limit,
                digest,
                taps,
                dec::DeflateDecoder::into_inner,
            )
            .await?
        }
        Coding::Deflate => {
            let d = dec::ZlibDecoder::new(input);
            drive(d, coding, limit, digest, taps, dec::ZlibDecoder::into_inner).await?
        }
    };
    // Bytes after the end of the encoded data are read (and counted as wire
    // bytes) but not decoded, so the body is read to its end and the
    // connection can be reused.
    let mut rest = input.into_inner();
    while let Some(chunk) = rest.next().await {
        chunk.map_err(|e| super::classify::body_error(&e))?;
    }
    Ok((size, wire.load(Ordering::Relaxed)))
}

/// Reads `decoder` to its end in [`DECODE_BLOCK`]s, counting the decoded
/// bytes against `limit` (and copying them to `taps.counted`); returns the
/// count and, by `into_inner`, the input the decoder read from.
async fn drive<D, R>(
    mut decoder: D,
    coding: Coding,
    limit: Option<u64>,
    digest: &mut Digest,
    taps: &BodyTaps,
    into_inner: fn(D) -> R,
) -> Result<(u64, R), FetchError>
where
    D: AsyncRead + Unpin,
{
    let mut block = vec![0u8; DECODE_BLOCK];
    let mut size = 0u64;
    loop {
        // A small input can decode to gigabytes (brotli: 1.6 KB to 1 GiB)
        // without the decoder ever waiting for the network, so the loop would
        // keep its worker thread: other requests, their deadlines and this
        // one's `--timeout` and cancellation would wait until it ended. Each
        // block takes one unit of tokio's cooperative budget, so the task
        // yields regularly and the deadline around it can fire.
        tokio::task::consume_budget().await;
        let n = match decoder.read(&mut block).await {
            Ok(n) => n,
            Err(e)
                if e.get_ref()
                    .is_some_and(|inner| inner.is::<TransportError>()) =>
            {
                return Err(super::classify::body_error(&e));
            }
            Err(e) => {
                return Err(FetchError::Transport {
                    kind: crate::error::ErrorKind::Protocol,
                    message: format!("cannot decode the {} body: {e}", coding.name()),
                })
            }
        };
        if n == 0 {
            return Ok((size, into_inner(decoder)));
        }
        size += n as u64;
        if let Some(limit) = limit.filter(|&l| size > l) {
            return Err(too_large(limit, None));
        }
        digest.update(&block[..n]);
        if let Some(tap) = &taps.counted {
            tap.send(&Bytes::copy_from_slice(&block[..n])).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorKind;

    fn framing(version: http::Version, te: &[&[u8]]) -> Result<(), String> {
        let mut h = HeaderMap::new();
        for v in te {
            h.append(
                header::TRANSFER_ENCODING,
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        check_framing(version, &h).map_err(|e| {
            assert_eq!(e.kind(), ErrorKind::Protocol);
            e.to_string()
        })
    }

    #[test]
    fn only_a_single_chunked_is_trusted() {
        let v11 = http::Version::HTTP_11;
        let fine: [&[&[u8]]; 4] = [&[], &[b"chunked"], &[b"CHUNKED"], &[b" Chunked\t"]];
        for ok in fine {
            assert_eq!(framing(v11, ok), Ok(()), "{ok:?}");
        }
        let refused: [(&[&[u8]], &str); 10] = [
            (&[b"identityx"], "identityx"),
            (&[b"chunked, another"], "chunked, another"),
            (&[b"gzip"], "gzip"),
            (&[b"gzip, chunked"], "gzip, chunked"),
            (&[b"chunked, identity"], "chunked, identity"),
            (&[b"chunked,"], "chunked,"),
            (&[b"gzip", b"chunked"], "gzip, chunked"),
            (&[b"chunked", b"chunked"], "chunked, chunked"),
            (&[b""], ""),
            (&[b"chunk\xe9d \"x\""], r#"chunk\xe9d \"x\""#),
        ];
        for (bad, shown) in refused {
            assert_eq!(
                framing(v11, bad),
                Err(format!(
                    "unsupported Transfer-Encoding \"{shown}\": only a single \"chunked\" is accepted"
                )),
                "{bad:?}"
            );
        }
        // HTTP/2 has no Transfer-Encoding to check (h2 refuses one).
        assert_eq!(framing(http::Version::HTTP_2, &[b"gzip"]), Ok(()));
    }

    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;
    use tokio::io::AsyncWriteExt;

    async fn encode(coding: Coding, raw_deflate: bool, data: &[u8]) -> Vec<u8> {
        use async_compression::tokio::write as enc;
        let mut out = Vec::new();
        match (coding, raw_deflate) {
            (Coding::Gzip, _) => {
                let mut e = enc::GzipEncoder::new(&mut out);
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }
            (Coding::Brotli, _) => {
                let mut e = enc::BrotliEncoder::new(&mut out);
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }
            (Coding::Zstd, _) => {
                let mut e = enc::ZstdEncoder::new(&mut out);
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }
            (Coding::Deflate, true) => {
                let mut e = enc::DeflateEncoder::new(&mut out);
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }
            (Coding::Deflate, false) => {
                let mut e = enc::ZlibEncoder::new(&mut out);
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }
        }
        out
    }

    fn encoded(coding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(coding).unwrap(),
        );
        h
    }

    /// [`super::read_body`] without taps.
    async fn read_body<B>(
        headers: &HeaderMap,
        body: B,
        options: BodyOptions,
    ) -> Result<BodySize, FetchError>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        super::read_body(headers, body, options, &BodyTaps::default()).await
    }

    /// Reads `body` with both taps and returns what each received.
    async fn tapped<B>(headers: &HeaderMap, body: B, options: BodyOptions) -> (Vec<u8>, Vec<u8>)
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let (wire_tx, wire_rx) = tokio::sync::mpsc::channel(1);
        let (counted_tx, counted_rx) = tokio::sync::mpsc::channel(1);
        let collect = |mut rx: tokio::sync::mpsc::Receiver<Bytes>| async move {
            let mut all = Vec::new();
            while let Some(b) = rx.recv().await {
                all.extend_from_slice(&b);
            }
            all
        };
        let wire = tokio::spawn(collect(wire_rx));
        let counted = tokio::spawn(collect(counted_rx));
        let taps = BodyTaps {
            wire: Some(Tap(wire_tx)),
            counted: Some(Tap(counted_tx)),
        };
        super::read_body(headers, body, options, &taps)
            .await
            .unwrap();
        drop(taps);
        (wire.await.unwrap(), counted.await.unwrap())
    }

    /// The wire tap gets the bytes as received, the counted tap the bytes
    /// `size` counts: decoded ones when decoding, the same ones otherwise.
    #[tokio::test]
    async fn taps_get_the_wire_and_the_counted_bytes() {
        let plain: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let gz = encode(Coding::Gzip, false, &plain).await;
        let (wire, counted) = tapped(&encoded("gzip"), chunked(gz.clone(), 1000), DECODE).await;
        assert_eq!((wire == gz, counted == plain), (true, true));
        let options = BodyOptions::default();
        let (wire, counted) = tapped(&encoded("gzip"), chunked(gz.clone(), 1000), options).await;
        assert_eq!((wire == gz, counted == gz), (true, true));
    }

    const DECODE: BodyOptions = BodyOptions {
        decode: true,
        max_size: None,
        sha256: false,
    };

    /// A body of `data` split into frames of `chunk` bytes.
    fn chunked(
        data: Vec<u8>,
        chunk: usize,
    ) -> StreamBody<impl futures::Stream<Item = Result<Frame<Bytes>, io::Error>>> {
        let frames: Vec<_> = data
            .chunks(chunk)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(stream::iter(frames))
    }

    #[test]
    fn content_encoding_names() {
        let c = |s: &str| Coding::of(&encoded(s));
        assert_eq!(c("gzip"), Some(Coding::Gzip));
        assert_eq!(c(" X-GZIP "), Some(Coding::Gzip));
        assert_eq!(c("br"), Some(Coding::Brotli));
        assert_eq!(c("zstd"), Some(Coding::Zstd));
        assert_eq!(c("Deflate"), Some(Coding::Deflate));
        assert_eq!(c("identity"), None);
        assert_eq!(c("compress"), None);
        assert_eq!(c("gzip, br"), None);
        assert_eq!(Coding::of(&HeaderMap::new()), None);
    }

    #[test]
    fn zlib_header_detection() {
        assert!(looks_like_zlib(&[0x78, 0x9c]));
        assert!(looks_like_zlib(&[0x78, 0x01]));
        assert!(!looks_like_zlib(&[0x78, 0x9d]));
        assert!(!looks_like_zlib(&[0xed, 0xc1]));
        assert!(looks_like_zlib(&[0x78]));
    }

    #[tokio::test]
    async fn each_coding_decodes_in_small_frames() {
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for (coding, raw) in [
            (Coding::Gzip, false),
            (Coding::Brotli, false),
            (Coding::Zstd, false),
            (Coding::Deflate, false),
            (Coding::Deflate, true),
        ] {
            let wire = encode(coding, raw, &plain).await;
            let got = read_body(&encoded(coding.name()), chunked(wire.clone(), 7), DECODE)
                .await
                .unwrap();
            assert_eq!(
                got,
                BodySize {
                    size: plain.len() as u64,
                    wire_size: Some(wire.len() as u64),
                    sha256: None,
                },
                "{coding:?} raw={raw}"
            );
        }
    }

    #[tokio::test]
    async fn without_decoding_the_wire_bytes_are_counted() {
        let wire = encode(Coding::Gzip, false, &[0; 5000]).await;
        let n = wire.len() as u64;
        let h = encoded("gzip");
        let plain = read_body(
            &h,
            Full::new(Bytes::from(wire.clone())),
            BodyOptions::default(),
        );
        assert_eq!(
            plain.await.unwrap(),
            BodySize {
                size: n,
                wire_size: None,
                sha256: None,
            }
        );
        let unknown = read_body(&encoded("compress"), Full::new(Bytes::from(wire)), DECODE).await;
        assert_eq!(
            unknown.unwrap(),
            BodySize {
                size: n,
                wire_size: Some(n),
                sha256: None,
            }
        );
    }

    fn sha256(data: &[u8]) -> Option<[u8; 32]> {
        Some(Sha256::digest(data).into())
    }

    /// The digest is of the bytes counted in `size`: decoded ones when
    /// decoding, the wire bytes otherwise; an empty body has the empty
    /// string's.
    #[tokio::test]
    async fn the_digest_covers_the_bytes_counted() {
        let plain: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let wire = encode(Coding::Gzip, false, &plain).await;
        let hashed = |decode| BodyOptions {
            decode,
            sha256: true,
            ..BodyOptions::default()
        };
        let got = read_body(&encoded("gzip"), chunked(wire.clone(), 999), hashed(true)).await;
        assert_eq!(got.unwrap().sha256, sha256(&plain));
        let got = read_body(&encoded("gzip"), chunked(wire.clone(), 999), hashed(false)).await;
        assert_eq!(got.unwrap().sha256, sha256(&wire));
        let empty = read_body(&HeaderMap::new(), Full::new(Bytes::new()), hashed(false)).await;
        assert_eq!(
            empty.unwrap().sha256.map(|d| d[..4].to_vec()),
            Some(vec![0xe3, 0xb0, 0xc4, 0x42])
        );
        let empty = read_body(&encoded("br"), Full::new(Bytes::new()), hashed(true)).await;
        assert_eq!(empty.unwrap().sha256, sha256(b""));
    }

    #[tokio::test]
    async fn empty_and_corrupt_encoded_bodies() {
        let empty = read_body(&encoded("gzip"), Full::new(Bytes::new()), DECODE).await;
        assert_eq!(
            empty.unwrap(),
            BodySize {
                size: 0,
                wire_size: Some(0),
                sha256: None,
            }
        );
        let bad = read_body(
            &encoded("gzip"),
            Full::new(Bytes::from_static(b"not gzip at all")),
            DECODE,
        )
        .await;
        let e = bad.unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Protocol, "{e}");
        assert!(
            e.to_string().starts_with("cannot decode the gzip body"),
            "{e}"
        );
        let mut cut = encode(Coding::Zstd, false, &[7; 10_000]).await;
        cut.truncate(cut.len() / 2);
        let e = read_body(&encoded("zstd"), Full::new(Bytes::from(cut)), DECODE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Protocol, "{e}");
    }

    #[tokio::test]
    async fn bytes_after_the_encoded_data_are_read_and_counted_not_decoded() {
        let mut wire = encode(Coding::Deflate, false, &[3; 5000]).await;
        let n = wire.len() as u64;
        wire.extend_from_slice(&[0; 4000]);
        let got = read_body(&encoded("deflate"), chunked(wire, 1000), DECODE).await;
        assert_eq!(
            got.unwrap(),
            BodySize {
                size: 5000,
                wire_size: Some(n + 4000),
                sha256: None,
            }
        );
    }

    #[tokio::test]
    async fn zstd_windows_over_8_mib_are_refused() {
        use async_compression::tokio::write::ZstdEncoder;
        use async_compression::zstd::CParameter;
        for (log, ok) in [(23, true), (27, false)] {
            let mut wire = Vec::new();
            let params = [CParameter::window_log(log)];
            let level = async_compression::Level::Default;
            let mut e = ZstdEncoder::with_quality_and_params(&mut wire, level, &params);
            e.write_all(&[5; 1000]).await.unwrap();
            e.shutdown().await.unwrap();
            let got = read_body(&encoded("zstd"), Full::new(Bytes::from(wire)), DECODE).await;
            match got {
                Ok(b) => assert!(ok && b.size == 1000, "log {log}: {b:?}"),
                Err(e) => {
                    assert!(!ok, "log {log}: {e}");
                    assert_eq!(e.kind(), crate::error::ErrorKind::Protocol);
                }
            }
        }
    }

    #[tokio::test]
    async fn limits_apply_to_decoded_bytes_and_to_content_length() {
        let bomb = encode(Coding::Gzip, false, &vec![0; 4 << 20]).await;
        let options = BodyOptions {
            decode: true,
            max_size: Some(1 << 20),
            sha256: false,
        };
        let e = read_body(
            &encoded("gzip"),
            Full::new(Bytes::from(bomb.clone())),
            options,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::BodyTooLarge);
        assert_eq!(e.to_string(), "body larger than --max-size (1048576 bytes)");
        // Exactly the limit passes; one byte more does not.
        let exact = BodyOptions {
            decode: false,
            max_size: Some(10),
            sha256: false,
        };
        let none = HeaderMap::new();
        let ten = read_body(&none, chunked(vec![1; 10], 3), exact).await;
        assert_eq!(ten.unwrap().size, 10);
        let eleven = read_body(&none, chunked(vec![1; 11], 3), exact).await;
        assert_eq!(
            eleven.unwrap_err().kind(),
            crate::error::ErrorKind::BodyTooLarge
        );
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("11"));
        let e = read_body(&h, chunked(vec![1; 11], 3), exact)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "body larger than --max-size (10 bytes): Content-Length is 11"
        );
        // A known-empty body (HEAD) passes whatever length it declares.
        assert_eq!(
            read_body(&h, Full::new(Bytes::new()), exact)
                .await
                .unwrap()
                .size,
            0
        );
        // Decoding, the limit is on decoded bytes: an encoded body longer than
        // the limit that decodes to less passes.
        // Pseudo-random bytes (xorshift), which gzip makes slightly longer.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let plain: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let gz = encode(Coding::Gzip, false, &plain).await;
        let mut h = encoded("gzip");
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(gz.len()));
        let limit = BodyOptions {
            decode: true,
            max_size: Some(1000),
            sha256: false,
        };
        assert!(gz.len() > 1000, "{}", gz.len());
        let read = read_body(&h, Full::new(Bytes::from(gz)), limit)
            .await
            .unwrap();
        assert_eq!(read.size, 1000);
    }
}
