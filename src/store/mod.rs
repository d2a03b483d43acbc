//! Keeping what was fetched: each body in a file of its own
//! (`--output-dir`, named as [`name`] says) and the exchanges in a WARC file
//! (`--warc`, see [`warc`]).
//!
//! An attempt owns a [`Stash`]. While the final response's body is read,
//! copies of its bytes go through the body reader's taps to spool writers
//! on tokio's blocking pool ([`spool`]): the bytes counted in `size` to a
//! temporary `.part` file beside the body's final name, and the response
//! as received (head, then body) to an anonymous temporary file beside the
//! WARC file. Only a few blocks per body are ever in memory. When the
//! attempt's outcome is final, [`Stash::keep`] hands the exchanges to the
//! WARC writer and renames the body file to its name, so no final name ever
//! holds half a body; otherwise (a failure, a retry, a timeout)
//! [`Stash::discard`] removes the temporary files. A crash can leave a
//! `.part` file, never a half body under a final name.
//!
//! With neither flag the stash is empty and costs an `Option` check per
//! step.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Method, StatusCode, Version};
use url::Url;

use crate::error::{ErrorKind, FetchError};
use crate::http::body::BodyTaps;

mod name;
mod spool;
mod warc;

pub use warc::Warc;

use spool::{spool, SpoolTask};
use warc::{Block, WarcExchange};

/// The parts of a request that its WARC record shows.
pub(crate) struct RequestParts<'r> {
    /// The method sent.
    pub(crate) method: &'r Method,
    /// The hop's URL.
    pub(crate) url: &'r Url,
    /// The header fields sent.
    pub(crate) headers: &'r HeaderMap,
    /// The body sent (empty for none).
    pub(crate) body: &'r [u8],
}

/// The parts of a response head that its WARC record shows.
pub(crate) struct ResponseParts<'r> {
    /// The hop's URL, as it goes into `WARC-Target-URI`.
    pub(crate) uri: String,
    /// The response's version.
    pub(crate) version: Version,
    /// The response's status.
    pub(crate) status: StatusCode,
    /// The reason phrase received, when it was not the standard one.
    pub(crate) reason: Option<&'r [u8]>,
    /// The response's header fields.
    pub(crate) headers: &'r HeaderMap,
    /// The peer the request went to.
    pub(crate) ip: Option<IpAddr>,
}

/// A request block waiting for its response, and when it was sent.
struct SentRequest {
    block: Bytes,
    date: SystemTime,
}

/// What one attempt keeps while it runs (see the module doc).
pub(crate) struct Stash<'a> {
    output_dir: Option<&'a Path>,
    warc: Option<&'a Warc>,
    /// The last request sent, for the WARC file.
    request: Option<SentRequest>,
    /// Finished exchanges of redirect hops, in order.
    hops: Vec<WarcExchange>,
    /// The taps the final body is read through.
    taps: BodyTaps,
    /// The final body's file: where it goes, and its writer.
    body: Option<(PathBuf, SpoolTask<tempfile::NamedTempFile>)>,
    /// The body file an earlier run kept for a `304 Not Modified` answer:
    /// it is still current, so it is neither replaced nor removed.
    current: Option<PathBuf>,
    /// The final exchange: its request and response record data, and the
    /// writer of the response block.
    last: Option<(
        SentRequest,
        String,
        Option<IpAddr>,
        SpoolTask<std::fs::File>,
    )>,
}

impl<'a> Stash<'a> {
    /// An empty stash for a run that keeps bodies in `output_dir` and/or
    /// exchanges in `warc`.
    pub(crate) fn new(output_dir: Option<&'a Path>, warc: Option<&'a Warc>) -> Stash<'a> {
        Stash {
            output_dir,
            warc,
            request: None,
            hops: Vec::new(),
            taps: BodyTaps::default(),
            body: None,
            current: None,
            last: None,
        }
    }

    /// Whether anything is kept (`--output-dir` or `--warc`).
    pub(crate) fn is_on(&self) -> bool {
        self.output_dir.is_some() || self.warc.is_some()
    }

    /// Whether requests and responses go to a WARC file.
    pub(crate) fn records_exchanges(&self) -> bool {
        self.warc.is_some()
    }

    /// Notes the request about to be sent (its latest form, when it is
    /// sent again), for the WARC file.
    pub(crate) fn request(&mut self, request: RequestParts<'_>) {
        if self.warc.is_some() {
            self.request = Some(SentRequest {
                block: warc::request_block(
                    request.method,
                    request.url,
                    request.headers,
                    request.body,
                ),
                date: SystemTime::now(),
            });
        }
    }

    /// Records a redirect hop's response, with its `body` when it was read
    /// whole.
    pub(crate) fn hop(&mut self, response: ResponseParts<'_>, body: Option<Bytes>) {
        let Some(request) = self.request.take() else {
            return;
        };
        let head = warc::response_head(
            response.version,
            response.status,
            response.reason,
            response.headers,
        );
        let payload_at = head.len();
        let truncated = body.is_none();
        let mut data = Vec::with_capacity(head.len() + body.as_ref().map_or(0, Bytes::len));
        data.extend_from_slice(&head);
        data.extend_from_slice(body.as_deref().unwrap_or_default());
        self.hops.push(WarcExchange {
            uri: response.uri,
            date: request.date,
            ip: response.ip,
            request: request.block,
            response: Block::Memory {
                data: data.into(),
                payload_at,
                truncated,
            },
        });
    }

    /// Starts keeping the final response, whose body is about to be read
    /// through [`Stash::taps`]: its body file is named after `input` (the
    /// URL asked for, whatever redirects followed).
    ///
    /// With `not_modified` (a `304` to a conditional request, RFC 9110
    /// sec. 15.4.5), the body file of the copy the validators came from is
    /// current: it is kept as it is, and named in `body_path` when it exists.
    pub(crate) fn start_final(
        &mut self,
        input: &Url,
        response: ResponseParts<'_>,
        not_modified: bool,
    ) {
        if let (Some(dir), true) = (self.output_dir, not_modified) {
            let path = name::body_path(dir, input);
            self.current = path.is_file().then_some(path);
        } else if let Some(dir) = self.output_dir {
            let path = name::body_path(dir, input);
            let part_dir = path.parent().map(Path::to_owned).unwrap_or_default();
            let (tap, task) = spool(
                move || {
                    std::fs::create_dir_all(&part_dir)?;
                    tempfile::Builder::new()
                        .prefix(".")
                        .suffix(".part")
                        .tempfile_in(&part_dir)
                },
                None,
                false,
            );
            self.taps.counted = Some(tap);
            self.body = Some((path, task));
        }
        if let (Some(warc), Some(request)) = (self.warc, self.request.take()) {
            let head = warc::response_head(
                response.version,
                response.status,
                response.reason,
                response.headers,
            );
            let dir = warc.spool_dir().to_owned();
            let (tap, task) = spool(move || tempfile::tempfile_in(dir), Some(head), true);
            self.taps.wire = Some(tap);
            self.last = Some((request, response.uri, response.ip, task));
        }
    }

    /// The taps for the final body: none until [`Stash::start_final`].
    pub(crate) fn taps(&self) -> &BodyTaps {
        &self.taps
    }

    /// Keeps what the attempt got: writes its exchanges to the WARC file,
    /// then moves the body file to its name, which it returns as written
    /// (`DIR/HOST/HASH`, lossy UTF-8).
    ///
    /// # Errors
    /// An `io` failure when a file cannot be written or renamed; then
    /// nothing is left of the body file.
    pub(crate) async fn keep(mut self) -> Result<Option<String>, FetchError> {
        self.taps = BodyTaps::default();
        if let Some(warc) = self.warc {
            if let Err(e) = self.write_exchanges(warc).await {
                self.discard().await;
                return Err(FetchError::Transport {
                    kind: ErrorKind::Io,
                    message: format!("cannot write to {}: {e}", warc.path().display()),
                });
            }
        }
        let Some((path, task)) = self.body.take() else {
            return Ok(self
                .current
                .take()
                .map(|path| path.to_string_lossy().into_owned()));
        };
        let kept = async {
            let part = joined(task.await)?.out;
            let target = path.clone();
            joined(
                tokio::task::spawn_blocking(move || part.persist(target).map_err(|e| e.error))
                    .await,
            )
        };
        match kept.await {
            Ok(_) => Ok(Some(path.to_string_lossy().into_owned())),
            Err(e) => Err(FetchError::Transport {
                kind: ErrorKind::Io,
                message: format!("cannot write {}: {e}", path.display()),
            }),
        }
    }

    /// Hands the hops and the final exchange to the WARC writer and waits
    /// until they are written.
    async fn write_exchanges(&mut self, warc: &Warc) -> io::Result<()> {
        let mut exchanges = std::mem::take(&mut self.hops);
        if let Some((request, uri, ip, task)) = self.last.take() {
            let spooled = joined(task.await)?;
            exchanges.push(WarcExchange {
                uri,
                date: request.date,
                ip,
                request: request.block,
                response: Block::Spooled {
                    file: spooled.out,
                    len: spooled.len,
                    digests: spooled.digests.expect("the WARC spool digests"),
                },
            });
        }
        if exchanges.is_empty() {
            return Ok(());
        }
        warc.write(exchanges).await
    }

    /// Drops what the attempt got: the temporary files are removed before
    /// this returns.
    pub(crate) async fn discard(mut self) {
        self.taps = BodyTaps::default();
        if let Some((_, task)) = self.body.take() {
            let _ = task.await;
        }
        if let Some((_, _, _, task)) = self.last.take() {
            let _ = task.await;
        }
    }
}

/// A blocking task's result, a panic in it as an error.
fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(io::Error::other)?
}
