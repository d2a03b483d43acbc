//! `--compressed` and `--max-size`: decoding of each coding with exact
//! `size`/`wire_size`, corrupt bodies, and the size limit as the guard
//! against a decompression bomb.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::support::{exact, run, Fixed, Record, Server};

/// The plain body every encoded route decodes to: 100,000 bytes that
/// compress well but not to nothing.
fn plain() -> Vec<u8> {
    (0..100_000u32)
        .map(|i| b"abcdefgh"[(i % 7) as usize] ^ (i / 1000) as u8)
        .collect()
}

/// `data` encoded with the named coding (`deflate-raw`: RFC 1951 without the
/// zlib wrapper).
fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    use async_compression::tokio::write as enc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        macro_rules! run {
            ($e:expr) => {{
                let mut e = $e;
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
            }};
        }
        match coding {
            "gzip" => run!(enc::GzipEncoder::new(&mut out)),
            "br" => run!(enc::BrotliEncoder::new(&mut out)),
            "zstd" => run!(enc::ZstdEncoder::new(&mut out)),
            "deflate" => run!(enc::ZlibEncoder::new(&mut out)),
            "deflate-raw" => run!(enc::DeflateEncoder::new(&mut out)),
            _ => unreachable!("{coding}"),
        }
        out
    })
}

/// A fixed route answering `path` with `body` and its `Content-Encoding`
/// (chunked in 3 frames for paths under `/chunked`).
fn route(path: &'static str, coding: Option<&'static str>, body: Vec<u8>) -> Fixed {
    Fixed {
        path,
        coding,
        body: body.into(),
        chunked: path.starts_with("/chunked"),
    }
}

/// The `Accept-Encoding` of each request the server saw.
fn accept_encoding(server: &Server) -> Vec<Option<String>> {
    server
        .seen()
        .iter()
        .map(|s| {
            s.headers
                .get("accept-encoding")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn each_coding_is_decoded_with_exact_sizes() {
    let plain = plain();
    let cases = [
        ("/gzip", "gzip", encode("gzip", &plain)),
        ("/x-gzip", "x-gzip", encode("gzip", &plain)),
        ("/br", "br", encode("br", &plain)),
        ("/zstd", "zstd", encode("zstd", &plain)),
        ("/deflate", "deflate", encode("deflate", &plain)),
        ("/deflate-raw", "deflate", encode("deflate-raw", &plain)),
    ];
    let server = Server::with(
        cases
            .iter()
            .map(|(p, c, b)| route(p, Some(c), b.clone()))
            .collect(),
    );
    let urls: Vec<String> = cases.iter().map(|(p, ..)| server.url(p)).collect();
    let run = run(&["--compressed", "--keep-order"], urls.join("\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    run.checked_summary();
    let want: Vec<Record> = cases
        .iter()
        .zip(&urls)
        .map(|((_, _, wire), url)| {
            assert!(wire.len() < plain.len() / 2);
            Record::success(url, 200, plain.len() as u64).with_wire_size(wire.len() as u64)
        })
        .collect();
    assert_eq!(exact(&run.records), want);
    let accept = accept_encoding(&server);
    assert_eq!(accept.len(), cases.len());
    for a in accept {
        assert_eq!(a.as_deref(), Some("gzip, br, zstd, deflate"));
    }
}

#[test]
fn chunked_encoded_bodies_are_read_to_the_end_and_the_connection_reused() {
    let plain = plain();
    let wire = encode("gzip", &plain);
    let server = Server::with(vec![route("/chunked-gzip", Some("gzip"), wire.clone())]);
    let urls: Vec<String> = (0..10)
        .map(|i| server.url(&format!("/chunked-gzip?{i}")))
        .collect();
    let run = run(
        &["--compressed", "-c", "1", "--keep-order"],
        urls.join("\n"),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let want: Vec<Record> = urls
        .iter()
        .map(|u| Record::success(u, 200, plain.len() as u64).with_wire_size(wire.len() as u64))
        .collect();
    assert_eq!(exact(&run.records), want);
    // A body left unread would cost each request its own connection; a
    // request that starts while the previous connection is on its way back to
    // the pool waits for it rather than opening another.
    assert_eq!(server.accepted(), 1, "connections were not reused");
}

#[test]
fn without_compressed_nothing_is_asked_or_decoded() {
    let wire = encode("gzip", &plain());
    let server = Server::with(vec![route("/gzip", Some("gzip"), wire.clone())]);
    let url = server.url("/gzip");
    let run = run(&[], format!("{url}\n"));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 200, wire.len() as u64)]
    );
    assert_eq!(accept_encoding(&server), [None]);
}

#[test]
fn unknown_codings_are_counted_as_received_and_corrupt_bodies_fail() {
    let gz = encode("gzip", &plain());
    let mut cut = gz.clone();
    cut.truncate(gz.len() / 2);
    let server = Server::with(vec![
        route("/compress", Some("compress"), b"LZW?".to_vec()),
        route("/stacked", Some("gzip, br"), b"twice".to_vec()),
        route("/identity", Some("identity"), b"plain".to_vec()),
        route("/none", None, b"none".to_vec()),
        route("/garbage", Some("gzip"), b"this is not gzip".to_vec()),
        route("/cut", Some("gzip"), cut),
        route("/badbr", Some("br"), vec![0xff; 64]),
    ]);
    let paths = [
        "/compress",
        "/stacked",
        "/identity",
        "/none",
        "/garbage",
        "/cut",
        "/badbr",
    ];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let run = run(&["--compressed", "--keep-order"], urls.join("\n"));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    run.checked_summary();
    let ok = |i: usize, n: u64| Record::success(&urls[i], 200, n).with_wire_size(n);
    let got = exact(&run.records);
    assert_eq!(got[..4], [ok(0, 4), ok(1, 5), ok(2, 5), ok(3, 4)]);
    for (i, coding) in [(4, "gzip"), (5, "gzip"), (6, "br")] {
        let r = &got[i];
        let error = r.error.clone().unwrap_or_default();
        assert!(
            error.starts_with(&format!("cannot decode the {coding} body")),
            "{r:?}"
        );
        assert_eq!(
            *r,
            Record::failure(&urls[i], "protocol").with_error(&error),
            "{r:?}"
        );
    }
}

#[test]
fn max_size_stops_a_gzip_bomb_promptly() {
    // 10 MiB of zeros, about 10 KiB on the wire.
    let bomb = encode("gzip", &vec![0; 10 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let server = Server::with(vec![route("/bomb", Some("gzip"), bomb.clone())]);
    let url = server.url("/bomb");
    let run = run(&["--compressed", "--max-size", "1M"], format!("{url}\n"));
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::failure(&url, "body_too_large")
            .with_error("body larger than --max-size (1048576 bytes)")]
    );
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}",
        run.elapsed
    );
    // Under a limit it is not over, it decodes in full.
    let run = crate::support::run(&["--compressed", "--max-size", "10M"], format!("{url}\n"));
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 200, 10 << 20).with_wire_size(bomb.len() as u64)]
    );
}

/// Without `--max-size`, a bomb still cannot outlast `--timeout`, and the
/// other URLs are not held up while it decodes (brotli and zstd decoding
/// that never waits for the network would keep its worker thread, and the
/// deadline would fire only after the whole body was decoded).
#[test]
fn a_brotli_bomb_cannot_outlast_the_timeout() {
    // 1 GiB of zeros in 1,617 bytes; tests/fixtures/make-zeros-1gib-br.sh makes it.
    let bomb = include_bytes!("fixtures/zeros-1gib.br").to_vec();
    let server = Server::with(vec![
        route("/bomb", Some("br"), bomb),
        route("/plain", None, b"ok".to_vec()),
    ]);
    let (bomb, plain) = (server.url("/bomb"), server.url("/plain"));
    let input: String = [&bomb, &bomb, &plain, &plain, &plain]
        .iter()
        .map(|u| format!("{u}\n"))
        .collect();
    let run = run(&["--compressed", "-t", "0.5", "-c", "5"], input);
    let timeout = Record::failure(&bomb, "timeout").with_error("timeout after 0.5s");
    let ok = Record::success(&plain, 200, 2).with_wire_size(2);
    // In completion order: the plain URLs were not held up by the decoding.
    assert_eq!(
        exact(&run.records),
        [ok.clone(), ok.clone(), ok, timeout.clone(), timeout]
    );
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn max_size_without_compressed_counts_wire_bytes() {
    let server = Server::start();
    let exactly = server.url("/bytes/1024");
    let declared = server.url("/bytes/1025");
    let streamed = server.url("/chunked/3000");
    let run = run(
        &["--max-size", "1k", "--keep-order"],
        format!("{exactly}\n{declared}\n{streamed}\n"),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [
            Record::success(&exactly, 200, 1024),
            Record::failure(&declared, "body_too_large")
                .with_error("body larger than --max-size (1024 bytes): Content-Length is 1025"),
            Record::failure(&streamed, "body_too_large")
                .with_error("body larger than --max-size (1024 bytes)"),
        ]
    );
}

#[test]
fn head_with_compressed_and_max_size_reads_no_body() {
    let wire = encode("gzip", &plain());
    let server = Server::with(vec![route("/gzip", Some("gzip"), wire)]);
    let url = server.url("/gzip");
    let run = run(
        &["-X", "HEAD", "--compressed", "--max-size", "10"],
        format!("{url}\n"),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    assert_eq!(
        exact(&run.records),
        [Record::success(&url, 200, 0).with_wire_size(0)]
    );
}
