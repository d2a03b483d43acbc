//! Fuzz target: arbitrary bytes through the line reader and the URL rules.
//!
//! The first byte picks the chunk size the bytes arrive in (so lines split
//! across reads are exercised) and a small line limit (so the overlong-line
//! path is reached without megabytes of input). Checked: no panic; every
//! counted line gives exactly one `InputLine`; the decoder never holds more
//! than the limit plus one chunk; and `parse_url` either fails with a typed
//! error or returns an http(s) URL with a host.
#![no_main]

use bytes::BytesMut;
use fetcher_stream::internals::{classify_line, LineDecoder};
use fetcher_stream::internals::parse_url;
use fetcher_stream::DefaultScheme;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&knob, data)) = data.split_first() else {
        return;
    };
    let chunk = 1 + (knob as usize & 0x1f);
    let limit = 8 + (knob as usize >> 5) * 16;
    let mut decoder = LineDecoder::new(limit);
    let mut buf = BytesMut::new();
    let mut first = true;
    let mut handle = |raw| {
        if let Some(line) = classify_line(raw, std::mem::replace(&mut first, false)) {
            if line.problem.is_none() {
                for scheme in [DefaultScheme::Https, DefaultScheme::Http] {
                    if let Ok(url) = parse_url(&line.text, scheme) {
                        assert!(matches!(url.scheme(), "http" | "https"));
                        assert!(url.host_str().is_some_and(|h| !h.is_empty()));
                    }
                }
            }
        }
    };
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(raw) = decoder.decode(&mut buf).expect("decode never fails") {
            handle(raw);
        }
        assert!(buf.len() <= limit + chunk, "decoder buffer grew past the limit");
    }
    while let Some(raw) = decoder.decode_eof(&mut buf).expect("decode never fails") {
        handle(raw);
    }
});
