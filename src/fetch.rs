//! The pipeline: a `Stream` of input lines in, a `Stream` of [`FetchResult`]s out.
//!
//! The look-ahead scheduler of [`crate::schedule`] reads lines into its
//! window and starts each URL's attempt, at most `max_concurrency` at once,
//! as its own tokio task ([`crate::attempt`]). A URL that must wait, for its
//! host (`--max-per-host`, `--rate-per-host`, a `Retry-After` pause), for a
//! `--rate` token or for its next attempt (`--retries`), waits in the window
//! without holding a slot. With none of these it behaves as
//! `buffer_unordered(max_concurrency)` (or `buffered` with
//! [`Config::keep_order`]), and costs no more CPU per URL.
//!
//! One line in gives exactly one record out: unusable lines become failure
//! records without a request, and when [`Config::cancel`] fires the pipeline
//! stops pulling new lines (lines already buffered in memory are still
//! answered), and every unfinished request ends as a `cancelled` failure.

use std::sync::Arc;

use futures::stream::{Stream, StreamExt};

use crate::attempt::Fetcher;
use crate::config::Config;
use crate::input::{InputLine, StopOnCancel};
use crate::result::FetchResult;
use crate::schedule::Scheduler;

/// Fetches each URL of `urls`, at most `config.max_concurrency` at a time, and
/// yields one [`FetchResult`] per item as each completes (in input order with
/// `config.keep_order`).
///
/// Items are URLs as `String`s (or [`InputLine`]s from [`crate::read_inputs`]);
/// each item gives exactly one record, including empty or unparsable ones
/// (`invalid_url`). The stream ends after the last record. Must be polled
/// inside a tokio runtime; dropping it aborts the requests in flight.
///
/// # Example
/// ```no_run
/// use futures::StreamExt;
/// # #[tokio::main] async fn main() {
/// let urls = futures::stream::iter(vec!["https://example.com/".to_string()]);
/// let mut results = fetcher_stream::fetch_stream(urls, fetcher_stream::Config::default());
/// while let Some(r) = results.next().await {
///     println!("{}", serde_json::to_string(&r).unwrap());
/// }
/// # }
/// ```
pub fn fetch_stream<S, T>(urls: S, config: Config) -> impl Stream<Item = FetchResult> + Send
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<InputLine> + Send + 'static,
{
    let cancel = config.cancel.clone();
    let fetcher = Arc::new(Fetcher::new(config));
    let lines = StopOnCancel::new(urls.map(Into::into).boxed(), cancel);
    Scheduler::new(lines.boxed(), fetcher)
}

/// Like [`fetch_stream`], but collects the records in input order.
///
/// # Example
/// ```no_run
/// # #[tokio::main] async fn main() {
/// let urls = futures::stream::iter(vec!["https://example.com/".to_string()]);
/// let results = fetcher_stream::fetch_all(urls, fetcher_stream::Config::default()).await;
/// assert_eq!(results.len(), 1);
/// # }
/// ```
pub async fn fetch_all<S, T>(urls: S, config: Config) -> Vec<FetchResult>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<InputLine> + Send + 'static,
{
    let config = Config {
        keep_order: true,
        ..config
    };
    fetch_stream(urls, config).collect().await
}
