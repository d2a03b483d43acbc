//! The `--warc` file: WARC/1.1 (ISO 28500:2017) `request` and `response`
//! records of each exchange, after one `warcinfo` record; each record is
//! its own gzip member (RFC 1952), so the file is a `.warc.gz` that tools
//! can index and read record by record.
//!
//! One thread owns the file ([`Warc`]) and writes whole exchanges as the
//! attempts hand them over through a bounded channel, so records never
//! interleave. A final response's body is not in memory: it was spooled to
//! an anonymous temporary file next to the WARC file while it was read (with
//! its digests), and the writer copies it from there.
//!
//! Layout of an exchange (the records of one URL, redirect hops first):
//!
//! - `request`: `WARC-Record-ID`, `WARC-Date` (when the request started,
//!   UTC, seconds), `WARC-Target-URI` (the hop's URL without
//!   `user:password@`), `WARC-Concurrent-To` (the response's ID),
//!   `WARC-IP-Address` (the peer, when known), `WARC-Block-Digest`,
//!   `Content-Type: application/http;msgtype=request`. The block is the
//!   request as built, written as HTTP/1.1 (request line with the path and
//!   query, `host` first when the request has none, the fields, a blank
//!   line, the body).
//! - `response`: the same fields (`WARC-Concurrent-To` names the request),
//!   `WARC-Payload-Digest` and `msgtype=response`. The block is the
//!   response head written as HTTP/1.1 whatever the version (`HTTP/1.0`
//!   stays; an HTTP/2 response becomes `HTTP/1.1 200 OK` with its fields,
//!   as wget and warcio write it), then the body as received: after the
//!   transfer coding is removed (so `Transfer-Encoding` is left out of the
//!   head) and before any content decoding (`Content-Encoding` stays true,
//!   even with `--compressed`).
//! - A redirect hop whose body was not read (large or of unknown length)
//!   has the head alone and `WARC-Truncated: unspecified`.
//!
//! Digests are SHA-1 in base32 (`sha1:…`), as wget, Heritrix and warcio
//! write and check them.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};
use sha1::{Digest as _, Sha1};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::spool::Sha1Digests;

/// Exchanges that may wait for the writer before attempts wait to hand
/// theirs over.
const QUEUED_EXCHANGES: usize = 16;

/// A WARC file being written by its own thread. Clones share the file.
///
/// [`Warc::create`] writes the `warcinfo` record; each URL's exchanges are
/// added as its attempt ends; [`Warc::finish`] flushes and closes the file.
#[derive(Clone)]
pub struct Warc(Arc<Shared>);

struct Shared {
    path: PathBuf,
    /// Where body spools are made: the WARC file's directory.
    spool_dir: PathBuf,
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Warc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Warc").field(&self.0.path).finish()
    }
}

enum Message {
    /// Write these exchanges, then say how it went.
    Write(Vec<WarcExchange>, oneshot::Sender<io::Result<()>>),
    /// Flush, close the file and end the thread.
    Close(oneshot::Sender<io::Result<()>>),
}

impl Warc {
    /// Creates (or truncates) the file at `path`, writes its `warcinfo`
    /// record and starts the thread that writes the rest.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Warc> {
        let path = path.as_ref().to_owned();
        let mut out = BufWriter::new(File::create(&path)?);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        write_warcinfo(&mut out, &name, SystemTime::now())?;
        out.flush()?;
        let spool_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let (tx, rx) = mpsc::channel(QUEUED_EXCHANGES);
        std::thread::Builder::new()
            .name("warc-writer".into())
            .spawn(move || writer(out, rx))?;
        Ok(Warc(Arc::new(Shared {
            path,
            spool_dir,
            tx,
        })))
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Waits for the exchanges handed over so far to be written, flushes
    /// and closes the file. Exchanges handed over later fail.
    ///
    /// # Errors
    /// The last flush failed, or the writer thread had stopped.
    pub async fn finish(&self) -> io::Result<()> {
        let (reply, done) = oneshot::channel();
        self.0
            .tx
            .send(Message::Close(reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Where a body's spool goes.
    pub(crate) fn spool_dir(&self) -> &Path {
        &self.0.spool_dir
    }

    /// Writes `exchanges` (one URL's, in order) and waits until they are in
    /// the file.
    pub(crate) async fn write(&self, exchanges: Vec<WarcExchange>) -> io::Result<()> {
        let (reply, done) = oneshot::channel();
        self.0
            .tx
            .send(Message::Write(exchanges, reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}

fn stopped() -> io::Error {
    io::Error::other("the WARC file is closed")
}

/// One request and its response, ready for the file.
#[derive(Debug)]
pub(crate) struct WarcExchange {
    /// The hop's URL, without `user:password@`.
    pub(crate) uri: String,
    /// When the request started.
    pub(crate) date: SystemTime,
    /// The peer the request went to, when known.
    pub(crate) ip: Option<IpAddr>,
    /// The request block (see [`request_block`]).
    pub(crate) request: Bytes,
    /// The response block.
    pub(crate) response: Block,
}

/// A response record's block.
#[derive(Debug)]
pub(crate) enum Block {
    /// Head and body in memory (a redirect's), the body from `payload_at`;
    /// `truncated` when the body was not read (the block is the head alone).
    Memory {
        data: Bytes,
        payload_at: usize,
        truncated: bool,
    },
    /// Head and body spooled to `file`, `len` bytes, with their digests.
    Spooled {
        file: File,
        len: u64,
        digests: Sha1Digests,
    },
}

/// The request as a block: `METHOD /path?query HTTP/1.1`, `host` when the
/// fields have none, the fields, a blank line, the body.
pub(crate) fn request_block(method: &Method, url: &Url, headers: &HeaderMap, body: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(256 + body.len());
    b.extend_from_slice(method.as_str().as_bytes());
    b.push(b' ');
    b.extend_from_slice(url.path().as_bytes());
    if let Some(q) = url.query() {
        b.push(b'?');
        b.extend_from_slice(q.as_bytes());
    }
    b.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(header::HOST) {
        b.extend_from_slice(b"host: ");
        b.extend_from_slice(url.host_str().unwrap_or_default().as_bytes());
        if let Some(port) = url.port() {
            b.push(b':');
            b.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
        }
        b.extend_from_slice(b"\r\n");
    }
    push_fields(&mut b, headers);
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(body);
    b.into()
}

/// A response head as HTTP/1.1 (`HTTP/1.0` kept) with `reason` (the one
/// received, else the status's standard one), the fields but
/// `Transfer-Encoding`, and the blank line.
pub(crate) fn response_head(
    version: Version,
    status: StatusCode,
    reason: Option<&[u8]>,
    headers: &HeaderMap,
) -> Bytes {
    let mut b = Vec::with_capacity(512);
    b.extend_from_slice(if version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    b.extend_from_slice(status.as_str().as_bytes());
    b.push(b' ');
    let reason = reason.unwrap_or_else(|| status.canonical_reason().unwrap_or("").as_bytes());
    b.extend_from_slice(reason);
    b.extend_from_slice(b"\r\n");
    let mut fields = headers.clone();
    fields.remove(header::TRANSFER_ENCODING);
    push_fields(&mut b, &fields);
    b.extend_from_slice(b"\r\n");
    b.into()
}

fn push_fields(b: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        b.extend_from_slice(name.as_str().as_bytes());
        b.extend_from_slice(b": ");
        b.extend_from_slice(value.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
}

/// The writer thread: writes each message's exchanges, flushing after
/// each, until `Close` or until every sender is gone. After a write error
/// the file is left as it is and every later write fails with that error.
fn writer(mut out: BufWriter<File>, mut rx: mpsc::Receiver<Message>) {
    let mut broken: Option<String> = None;
    while let Some(message) = rx.blocking_recv() {
        match message {
            Message::Write(exchanges, reply) => {
                let result = match &broken {
                    Some(e) => Err(io::Error::other(format!("an earlier write failed: {e}"))),
                    None => exchanges
                        .into_iter()
                        .try_for_each(|x| write_exchange(&mut out, x))
                        .and_then(|()| out.flush()),
                };
                if let Err(e) = &result {
                    broken.get_or_insert_with(|| e.to_string());
                }
                let _ = reply.send(result);
            }
            Message::Close(reply) => {
                let _ = reply.send(out.flush());
                return;
            }
        }
    }
    let _ = out.flush();
}

/// A new `<urn:uuid:…>` (a version 4 UUID, RFC 9562) for `WARC-Record-ID`.
fn record_id() -> String {
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    format!("<{}>", id.urn())
}

/// `sha1:` and the digest in base32 (RFC 4648).
fn sha1_label(digest: &[u8; 20]) -> String {
    format!("sha1:{}", data_encoding::BASE32.encode(digest))
}

fn write_exchange(out: &mut impl Write, x: WarcExchange) -> io::Result<()> {
    let date = warc_date(x.date);
    let request_id = record_id();
    let response_id = record_id();
    let ip = x.ip.map(|ip| ip.to_string());
    let common = |fields: &mut Vec<(&'static str, String)>| {
        fields.push(("WARC-Date", date.clone()));
        fields.push(("WARC-Target-URI", x.uri.clone()));
        if let Some(ip) = &ip {
            fields.push(("WARC-IP-Address", ip.clone()));
        }
    };
    let mut request = vec![
        ("WARC-Type", "request".to_owned()),
        ("WARC-Record-ID", request_id.clone()),
    ];
    common(&mut request);
    request.push(("WARC-Concurrent-To", response_id.clone()));
    request.push((
        "WARC-Block-Digest",
        sha1_label(&Sha1::digest(&x.request).into()),
    ));
    request.push((
        "Content-Type",
        "application/http;msgtype=request".to_owned(),
    ));
    write_record(out, &request, &mut &x.request[..], x.request.len() as u64)?;

    let mut response = vec![
        ("WARC-Type", "response".to_owned()),
        ("WARC-Record-ID", response_id),
    ];
    common(&mut response);
    response.push(("WARC-Concurrent-To", request_id));
    match x.response {
        Block::Memory {
            data,
            payload_at,
            truncated,
        } => {
            response.push(("WARC-Block-Digest", sha1_label(&Sha1::digest(&data).into())));
            if truncated {
                response.push(("WARC-Truncated", "unspecified".to_owned()));
            } else {
                let payload = &data[payload_at.min(data.len())..];
                response.push((
                    "WARC-Payload-Digest",
                    sha1_label(&Sha1::digest(payload).into()),
                ));
            }
            response.push(("Content-Type", RESPONSE_TYPE.to_owned()));
            write_record(out, &response, &mut &data[..], data.len() as u64)
        }
        Block::Spooled {
            mut file,
            len,
            digests,
        } => {
            response.push(("WARC-Block-Digest", sha1_label(&digests.block)));
            response.push(("WARC-Payload-Digest", sha1_label(&digests.payload)));
            response.push(("Content-Type", RESPONSE_TYPE.to_owned()));
            file.rewind()?;
            write_record(out, &response, &mut file, len)
        }
    }
}

const RESPONSE_TYPE: &str = "application/http;msgtype=response";

/// One record as its own gzip member: `WARC/1.1`, `fields`, `Content-Length`,
/// a blank line, `len` bytes of `block`, and the two CRLFs that end a record.
fn write_record(
    out: &mut impl Write,
    fields: &[(&str, String)],
    block: &mut impl Read,
    len: u64,
) -> io::Result<()> {
    let mut head = String::from("WARC/1.1\r\n");
    for (name, value) in fields {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {len}\r\n\r\n");
    let mut gz = GzEncoder::new(out, Compression::default());
    gz.write_all(head.as_bytes())?;
    let copied = io::copy(&mut block.take(len), &mut gz)?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("spooled block ended after {copied} of {len} bytes"),
        ));
    }
    gz.write_all(b"\r\n\r\n")?;
    gz.finish()?;
    Ok(())
}

fn write_warcinfo(out: &mut impl Write, file_name: &str, now: SystemTime) -> io::Result<()> {
    let info = concat!(
        "software: fetcher-stream/",
        env!("CARGO_PKG_VERSION"),
        "\r\nformat: WARC File Format 1.1\r\n"
    );
    let mut fields = vec![
        ("WARC-Type", "warcinfo".to_owned()),
        ("WARC-Record-ID", record_id()),
        ("WARC-Date", warc_date(now)),
    ];
    if !file_name.is_empty() {
        fields.push(("WARC-Filename", file_name.to_owned()));
    }
    fields.push(("Content-Type", "application/warc-fields".to_owned()));
    write_record(out, &fields, &mut info.as_bytes(), info.len() as u64)
}

/// `YYYY-MM-DDThh:mm:ssZ` in UTC (W3C date and time, as `WARC-Date` wants),
/// from the civil calendar of the days since 1970-01-01 (the algorithm of
/// Howard Hinnant's `civil_from_days`).
fn warc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_seconds() {
        let at = |s: u64| warc_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn heads_are_written_as_http_1_1_without_transfer_encoding() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        let head = response_head(Version::HTTP_2, StatusCode::NOT_FOUND, None, &h);
        assert_eq!(
            &head[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n\r\n"
        );
        let old = response_head(Version::HTTP_10, StatusCode::OK, Some(b"Fine"), &h);
        assert!(old.starts_with(b"HTTP/1.0 200 Fine\r\n"));
        let url = Url::parse("http://h:8/a%20b?q=1#f").unwrap();
        let req = request_block(&Method::POST, &url, &HeaderMap::new(), b"x=1");
        assert_eq!(
            &req[..],
            b"POST /a%20b?q=1 HTTP/1.1\r\nhost: h:8\r\n\r\nx=1"
        );
    }

    #[test]
    fn record_ids_are_uuid_urns() {
        let id = record_id();
        assert_eq!(id.len(), 47, "{id}");
        assert!(id.starts_with("<urn:uuid:") && id.ends_with('>'), "{id}");
        assert_eq!(&id[24..25], "4", "version 4: {id}");
        assert_ne!(id, record_id());
    }

    #[test]
    fn a_record_is_one_gzip_member() {
        let mut out = Vec::new();
        write_warcinfo(&mut out, "a.warc.gz", UNIX_EPOCH).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(
            text.starts_with("WARC/1.1\r\nWARC-Type: warcinfo\r\n"),
            "{text}"
        );
        assert!(text.contains("WARC-Date: 1970-01-01T00:00:00Z\r\n"));
        assert!(text.contains("WARC-Filename: a.warc.gz\r\n"));
        let (head, block) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(block.len(), len + 4);
        assert!(block.ends_with("\r\n\r\n"));
    }
}
