//! The pipeline: a `Stream` of input lines in, a `Stream` of [`FetchResult`]s out.
//!
//! Each line gets a concurrency slot from `buffer_unordered(max_concurrency)`
//! (or `buffered` for [`Config::keep_order`]), and its attempt runs as its own
//! tokio task ([`crate::attempt`]).
//!
//! When a URL may have to wait, for its host or for its next attempt
//! (`--max-per-host`, `--rate-per-host`, `--rate`, `--retries`), the
//! look-ahead scheduler of [`crate::schedule`] takes the place of
//! `buffer_unordered`: a URL that must wait does so in its window without
//! holding a slot.
//!
//! One line in gives exactly one record out: unusable lines become failure
//! records without a request, and when [`Config::cancel`] fires the pipeline
//! stops pulling new lines (lines already buffered in memory are still
//! answered), and every unfinished request ends as a `cancelled` failure.

use std::future::Future;
use std::sync::Arc;

use futures::future::{self, Either, FutureExt};
use futures::stream::{Stream, StreamExt};

use crate::attempt::{Attempted, Fetcher};
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
    let concurrency = config.max_concurrency.max(1);
    let keep_order = config.keep_order;
    let scheduled = config.scheduled();
    let cancel = config.cancel.clone();
    let fetcher = Arc::new(Fetcher::new(config));
    let lines = StopOnCancel::new(urls.map(Into::into).boxed(), cancel);
    if scheduled {
        return Either::Left(Scheduler::new(lines.boxed(), fetcher));
    }
    let records = lines.map(move |line| start(&fetcher, line));
    Either::Right(if keep_order {
        Either::Left(records.buffered(concurrency))
    } else {
        Either::Right(records.buffer_unordered(concurrency))
    })
}

/// Called when a line gets its concurrency slot in the plain pipeline (the
/// URL's clock starts here): its one attempt, or its failure record.
fn start(fetcher: &Arc<Fetcher>, line: InputLine) -> impl Future<Output = FetchResult> + Send {
    match fetcher.prepare(line) {
        Ok(job) => Either::Left(fetcher.start(job, None).map(Attempted::into_record)),
        Err(record) => Either::Right(future::ready(record)),
    }
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
