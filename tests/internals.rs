//! The library's internal items the tests use, named in this one place. The
//! library's API is what its root exports (`fetcher_stream::{fetch_stream,
//! Config, FetchResult, ErrorKind, …}`); an item deeper than that is used
//! through here, so a change of module layout is repointed here alone.

/// The exit statuses, for checking that the man page lists each one.
pub use fetcher_stream::internals::Exit;
/// A stderr message, for checking the stderr schema's `message` keys.
pub use fetcher_stream::internals::Notice;
/// Every key a record may have besides `url`, for checking the record schema.
pub use fetcher_stream::internals::RECORD_KEYS;
