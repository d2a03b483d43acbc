//! Integration tests for issue 2: the filter end to end, against in-process
//! servers on `127.0.0.1:0` only (no other address, no internet).
//!
//! Grouped by area, as ripgrep's `tests.rs` does; helpers live in `util`. As
//! `tests/integration/main.rs`, Cargo builds this as one test binary
//! (`cargo test --test integration`) and finds each area's module beside it.

// Loopback servers and the binary runner shared by every area.
mod util;

// Record shapes: success fields, sizes (plain, chunked, HEAD), 404 is a success.
mod records;
// Transport failures: timeouts (hang, drip), truncated body, bad chunk, reset, connect, DNS.
mod failures;
// Bounded concurrency: the peak equals -c / max_concurrency; lazy input.
mod concurrency;
// Redirects: chains, loops, the limit, and credentials across origins.
mod redirects;
// Input lines: CRLF, BOM, comments, invalid lines, default scheme, files, order.
mod input;
// Methods and bodies (-X, -d), forced HTTP versions, --connect-timeout (issue 5).
mod requests;
// --input jsonl request specs: per-line requests, pass-through keys, invalid_input.
mod specs;
// --compressed decoding (gzip, br, zstd, deflate) and --max-size.
mod compression;
// Exit codes, usage errors, the summary line, -q, prompt output.
mod cli;
// Broken pipe on stdout, SIGINT and SIGTERM.
mod signals;
// Per-host caps, the look-ahead window, rate limits, Retry-After pauses.
mod scheduling;
// Retries: transient failures, backoff, idempotence, Retry-After.
mod retries;
