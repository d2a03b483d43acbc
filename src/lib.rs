//! fetcher-stream: fetch many URLs concurrently and get one typed result per URL
//! as each completes.
//!
//! The binary is a thin shell around [`fetch_stream`]: input lines become a
//! `Stream`, fetched with bounded concurrency (and, with per-host limits, rate
//! limits or retries, a look-ahead scheduler) over one shared client (our
//! connection pool over hyper's `client::conn`), each request attempt under
//! a `tokio::time::timeout` deadline. `ARCHITECTURE.md` follows one line from
//! stdin to its record.
//!
//! # Layout
//! - `app`: the program: runtime, signals, the run loop (`main.rs` calls it).
//! - `cli`: the flags, their parsers, and the one mapping to [`Config`].
//! - `output`: the JSON Lines writer on stdout, its flush policy, stderr.
//! - `progress`: the progress line on stderr (`--progress`).
//! - `fetch`: [`fetch_stream`] / [`fetch_all`], the pipeline.
//! - `schedule`: the look-ahead window: per-host caps, rate limits, host
//!   pauses, and retries waiting without a slot.
//! - `attempt`: one URL's attempt: request, redirects, body, record.
//! - `config`: [`Config`] and its defaults; [`Rate`], [`StatusSet`].
//! - `store`: keeping bodies (`--output-dir`) and exchanges ([`Warc`],
//!   `--warc`).
//! - `retry`: retry policy and state, transient failures, `Retry-After`.
//! - `aimd`: the adaptive per-host cap of `--max-per-host auto`.
//! - `earlier`: earlier runs' output read back: lines already done
//!   (`--resume`), validators to re-check with (`--if-changed`).
//! - `shard`: `--shard K/N`, the lines of one host shard out of N.
//! - `input`: reading files and stdin lazily, the line rules.
//! - `spec`: `--input jsonl` request specs; the `-X`/`-H` rules.
//! - `target`: the URL rules (default scheme, IDNA, origins).
//! - `result`: [`FetchResult`] and [`Summary`], the JSON records.
//! - `http`: the HTTP stack: pool, DNS, connect, TLS, proxies, body,
//!   redirects, and the classification of transport errors.
//! - `fdlimit`: the open-file limit; `exit`: exit statuses.
//! - `clock`: deadlines from user- or server-given durations, saturating.
//! - `error`: [`ErrorKind`] and [`FetchError`].
//!
//! Each module uses only modules below it in this order (a folder is one
//! module); `tests/layers.rs` checks it:
//!
//! Layers, top to bottom: app > cli > output > progress > fetch > schedule > attempt > config > store > retry > aimd > earlier > shard > input > spec > target > result > http > fdlimit > exit > clock > error
//!
//! # Example
//! ```no_run
//! use futures::StreamExt;
//! use fetcher_stream::{fetch_stream, Config, FetchResult};
//!
//! # #[tokio::main] async fn main() {
//! let urls = futures::stream::iter(["https://example.com/", "nope://x"].map(String::from));
//! let mut results = fetch_stream(urls, Config::default());
//! while let Some(r) = results.next().await {
//!     match r {
//!         FetchResult::Success { url, status, size, .. } => println!("{url}: {status}, {size} bytes"),
//!         FetchResult::Failure { url, error_kind, .. } => println!("{url}: {error_kind}"),
//!     }
//! }
//! # }
//! ```

mod aimd;
mod app;
mod attempt;
mod cli;
mod clock;
mod config;
mod earlier;
mod error;
mod exit;
mod fdlimit;
mod fetch;
mod http;
mod input;
mod output;
mod progress;
mod result;
mod retry;
mod schedule;
mod shard;
mod spec;
mod store;
mod target;

#[doc(hidden)]
pub use app::main as run_main;
pub use config::{
    BodyHash, CapHeld, CapHook, Config, Credentials, HostCap, Rate, RunStats, StatusSet,
};
pub use earlier::{
    input_key, read_earlier, send_validators, skip_done, Done, EarlierFile, EarlierRecord, Outcome,
    Validators,
};
pub use error::{ErrorKind, FetchError};
pub use fetch::{fetch_all, fetch_stream};
pub use http::proxy::{NoProxy, Proxies, ProxyScheme, ProxyUrl};
pub use http::{load_pem_certs, ClientOptions, ClientStats, HttpVersions, ResolveOverride};
pub use input::{read_inputs, read_sources, Input, InputFormat, InputLine, OnReadError};
pub use result::{line_key, FetchResult, Passthrough, Percentiles, ResponseFacts, Summary};
pub use shard::{host_key, Shard};
pub use spec::RequestSpec;
pub use store::Warc;
pub use target::DefaultScheme;

/// Not API: the pieces the fuzz targets, benchmarks and tests drive directly.
/// They may change at any time.
#[doc(hidden)]
pub mod internals {
    pub use crate::exit::Exit;
    pub use crate::input::{classify_line, classify_spec_line, LineDecoder, RawLine};
    pub use crate::output::{encode_record, Notice};
    pub use crate::result::RECORD_KEYS;
    pub use crate::spec::{parse_spec, BadSpec, Spec};
    pub use crate::target::parse_url;
}
