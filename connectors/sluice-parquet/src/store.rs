//! [`ParquetStore`]: where files go — a local directory or an S3 bucket, both through the
//! `object_store` crate — with the two operations exactly-once delivery rests on:
//!
//! - [`ParquetStore::publish`]: a file appears whole under its final name or not at all. On S3
//!   that is one PUT (or a multipart upload, visible only once completed). Locally the file is
//!   written under a temporary name in a hidden directory (`.sluice-tmp/<path>.tmp`, which
//!   readers such as pyarrow skip, and whose names do not end in `.parquet`), synced, and renamed
//!   into place; the rename replaces an older file of the same name atomically. The temporary
//!   name is the same for every write of a path, so a write a crash interrupted is replaced by
//!   the next write of that path (recovery writes the same paths again). Local writes use `std::fs`
//!   rather than `object_store`'s local store, whose `put` stages under numbered names that a
//!   crash leaves behind with nothing to remove them.
//! - [`ParquetStore::read_state`] / [`ParquetStore::write_state`]: one small JSON object per
//!   Kafka partition, `<topics.dir>/_sluice/<topic>/<partition>.json`, saying where the next
//!   file starts and which range is being published. Recovery reads one object per assigned
//!   partition (no listing of the bucket), so it costs the same however many files exist.
//!
//! Failures are classified once here: the store unreachable or failing (network, 5xx,
//! timeouts) is retriable; refused credentials, a missing bucket or a bad path are not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};
use serde::{Deserialize, Serialize};
use sluice_api::ConnectError;

use crate::config::StoreLocation;

/// Files larger than this go up as a multipart upload, in parts of this size.
const MULTIPART_PART_BYTES: usize = 32 * 1024 * 1024;

/// Where a Kafka partition's files stand, as stored in its state object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionProgress {
    /// The offset after the last record in a published file: where the next file starts.
    pub next_offset: i64,
    /// A set of files being published: it covers records `start..=last`. After a crash the
    /// sink reads from `start` again and cuts the set after `last`, so the same files are
    /// written again under the same names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publishing: Option<PublishingRange>,
}

/// The offset range of a set of files being published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishingRange {
    pub start: i64,
    pub last: i64,
}

/// A local directory or an S3 bucket.
#[derive(Debug, Clone)]
pub struct ParquetStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store (published by rename); `None` for S3 (a single PUT).
    local: Option<std::path::PathBuf>,
    /// Where this store is, for messages.
    describe: String,
}

impl ParquetStore {
    /// Opens the store (nothing is sent until the first read or write).
    pub fn open(location: &StoreLocation) -> Result<Self, ConnectError> {
        match location {
            StoreLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ConnectError::config("store.url", format!("Cannot create the directory {}: {e}", dir.display()))
                })?;
                // Used for reads only: local writes go through `publish_local`.
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| ConnectError::config("store.url", format!("Cannot use {}: {e}", dir.display())))?;
                Ok(ParquetStore {
                    store: Arc::new(fs),
                    local: Some(dir.clone()),
                    describe: format!("file://{}", dir.display()),
                })
            }
            StoreLocation::S3 { endpoint, bucket, region, access_key, secret_key, path_style } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_virtual_hosted_style_request(!path_style)
                    // Bounded retries: a longer outage is waited out by the runtime, which keeps
                    // the task RUNNING with the outage in its trace.
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig::default(),
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(15),
                    })
                    .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(60)));
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(key) = access_key {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = secret_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let s3 = builder.build().map_err(|e| ConnectError::config("s3.bucket.name", e.to_string()))?;
                let describe = format!("s3://{bucket} at {}", endpoint.as_deref().unwrap_or("AWS"));
                Ok(ParquetStore { store: Arc::new(s3), local: None, describe })
            }
        }
    }

    /// Makes `bytes` visible under `path` in one step.
    pub async fn publish(&self, path: &str, bytes: Bytes) -> Result<(), ConnectError> {
        if let Some(root) = &self.local {
            let (root, relative) = (root.clone(), path.to_owned());
            let written = tokio::task::spawn_blocking(move || publish_local(&root, &relative, &bytes)).await;
            return match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    Err(ConnectError::retriable(format!(
                        "Cannot write {path} in {}: {e}; waiting for the directory to be writable again.",
                        self.describe
                    )))
                }
                Ok(Err(e)) => Err(ConnectError::retriable(format!("Cannot write {path} in {}: {e}", self.describe))),
                Err(e) => Err(ConnectError::fatal(format!("Writing {path} stopped: {e}"))),
            };
        }
        let target = Path::from(path);
        if bytes.len() <= MULTIPART_PART_BYTES {
            self.store.put(&target, PutPayload::from(bytes)).await.map_err(|e| self.error("write", path, e))?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&target).await.map_err(|e| self.error("start uploading", path, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART_BYTES);
        writer.put(bytes);
        match writer.finish().await {
            Ok(_) => Ok(()),
            // An unfinished upload stays invisible; the file is written again later.
            Err(e) => Err(self.error("upload", path, e)),
        }
    }

    /// The state object of a Kafka partition; `None` if it has none yet.
    pub async fn read_state(
        &self,
        topics_dir: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<PartitionProgress>, ConnectError> {
        let path = state_path(topics_dir, topic, partition);
        let bytes = match self.store.get(&Path::from(path.as_str())).await {
            Ok(got) => got.bytes().await.map_err(|e| self.error("read", &path, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("read", &path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ConnectError::fatal(format!(
                "The state object {path} in {} is not what Sluice wrote ({e}); remove it to resume from the committed offsets.",
                self.describe
            ))
        })
    }

    /// Replaces a Kafka partition's state object.
    pub async fn write_state(
        &self,
        topics_dir: &str,
        topic: &str,
        partition: i32,
        progress: &PartitionProgress,
    ) -> Result<(), ConnectError> {
        let path = state_path(topics_dir, topic, partition);
        let json = serde_json::to_vec(progress).map_err(|e| ConnectError::fatal(e.to_string()))?;
        self.publish(&path, Bytes::from(json)).await
    }

    fn error(&self, action: &str, path: &str, error: object_store::Error) -> ConnectError {
        let message = format!("Cannot {action} {path} in {}: {error}", self.describe);
        let local = self.local.is_some();
        match error {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                ConnectError::fatal(format!("{message}. Check aws.access.key.id and aws.secret.access.key."))
            }
            object_store::Error::InvalidPath { .. } | object_store::Error::NotSupported { .. } => {
                ConnectError::fatal(message)
            }
            // A missing bucket on S3 answers NotFound to a PUT: nothing a retry can fix.
            object_store::Error::NotFound { .. } if !local => {
                ConnectError::fatal(format!("{message}. Does the bucket exist?"))
            }
            _ => ConnectError::retriable(message),
        }
    }
}

/// Writes `bytes` to `root/.sluice-tmp/<relative>.tmp`, syncs it, renames it to
/// `root/<relative>` and syncs the directory, so the file survives a power loss once this returns.
fn publish_local(root: &std::path::Path, relative: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let temp = root.join(".sluice-tmp").join(format!("{relative}.tmp"));
    let target = root.join(relative);
    for dir in [temp.parent(), target.parent()].into_iter().flatten() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, &target)?;
    if let Some(dir) = target.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `<topics.dir>/_sluice/<topic>/<partition>.json`.
pub fn state_path(topics_dir: &str, topic: &str, partition: i32) -> String {
    if topics_dir.is_empty() {
        format!("_sluice/{topic}/{partition}.json")
    } else {
        format!("{topics_dir}/_sluice/{topic}/{partition}.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn local_files_are_published_whole_and_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetStore::open(&StoreLocation::Local(dir.path().to_owned())).unwrap();
        store.publish("topics/t/a=1/t+0+0000000000.parquet", Bytes::from_static(b"one")).await.unwrap();
        store.publish("topics/t/a=1/t+0+0000000000.parquet", Bytes::from_static(b"two")).await.unwrap();
        let file = dir.path().join("topics/t/a=1/t+0+0000000000.parquet");
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        // Nothing is left under the temporary directory.
        let leftovers: Vec<_> = walk(&dir.path().join(".sluice-tmp"));
        assert!(leftovers.is_empty(), "{leftovers:?}");

        assert_eq!(store.read_state("topics", "t", 3).await.unwrap(), None);
        let progress = PartitionProgress { next_offset: 10, publishing: Some(PublishingRange { start: 10, last: 19 }) };
        store.write_state("topics", "t", 3, &progress).await.unwrap();
        assert_eq!(store.read_state("topics", "t", 3).await.unwrap(), Some(progress));
        assert!(dir.path().join("topics/_sluice/t/3.json").exists());
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
    }
}
