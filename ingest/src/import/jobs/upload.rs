//! An upload streamed into the object store as it comes, never held whole: counted on the way
//! (over the limit: refused), its first bytes kept to tell gzip and CSV from JSON lines.

use async_nats::jetstream::object_store::ObjectStore;
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;

/// Why an upload was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is gzip-compressed: decompress it first (gunzip)")]
    Compressed,
    #[error("the file is empty")]
    Empty,
    #[error("{0} imports of this project are not finished yet: wait for one to end")]
    Busy(usize),
    #[error("the upload broke off: {0}")]
    Broken(String),
    #[error("the file could not be stored, retry later")]
    Unavailable(String),
}

impl UploadError {
    pub(crate) fn unavailable(err: impl std::fmt::Display) -> Self {
        UploadError::Unavailable(err.to_string())
    }
}

/// What was stored.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) bytes: u64,
    /// The first bytes of the file.
    pub(crate) head: Vec<u8>,
}

/// How many first bytes are kept.
const HEAD_BYTES: usize = 4096;

/// Streams `body` into `files` as `name`, refusing it past `max_bytes`.
pub(crate) async fn store<B, E>(
    files: &ObjectStore,
    name: &str,
    body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    max_bytes: u64,
) -> Result<Stored, UploadError>
where
    B: AsRef<[u8]> + Send,
    E: std::fmt::Display,
{
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    // The reader moves into the put: should the put fail, the feeding's writes fail too
    // instead of waiting on a pipe nobody reads.
    let put = async move {
        let mut reader = reader;
        files.put(name, &mut reader).await
    };
    let (fed, put) = tokio::join!(feed(body, writer, max_bytes), put);
    // The part of a refused upload stored is left to the bucket's max_age: no service may
    // purge a stream (nats/authorization.conf), and deleting an object purges its chunks.
    match (fed, put) {
        (Ok(stored), Ok(_)) if stored.bytes == 0 => Err(UploadError::Empty),
        (Ok(stored), Ok(_)) => Ok(stored),
        (Err(err), _) => Err(err),
        (Ok(_), Err(err)) => Err(UploadError::unavailable(err)),
    }
}

/// Writes `body` into `writer`, counting and checking it; ends the pipe when done.
async fn feed<B, E>(
    mut body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    mut writer: tokio::io::DuplexStream,
    max_bytes: u64,
) -> Result<Stored, UploadError>
where
    B: AsRef<[u8]> + Send,
    E: std::fmt::Display,
{
    let mut stored = Stored {
        bytes: 0,
        head: Vec::new(),
    };
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| UploadError::Broken(err.to_string()))?;
        let chunk = chunk.as_ref();
        stored.bytes += chunk.len() as u64;
        if stored.bytes > max_bytes {
            return Err(UploadError::TooLarge(max_bytes));
        }
        if stored.head.len() < HEAD_BYTES {
            let take = chunk.len().min(HEAD_BYTES - stored.head.len());
            stored.head.extend_from_slice(&chunk[..take]);
            if stored.head.starts_with(&[0x1f, 0x8b]) {
                return Err(UploadError::Compressed);
            }
        }
        writer
            .write_all(chunk)
            .await
            .map_err(UploadError::unavailable)?;
    }
    writer.shutdown().await.map_err(UploadError::unavailable)?;
    Ok(stored)
}
