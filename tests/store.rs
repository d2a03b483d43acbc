//! `--output-dir` and `--warc`: body files (names, contents, `body_path`,
//! no traversal, nothing left by a failure), WARC records read back and
//! checked (types, links, lengths, digests), and memory that stays flat
//! for a large body.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bytes::Bytes;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::support::{ok, scratch, Cmd, Fixed, Kind, Leaf, Options, Pki, RawServer, Reply, Server};

fn hex_sha256(data: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(data))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs the binary in `dir` on `urls` (one a line on stdin) with `args`.
fn run_in(dir: &Path, args: &[&str], urls: &[String]) -> crate::support::Run {
    Cmd::new(args)
        .current_dir(dir)
        .run(urls.iter().map(|u| format!("{u}\n")).collect::<String>())
}

#[test]
fn bodies_go_to_files_named_by_host_and_url_hash() {
    let gz = gzip(&[b'z'; 5000]);
    let server = Server::with(vec![Fixed {
        path: "/page.gz",
        coding: Some("gzip"),
        body: gz.into(),
        chunked: false,
    }]);
    let dir = scratch("store_bodies");
    let urls = [
        server.url("/bytes/5"),
        server.url("/chunked/3000"),
        server.url("/page.gz"),
        // user:password@ and #fragment are not part of the name.
        format!("http://u:p@127.0.0.1:{}/bytes/7#top", server.port()),
    ];
    let run = run_in(
        &dir,
        &["--output-dir", "out", "--compressed", "--hash", "sha256"],
        &urls,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let host = format!("127.0.0.1_{}", server.port());
    let mut paths = Vec::new();
    for r in &run.records {
        assert_eq!(r.kind, Kind::Success, "{r:?}");
        let named = r.url.replace("u:p@", "").replace("#top", "");
        let want = format!("out/{host}/{}", hex_sha256(named.as_bytes()));
        assert_eq!(r.body_path.as_deref(), Some(want.as_str()), "{r:?}");
        let body = std::fs::read(dir.join(&want)).unwrap();
        // The file holds the bytes `size` counts: decoded ones here.
        assert_eq!(Some(body.len() as u64), r.size, "{want}");
        assert_eq!(Some(hex_sha256(&body)), r.sha256, "{want}");
        paths.push(want.strip_prefix("out/").unwrap().to_owned());
    }
    let page = &run.records.iter().find(|r| r.url.ends_with(".gz")).unwrap();
    assert_eq!(
        std::fs::read(dir.join(page.body_path.as_ref().unwrap())).unwrap(),
        vec![b'z'; 5000]
    );
    paths.sort();
    assert_eq!(
        files_under(&dir.join("out")),
        paths,
        "no other file, no .part"
    );
}

#[test]
fn paths_in_urls_never_reach_the_file_system() {
    let server = Server::start();
    let dir = scratch("store_traversal");
    let urls = [
        server.url("/../../etc/passwd"),
        server.url("/%2e%2e/%2e%2e/etc/passwd"),
        server.url("/a/..%2f..%2f..%2fescape"),
        server.url("/.hidden"),
    ];
    let run = run_in(&dir, &["--output-dir", "out"], &urls);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let host = format!("127.0.0.1_{}", server.port());
    let mut expected: Vec<String> = run
        .records
        .iter()
        .map(|r| {
            let p = r.body_path.clone().unwrap();
            let name = p.strip_prefix(&format!("out/{host}/")).unwrap();
            assert!(
                name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
                "{p}"
            );
            format!("{host}/{name}")
        })
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(files_under(&dir.join("out")), expected);
    // Nothing was written beside `out`.
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "{:?}",
        files_under(&dir)
    );
}

/// A body that fails (cut short, too slow, over --max-size) leaves no file,
/// `.part` ones included, and no WARC record; a `status` failure under
/// --accept keeps its body like a success.
#[test]
fn failures_leave_no_file_and_no_record() {
    let raw = RawServer::new(|req| match req.head.target.as_str() {
        "/cut" => Reply::truncated(),
        "/slow" => Reply::drip(),
        _ => Reply::Close(ok("fine")),
    });
    let server = Server::start();
    let dir = scratch("store_failures");
    let urls = [
        raw.url("/cut"),
        raw.url("/slow"),
        server.url("/bytes/1000"),
        server.url("/chunked/1000"),
        server.url("/status/404"),
    ];
    let run = run_in(
        &dir,
        &[
            "--output-dir",
            "out",
            "--warc",
            "x.warc.gz",
            "--max-size",
            "500",
            "-t",
            "1",
            "--accept",
            "200",
        ],
        &urls,
    );
    assert_eq!(run.code(), 1, "{}", run.stderr);
    let kinds: BTreeMap<String, String> = run
        .records
        .iter()
        .map(|r| (r.url.clone(), r.error_kind.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kinds[&urls[0]], "protocol");
    assert_eq!(kinds[&urls[1]], "timeout");
    assert_eq!(kinds[&urls[2]], "body_too_large");
    assert_eq!(kinds[&urls[3]], "body_too_large");
    assert_eq!(kinds[&urls[4]], "status");
    let status = run.records.iter().find(|r| r.url == urls[4]).unwrap();
    let kept = status
        .body_path
        .clone()
        .expect("a status failure keeps its body");
    assert_eq!(std::fs::read(dir.join(&kept)).unwrap(), b"status 404");
    assert_eq!(
        files_under(&dir.join("out")),
        [kept.strip_prefix("out/").unwrap()]
    );
    for r in run.records.iter().filter(|r| r.url != urls[4]) {
        assert_eq!(r.body_path, None, "{r:?}");
    }
    let warc = read_warc(&dir.join("x.warc.gz"));
    let types: Vec<&str> = warc.iter().map(|r| r.field("WARC-Type")).collect();
    assert_eq!(types, ["warcinfo", "request", "response"]);
    assert_eq!(warc[2].field("WARC-Target-URI"), urls[4]);
}

/// One WARC record, read back from its gzip member.
#[derive(Debug)]
struct WarcRecord {
    fields: Vec<(String, String)>,
    block: Vec<u8>,
}

impl WarcRecord {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// The HTTP message's body: the block after the head's blank line.
    fn payload(&self) -> &[u8] {
        let at = self
            .block
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP head");
        &self.block[at + 4..]
    }

    fn head(&self) -> String {
        let body = self.payload().len();
        String::from_utf8_lossy(&self.block[..self.block.len() - body]).into_owned()
    }
}

/// Reads a .warc.gz member by member: each must hold exactly one record
/// (`WARC/1.1`, fields, `Content-Length` bytes of block, CRLF CRLF), whose
/// digests must match its block.
fn read_warc(path: &Path) -> Vec<WarcRecord> {
    let data = std::fs::read(path).unwrap();
    let mut input = &data[..];
    let mut records = Vec::new();
    while !input.is_empty() {
        let mut member = Vec::new();
        flate2::bufread::GzDecoder::new(&mut input)
            .read_to_end(&mut member)
            .unwrap();
        let end = member.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&member[..end]).unwrap();
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("WARC/1.1"));
        let fields: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_owned(), v.to_owned())
            })
            .collect();
        let record = WarcRecord {
            fields,
            block: Vec::new(),
        };
        let len: usize = record.field("Content-Length").parse().unwrap();
        let rest = &member[end + 4..];
        assert_eq!(rest.len(), len + 4, "one record per member");
        assert_eq!(&rest[len..], b"\r\n\r\n");
        let record = WarcRecord {
            block: rest[..len].to_vec(),
            ..record
        };
        let sha1 = |d: &[u8]| format!("sha1:{}", data_encoding::BASE32.encode(&Sha1::digest(d)));
        if record.field("WARC-Type") != "warcinfo" {
            assert_eq!(record.field("WARC-Block-Digest"), sha1(&record.block));
        }
        if record.field("WARC-Type") == "response" {
            assert_eq!(record.field("WARC-Payload-Digest"), sha1(record.payload()));
        }
        records.push(record);
    }
    records
}

/// Request and response records per hop, linked to each other, in order;
/// response blocks hold the head (without Transfer-Encoding) and the body
/// as received: a gzip body stays gzip while its body file is decoded.
#[test]
fn the_warc_file_holds_every_exchange() {
    let gz = gzip(b"decoded text");
    let server = Server::with(vec![Fixed {
        path: "/chunked-gz",
        coding: Some("gzip"),
        body: Bytes::from(gz.clone()),
        chunked: true,
    }]);
    let dir = scratch("store_warc");
    // A fragment is never sent, nor recorded.
    let urls = [server.url("/redirect/2"), server.url("/chunked-gz#part")];
    let run = run_in(
        &dir,
        &[
            "-c",
            "1",
            "--keep-order",
            "--compressed",
            "--warc",
            "w.warc.gz",
            "--output-dir",
            "out",
            "-d",
            "a=1",
        ],
        &urls,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let warc = read_warc(&dir.join("w.warc.gz"));
    let summary: Vec<(&str, &str)> = warc
        .iter()
        .map(|r| (r.field("WARC-Type"), r.field("WARC-Target-URI")))
        .collect();
    let (r2, r1, r0, gz_url) = (
        server.url("/redirect/2"),
        server.url("/redirect/1"),
        server.url("/redirect/0"),
        server.url("/chunked-gz"),
    );
    assert_eq!(
        summary,
        [
            ("warcinfo", ""),
            ("request", r2.as_str()),
            ("response", r2.as_str()),
            ("request", r1.as_str()),
            ("response", r1.as_str()),
            ("request", r0.as_str()),
            ("response", r0.as_str()),
            ("request", gz_url.as_str()),
            ("response", gz_url.as_str()),
        ]
    );
    assert_eq!(warc[0].field("WARC-Filename"), "w.warc.gz");
    for pair in warc[1..].chunks(2) {
        let (req, resp) = (&pair[0], &pair[1]);
        assert_eq!(
            req.field("WARC-Concurrent-To"),
            resp.field("WARC-Record-ID")
        );
        assert_eq!(
            resp.field("WARC-Concurrent-To"),
            req.field("WARC-Record-ID")
        );
        assert_eq!(req.field("WARC-Date"), resp.field("WARC-Date"));
        assert_eq!(resp.field("WARC-IP-Address"), "127.0.0.1");
        assert_eq!(
            req.field("Content-Type"),
            "application/http;msgtype=request"
        );
        assert_eq!(
            resp.field("Content-Type"),
            "application/http;msgtype=response"
        );
        let id = resp.field("WARC-Record-ID");
        assert!(id.starts_with("<urn:uuid:") && id.len() == 47, "{id}");
    }
    // The POST went to the first hop with its body; the 302 made it a GET.
    let first = String::from_utf8_lossy(&warc[1].block).into_owned();
    assert!(
        first.starts_with("POST /redirect/2 HTTP/1.1\r\n"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\na=1"), "{first}");
    let second = String::from_utf8_lossy(&warc[3].block).into_owned();
    assert!(
        second.starts_with("GET /redirect/1 HTTP/1.1\r\n"),
        "{second}"
    );
    assert!(warc[2].head().starts_with("HTTP/1.1 302 Found\r\n"));
    assert_eq!(warc[6].payload(), b"done");
    // Chunked and gzip: the head loses Transfer-Encoding, keeps
    // Content-Encoding, and the body is as sent.
    let last = &warc[8];
    let head = last.head().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-encoding: gzip\r\n"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(last.payload(), gz);
    let record = run.records.iter().find(|r| r.url == urls[1]).unwrap();
    let file = std::fs::read(dir.join(record.body_path.as_ref().unwrap())).unwrap();
    assert_eq!(file, b"decoded text");
}

/// HTTP/2 responses are written as HTTP/1.1 messages.
#[test]
fn http2_exchanges_are_written_as_http_1_1() {
    let pki = Pki::generate();
    let server = Server::https(pki.leaf(Leaf::Good), Options::default());
    let dir = scratch("store_h2");
    let url = server.url_for("example.test", "/bytes/3");
    let (ca, resolve) = (pki.ca_pem(), server.resolve("example.test"));
    let run = run_in(
        &dir,
        &[
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            "--warc",
            "h2.warc.gz",
        ],
        std::slice::from_ref(&url),
    );
    assert_eq!(run.records[0].http_version.as_deref(), Some("HTTP/2.0"));
    let warc = read_warc(&dir.join("h2.warc.gz"));
    assert_eq!(warc.len(), 3);
    assert_eq!(warc[2].field("WARC-Target-URI"), url);
    let request = String::from_utf8_lossy(&warc[1].block).into_owned();
    let port = server.port();
    assert!(
        request.starts_with(&format!(
            "GET /bytes/3 HTTP/1.1\r\nhost: example.test:{port}\r\n"
        )),
        "{request}"
    );
    assert!(
        warc[2].head().starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        warc[2].head()
    );
    assert_eq!(warc[2].payload(), b"xxx");
}

/// Only the attempt whose record goes out is kept.
#[test]
fn a_retried_attempt_leaves_nothing() {
    let raw = RawServer::scripted(vec![Reply::status(503, &[]), Reply::Close(ok("second"))]);
    let dir = scratch("store_retry");
    let run = run_in(
        &dir,
        &[
            "--retries",
            "1",
            "--retry-delay",
            "0",
            "--output-dir",
            "out",
            "--warc",
            "r.warc.gz",
        ],
        &[raw.url("/x")],
    );
    assert_eq!(run.records[0].attempts, Some(2), "{:?}", run.records);
    let warc = read_warc(&dir.join("r.warc.gz"));
    assert_eq!(warc.len(), 3);
    assert_eq!(warc[2].payload(), b"second");
    assert_eq!(files_under(&dir.join("out")).len(), 1);
    let path = run.records[0].body_path.clone().unwrap();
    assert_eq!(std::fs::read(dir.join(path)).unwrap(), b"second");
}

#[test]
fn an_unwritable_warc_file_is_a_usage_error() {
    let dir = scratch("store_unwritable");
    let run = run_in(
        &dir,
        &["--warc", "missing/dir/x.warc.gz"],
        &["http://127.0.0.1:9/".to_owned()],
    );
    assert_eq!(run.code(), 2);
    assert!(run.records.is_empty());
    assert!(
        run.stderr
            .starts_with("fetcher-stream: --warc missing/dir/x.warc.gz: "),
        "{}",
        run.stderr
    );
}

/// A body four times larger takes no more memory: it streams to disk.
#[test]
fn memory_stays_flat_for_large_bodies() {
    let server = Server::start();
    let dir = scratch("store_memory");
    let peak = |n: u64| {
        let out = std::fs::File::create(dir.join(format!("records-{n}"))).unwrap();
        let mut running = Cmd::new(&[
            "--output-dir",
            "out",
            "--warc",
            &format!("m{n}.warc.gz"),
            &server.url(&format!("/bytes/{n}")),
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .limit(std::time::Duration::from_secs(120))
        .start();
        let (status, kib) = running.wait_peak_rss();
        assert!(status.success(), "{status:?}");
        let records = std::fs::read_to_string(dir.join(format!("records-{n}"))).unwrap();
        assert!(records.contains(&format!("\"size\":{n},")), "{records}");
        kib
    };
    const MIB: u64 = 1 << 20;
    let small = peak(6 * MIB);
    let large = peak(24 * MIB);
    let file: PathBuf = dir.join(format!("m{}.warc.gz", 24 * MIB));
    assert!(std::fs::metadata(file).unwrap().len() > 0);
    // Holding the body would add 18 MiB or more.
    assert!(
        large < small + 9 * 1024,
        "peak RSS {large} KiB for 24 MiB, {small} KiB for 6 MiB"
    );
}
