//! Writing a body to a file while it is read: the bytes come through a
//! [`Tap`] (a bounded channel) and a task on tokio's blocking pool writes
//! them, so file I/O never runs on a worker thread and at most
//! [`SPOOL_BLOCKS`] blocks wait in memory.

use std::io::{self, Write};

use bytes::Bytes;
use sha1::{Digest as _, Sha1};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::http::body::Tap;

/// Blocks that may wait in a spool's channel before the reader waits.
pub(crate) const SPOOL_BLOCKS: usize = 4;

/// Buffer of the file writer (bytes): blocks of a few hundred bytes become
/// one `write(2)` each 64 KiB.
const WRITE_BUFFER: usize = 64 * 1024;

/// SHA-1 digests (FIPS 180-4) of what a spool wrote, for a WARC record's
/// `WARC-Block-Digest` and `WARC-Payload-Digest`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sha1Digests {
    /// Of everything written: the head, then the body.
    pub(crate) block: [u8; 20],
    /// Of the body alone.
    pub(crate) payload: [u8; 20],
}

/// What a finished spool wrote.
#[derive(Debug)]
pub(crate) struct Spooled<W> {
    /// The writer, flushed.
    pub(crate) out: W,
    /// Bytes written, head included.
    pub(crate) len: u64,
    /// The digests, when asked for.
    pub(crate) digests: Option<Sha1Digests>,
}

/// The writer side of a spool: it ends when its [`Tap`] (every clone) is
/// dropped, with what it wrote or the first error.
pub(crate) type SpoolTask<W> = JoinHandle<io::Result<Spooled<W>>>;

/// Starts a spool: `open` makes the writer (on the blocking pool, so making
/// directories and files does not block a worker either), `head` is written
/// before the first body byte, and with `digest` the SHA-1 digests are
/// computed on the way. Returns the tap to send the body through and the
/// task that writes it.
///
/// After a write error the task ends with it and drops the channel's
/// receiver, so the reader's later sends return at once.
pub(crate) fn spool<W, F>(open: F, head: Option<Bytes>, digest: bool) -> (Tap, SpoolTask<W>)
where
    W: Write + Send + 'static,
    F: FnOnce() -> io::Result<W> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(SPOOL_BLOCKS);
    let task = tokio::task::spawn_blocking(move || write_all(open, head, digest, &mut rx));
    (Tap(tx), task)
}

fn write_all<W, F>(
    open: F,
    head: Option<Bytes>,
    digest: bool,
    rx: &mut mpsc::Receiver<Bytes>,
) -> io::Result<Spooled<W>>
where
    W: Write,
    F: FnOnce() -> io::Result<W>,
{
    let mut out = io::BufWriter::with_capacity(WRITE_BUFFER, open()?);
    let mut hashes = digest.then(|| (Sha1::new(), Sha1::new()));
    let mut len = 0u64;
    if let Some(head) = head {
        out.write_all(&head)?;
        if let Some((block, _)) = &mut hashes {
            block.update(&head);
        }
        len += head.len() as u64;
    }
    while let Some(data) = rx.blocking_recv() {
        out.write_all(&data)?;
        if let Some((block, payload)) = &mut hashes {
            block.update(&data);
            payload.update(&data);
        }
        len += data.len() as u64;
    }
    let out = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(Spooled {
        out,
        len,
        digests: hashes.map(|(block, payload)| Sha1Digests {
            block: block.finalize().into(),
            payload: payload.finalize().into(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn head_then_body_with_digests() {
        let (tap, task) = spool(|| Ok(Vec::new()), Some(Bytes::from_static(b"HEAD")), true);
        tap.send(&Bytes::from_static(b"bo")).await;
        tap.send(&Bytes::from_static(b"dy")).await;
        drop(tap);
        let done = task.await.unwrap().unwrap();
        assert_eq!((done.out.as_slice(), done.len), (&b"HEADbody"[..], 8));
        let d = done.digests.unwrap();
        assert_eq!(d.block, <[u8; 20]>::from(Sha1::digest(b"HEADbody")));
        assert_eq!(d.payload, <[u8; 20]>::from(Sha1::digest(b"body")));
    }

    /// A writer that fails does not hold the reader up.
    #[tokio::test]
    async fn a_failed_writer_does_not_block_the_reader() {
        let (tap, task) = spool::<Vec<u8>, _>(|| Err(io::Error::other("no room")), None, false);
        for _ in 0..SPOOL_BLOCKS * 4 {
            tap.send(&Bytes::from_static(b"x")).await;
        }
        drop(tap);
        assert_eq!(task.await.unwrap().unwrap_err().to_string(), "no room");
    }
}
