//! An upload's file written into the object store as its bytes come, under a chunk subject this
//! ingest names (async-nats' own `put` picks one it does not tell): a write that fails part way
//! (the bucket full, NATS gone) is purged at once instead of staying until the bucket's age
//! limit. The object is the one `ObjectStore::get` reads: chunks, then its info with their count,
//! size and SHA-256.

use std::collections::HashMap;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, object_store};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use contract::imports::IMPORTS_BUCKET;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The most a chunk holds (async-nats' own default).
const CHUNK: usize = 128 * 1024;

/// Writes what `reader` gives as the object `name` of [`IMPORTS_BUCKET`]; on failure, what was
/// written of it is purged.
pub(crate) async fn put(
    js: &jetstream::Context,
    name: &str,
    reader: &mut (impl AsyncRead + Unpin),
) -> anyhow::Result<object_store::ObjectInfo> {
    let nuid = uuid::Uuid::now_v7().simple().to_string();
    let chunks = format!("$O.{IMPORTS_BUCKET}.C.{nuid}");
    let written = write(js, &chunks, name, &nuid, reader).await;
    if written.is_err() {
        let stream = format!("OBJ_{IMPORTS_BUCKET}");
        let purged = async {
            let stream = js.get_stream(stream).await?;
            anyhow::Ok(stream.purge().filter(&chunks).await?)
        };
        if let Err(err) = purged.await {
            tracing::warn!(object = name, error = %err, "a broken upload's chunks not purged");
        }
    }
    written
}

async fn write(
    js: &jetstream::Context,
    chunks: &str,
    name: &str,
    nuid: &str,
    reader: &mut (impl AsyncRead + Unpin),
) -> anyhow::Result<object_store::ObjectInfo> {
    let mut sha = Sha256::new();
    let (mut size, mut count) = (0_usize, 0_usize);
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            if (&mut *reader)
                .take((CHUNK - chunk.len()) as u64)
                .read_to_end(&mut chunk)
                .await?
                == 0
            {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        sha.update(&chunk);
        size += chunk.len();
        count += 1;
        js.publish(chunks.to_owned(), chunk.into()).await?.await?;
    }
    let info = object_store::ObjectInfo {
        name: name.to_owned(),
        description: None,
        metadata: HashMap::new(),
        headers: None,
        options: Some(object_store::ObjectOptions {
            link: None,
            max_chunk_size: Some(CHUNK),
        }),
        bucket: IMPORTS_BUCKET.to_owned(),
        nuid: nuid.to_owned(),
        size,
        chunks: count,
        modified: Some(OffsetDateTime::now_utc()),
        digest: Some(format!("SHA-256={}", URL_SAFE.encode(sha.finalize()))),
        deleted: false,
    };
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Rollup", "sub");
    let meta = format!("$O.{IMPORTS_BUCKET}.M.{}", URL_SAFE.encode(name));
    js.publish_with_headers(meta, headers, serde_json::to_vec(&info)?.into())
        .await?
        .await?;
    Ok(info)
}
