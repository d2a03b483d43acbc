//! Fuzz target: arbitrary bytes as `--input jsonl` lines.
//!
//! Each `\n`-separated piece goes through `classify_spec_line` with its line
//! number, and its text through `parse_spec`. Checked: no panic; a line gives
//! no record only when it is blank; a rejected line is `invalid_input` with
//! its own number in `line` and in the message; an accepted one carries a
//! spec whose pass-through keys never include a record key.
#![no_main]

use bytes::Bytes;
use fetcher_stream::internals::{classify_spec_line, RawLine};
use fetcher_stream::internals::{parse_spec, RECORD_KEYS};
use fetcher_stream::ErrorKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (i, piece) in data.split(|&b| b == b'\n').enumerate() {
        let number = i as u64 + 1;
        let raw = RawLine::Line(Bytes::copy_from_slice(piece));
        let Some(line) = classify_spec_line(raw, i == 0, number) else {
            let mut rest = piece;
            if i == 0 {
                rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
            }
            assert!(rest.trim_ascii().is_empty(), "a non-blank line gave no record");
            continue;
        };
        assert_eq!(line.line, Some(number));
        match &line.problem {
            Some(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidInput);
                assert!(e.to_string().contains(&format!("line {number}: ")));
            }
            None => {
                let spec = line.spec.as_ref().expect("an accepted line has a spec");
                if let Some(extra) = &spec.extra {
                    for key in RECORD_KEYS {
                        assert!(!extra.contains_key(key), "record key {key} passed through");
                    }
                }
            }
        }
        if let Ok(text) = std::str::from_utf8(piece) {
            let _ = parse_spec(text.trim());
        }
    }
});
