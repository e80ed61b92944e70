//! [`FileStreamSinkTask`]: each record's value as one line ([`crate::render`]), collected in a
//! buffer and written out when the buffer is large and in every `flush`. `flush` reports the
//! offsets the runtime handed over as durable only once their lines are written, so an offset
//! is committed only after its line is in the file.
//!
//! Durable here means what it means in Kafka Connect's task: written to the operating system
//! (a crash of the worker loses nothing), not synced to disk (a power cut may). Every write is
//! of whole lines, and the file is opened for appending, so tasks sharing one file (every task
//! of the connector gets the same `file`) never split each other's lines.
//!
//! Writes are plain blocking calls: they copy into the page cache, which is quicker than
//! handing each one to another thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Arc;

use async_trait::async_trait;
use sluice_api::{ConnectError, ConnectorConfig, Offsets, Result, SinkRecord, SinkTask};

use crate::config::{Destination, FileSinkConfig, FILE_KEY};
use crate::render::write_java_string;

/// Rendered lines held before they are written out, at most (plus one record's line).
const WRITE_AT_BYTES: usize = 64 * 1024;

/// The file sink task.
#[derive(Default)]
pub struct FileStreamSinkTask {
    state: Option<Running>,
}

struct Running {
    output: Output,
    /// Lines rendered and not yet written.
    buffer: Vec<u8>,
    /// Where the lines go (`file`, or `stdout`), for messages.
    shown: Arc<str>,
}

/// The open destination.
enum Output {
    Stdout(io::Stdout),
    File(File),
}

impl FileStreamSinkTask {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Running {
    /// Writes the buffered lines out; on failure the task cannot know which of them reached
    /// the file, so it stops (the records after the last commit are delivered again).
    fn write_out(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let written = match &mut self.output {
            Output::Stdout(out) => out.write_all(&self.buffer).and_then(|()| out.flush()),
            Output::File(file) => file.write_all(&self.buffer),
        };
        written.map_err(|e| {
            ConnectError::fatal(format!(
                "Writing to {} (the connector's `{FILE_KEY}`) failed: {e}. Fix the destination (space, \
                 permissions) and restart the task; records after the last committed offset are written again.",
                self.shown
            ))
        })?;
        self.buffer.clear();
        Ok(())
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, config: &ConnectorConfig) -> Result<()> {
        let config = FileSinkConfig::from_connector_config(config)?;
        let shown: Arc<str> = config.shown().into();
        let output = match &config.destination {
            Destination::Stdout => Output::Stdout(io::stdout()),
            Destination::File(path) => {
                Output::File(OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    ConnectError::config(
                        FILE_KEY,
                        format!("Cannot open {shown} for appending: {e}. Create its directory or fix the path."),
                    )
                })?)
            }
        };
        tracing::info!(destination = %shown, "File sink task writing one line per record.");
        self.state = Some(Running { output, buffer: Vec::with_capacity(WRITE_AT_BYTES * 2), shown });
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        let run =
            self.state.as_mut().ok_or_else(|| ConnectError::fatal("The file sink task was used before start."))?;
        for record in records {
            write_java_string(&record.value, &mut run.buffer);
            run.buffer.push(b'\n');
            if run.buffer.len() >= WRITE_AT_BYTES {
                run.write_out()?;
            }
        }
        Ok(())
    }

    /// Everything handed to `put` is written before the offsets are reported.
    async fn flush(&mut self, consumed: &Offsets) -> Result<Offsets> {
        let Some(run) = self.state.as_mut() else { return Ok(Offsets::new()) };
        run.write_out()?;
        Ok(consumed.clone())
    }

    async fn stop(&mut self) {
        if let Some(mut run) = self.state.take() {
            if let Err(error) = run.write_out() {
                tracing::error!(%error, "Lines of the file sink were lost at stop.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sluice_api::{Schema, SchemaType, Struct, TopicPartition, Value};

    use super::*;

    fn cfg(file: &Path) -> ConnectorConfig {
        [("file", file.to_str().unwrap()), ("topics", "t")].into_iter().collect()
    }

    fn event(offset: i64, user: &str) -> SinkRecord {
        let schema = Schema::structure([
            ("user_id", Schema::new(SchemaType::String).into_ref()),
            ("n", Schema::new(SchemaType::Int64).optional().into_ref()),
        ])
        .into_ref();
        let n = if offset % 2 == 0 { Value::Int64(offset) } else { Value::Null };
        SinkRecord::with_value("t", 0, offset, Value::Struct(Struct { schema, values: vec![user.into(), n] }))
    }

    fn consumed(next: i64) -> Offsets {
        [(TopicPartition::new("t", 0), next)].into_iter().collect()
    }

    #[tokio::test]
    async fn lines_reach_the_file_by_flush_and_offsets_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "earlier\n").unwrap();
        let mut task = FileStreamSinkTask::new();
        task.start(&cfg(&path)).await.unwrap();
        task.put(&[event(0, "u0"), event(1, "u1")]).await.unwrap();
        task.put(&[SinkRecord::with_value("t", 0, 2, Value::Null)]).await.unwrap();
        // Buffered: nothing written before the flush.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\n");
        assert_eq!(task.flush(&consumed(3)).await.unwrap(), consumed(3));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "earlier\nStruct{user_id=u0,n=0}\nStruct{user_id=u1}\nnull\n"
        );
        task.stop().await;
    }

    #[tokio::test]
    async fn a_large_batch_is_written_in_whole_lines_and_stop_writes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = FileStreamSinkTask::new();
        task.start(&cfg(&path)).await.unwrap();
        let records: Vec<SinkRecord> = (0..20_000).map(|i| event(i, &format!("user_{i}"))).collect();
        task.put(&records).await.unwrap();
        let early = std::fs::read_to_string(&path).unwrap();
        assert!(!early.is_empty() && early.ends_with('\n'), "a full buffer is written out in whole lines");
        task.stop().await;
        let lines: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 20_000);
        assert_eq!(lines[19_999], "Struct{user_id=user_19999}");
    }

    #[tokio::test]
    async fn tasks_sharing_a_file_append_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.txt");
        let (mut a, mut b) = (FileStreamSinkTask::new(), FileStreamSinkTask::new());
        a.start(&cfg(&path)).await.unwrap();
        b.start(&cfg(&path)).await.unwrap();
        a.put(&[event(0, "a")]).await.unwrap();
        b.put(&[event(0, "b")]).await.unwrap();
        b.flush(&consumed(1)).await.unwrap();
        a.flush(&consumed(1)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "Struct{user_id=b,n=0}\nStruct{user_id=a,n=0}\n");
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_opened_fails_start_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut task = FileStreamSinkTask::new();
        let err = task.start(&cfg(&dir.path().join("missing").join("out.txt"))).await.unwrap_err();
        assert_eq!(err.config_key(), Some("file"));
        assert!(err.to_string().contains("Cannot open"), "{err}");
        assert!(task.put(&[event(0, "u")]).await.is_err(), "put before a successful start");
        assert_eq!(task.flush(&consumed(1)).await.unwrap(), Offsets::new());
    }

    #[tokio::test]
    async fn a_failed_write_stops_the_task_and_reports_nothing_durable() {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let mut task = FileStreamSinkTask::new();
        task.start(&cfg(full)).await.unwrap();
        task.put(&[event(0, "u")]).await.unwrap();
        let err = task.flush(&consumed(1)).await.unwrap_err();
        assert!(!err.is_retriable());
        assert!(err.to_string().contains("/dev/full (the connector's `file`)"), "{err}");
    }
}
