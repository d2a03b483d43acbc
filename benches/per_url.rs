//! Micro-benchmarks for the per-URL work outside the network: splitting input
//! into lines and applying the line rules, the URL rules,
//! and serialising a record as one JSON line.
//!
//! `cargo bench --bench per_url`

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fetcher_stream::internals::encode_record;
use fetcher_stream::internals::parse_url;
use fetcher_stream::internals::{classify_line, LineDecoder};
use fetcher_stream::{DefaultScheme, ErrorKind, FetchResult};
use tokio_util::codec::Decoder;

fn input(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(format!("http://127.0.0.1:8080/bytes/100/{i}\n").as_bytes());
    }
    v
}

fn line_reader(c: &mut Criterion) {
    let data = input(10_000);
    let mut g = c.benchmark_group("line_reader");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("decode+classify 10k lines", |b| {
        b.iter(|| {
            let mut d = LineDecoder::default();
            let mut buf = BytesMut::new();
            let mut n = 0usize;
            for chunk in data.chunks(16 * 1024) {
                buf.extend_from_slice(chunk);
                while let Some(raw) = d.decode(&mut buf).unwrap() {
                    n += classify_line(raw, n == 0).is_some() as usize;
                }
            }
            assert_eq!(n, 10_000);
        })
    });
    g.finish();
}

fn url_rules(c: &mut Criterion) {
    let mut g = c.benchmark_group("url_rules");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_url", |b| {
        b.iter(|| {
            parse_url(
                "http://127.0.0.1:8080/bytes/100/12345",
                DefaultScheme::Https,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn serialise(c: &mut Criterion) {
    let ok = FetchResult::Success {
        url: "http://127.0.0.1:8080/bytes/100/12345".into(),
        status: 200,
        size: 100,
        elapsed_ms: 1.3,
        http_version: "HTTP/1.1",
        wire_size: None,
        // A typical record: a request over a kept-alive connection.
        response: Some(Box::new(fetcher_stream::ResponseFacts {
            remote_addr: Some(([127, 0, 0, 1], 8080).into()),
            reused: true,
            ttfb_ms: 0.4,
            ..Default::default()
        })),
        attempts: None,
        extra: None,
    };
    let failed = FetchResult::Failure {
        url: "http://127.0.0.1:8080/bytes/100/12345".into(),
        error: "timeout after 5s".into(),
        error_kind: ErrorKind::Timeout,
        elapsed_ms: 5000.2,
        status: None,
        line: None,
        response: None,
        attempts: None,
        extra: None,
    };
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(1 << 20);
    g.bench_function("success as JSON line", |b| {
        b.iter(|| {
            buf.clear();
            encode_record(&mut buf, &ok);
        })
    });
    g.bench_function("failure as JSON line", |b| {
        b.iter(|| {
            buf.clear();
            encode_record(&mut buf, &failed);
        })
    });
    g.finish();
}

criterion_group!(benches, line_reader, url_rules, serialise);
criterion_main!(benches);
