//! fetcher-stream: fetch many URLs concurrently and get one typed result per URL
//! as each completes.
//!
//! The binary is a thin shell around [`fetch_stream`]: input lines become a
//! `Stream`, fetched with `buffer_unordered(max_concurrency)` (or, with
//! per-host limits, rate limits or retries, a look-ahead scheduler) over one
//! shared client ([`http`]: our connection pool over hyper's `client::conn`),
//! each request attempt under a `tokio::time::timeout` deadline.
//!
//! # Layout
//! - [`input`]: reading files/stdin lazily, one line at a time, bounded memory.
//! - [`spec`]: `--input jsonl` request specs, and the method/header rules of `-X`/`-H`.
//! - [`target`]: the URL rules (default scheme, IDNA, percent-encoding).
//! - [`http`]: the HTTP stack: our connection pool over hyper's `client::conn`,
//!   DNS, TCP with typed error markers, proxies, TLS.
//! - [`fetch`]: [`fetch_stream`] / [`fetch_all`], the concurrent pipeline and redirects.
//! - [`schedule`]: per-host caps, the look-ahead window, rate limits and host pauses.
//! - [`retry`]: which failures are retried, backoff with jitter, `Retry-After`.
//! - [`body`]: reading a response body: counting, `--compressed` decoding, `--max-size`.
//! - [`result`]: [`FetchResult`] and [`Summary`], the JSON records.
//! - [`error`]: [`ErrorKind`] and [`FetchError`].
//! - [`output`]: the JSON Lines writer and broken-pipe handling.
//! - [`cli`]: the flags and [`cli::run`]; [`exit`]: exit statuses.
//! - [`fdlimit`]: raising `RLIMIT_NOFILE` and fitting the concurrency to it.
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

pub mod cli;
pub mod error;
pub mod exit;
pub mod fdlimit;
pub mod fetch;
pub mod http;
pub mod input;
pub mod output;
pub mod result;
pub mod retry;
pub mod schedule;
pub mod spec;
pub mod target;

pub use error::{ErrorKind, FetchError};
pub use fetch::{fetch_all, fetch_stream, Config};
pub use input::{read_inputs, InputLine};
pub use result::{FetchResult, Summary};
pub use retry::RetryPolicy;
pub use schedule::Rate;
pub use target::DefaultScheme;
