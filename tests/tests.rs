//! The integration tests: the binary (and the library's stream API) end to
//! end against in-process servers on `127.0.0.1:0`, grouped by area as
//! ripgrep's `tests/tests.rs` does. One test binary (`cargo test --test
//! tests`); the slow randomised `conservation` suite is a binary of its own.

// Shared servers, the binary runner and the typed records.
mod support;
// The library's internal items the tests use (everything below the crate root).
mod internals;

// Record shapes: success fields, sizes (plain, chunked, HEAD), 404 is a success.
mod records;
// Response and connection facts: headers, location, --include-header, --hash, timings.
mod facts;
// Transport failures: timeouts (hang, drip), truncated body, bad chunk, reset, connect, DNS.
mod failures;
// Bounded concurrency: the peak equals -c / max_concurrency; lazy input.
mod concurrency;
// Redirects: chains, loops, the limit, and credentials across origins.
mod redirects;
// Input lines: CRLF, BOM, comments, invalid lines, default scheme, files, order.
mod input;
// URL arguments and --url: command-line order, stdin left alone, the terminal hint.
mod arguments;
// --accept: statuses outside it are `status` failures, after redirects and retries.
mod accept;
// Methods and bodies (-X, -d), forced HTTP versions, --connect-timeout.
mod requests;
// --input jsonl request specs: per-line requests, pass-through keys, invalid_input.
mod specs;
// --compressed decoding (gzip, br, zstd, deflate) and --max-size.
mod compression;
// --output-dir and --warc: body files, WARC records read back, flat memory.
mod store;
// Exit codes, usage errors, the summary line, -q/-s, -m, completions, prompt output.
mod cli;
// --resume, --retry-failed, --if-changed: earlier runs' output read back.
mod resume;
// Broken pipe on stdout, SIGINT and SIGTERM.
mod signals;
// --progress: the status line on a pseudo-terminal, its rate and erasure.
mod progress;
// Per-host caps, the look-ahead window, rate limits, Retry-After pauses.
mod scheduling;
// --shard K/N: shards together give one run's records; the hash; other_shard.
mod shard;
// Retries: transient failures, backoff, idempotence, Retry-After.
mod retries;
// Hostile peers: stale keep-alive, broken bodies and heads, framing, Location, fd limits.
mod hostile;
// TLS: verification, ALPN, handshake deadlines, HTTP/2 connection sharing and GOAWAY.
mod tls;
// HTTP and SOCKS5 proxies, curl's proxy environment rules.
mod proxy;
// The README's safety claims: bodies never printed, control characters escaped.
mod safety;
// The man page and README keep up with --help, the exit statuses, error and notice kinds.
mod man_page;
// The JSON Schemas in schema/ match the record and summary types and reject bad lines.
mod schema;
// The module layers of src/lib.rs: no module uses one above it.
mod layers;
