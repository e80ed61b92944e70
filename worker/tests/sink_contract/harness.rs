//! The harness of the sink contract tests: unique topics, producing, reading what a consumer
//! group committed, a sink task that records every call the runtime makes (with knobs that
//! change what it does), and a real `SinkTaskRunner` to drive it.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sluice_api::{ConnectorConfig, Offsets, SinkRecord, SinkTask, SinkTaskContext, TopicPartition};
use sluice_converters::bytearray::ByteArrayConverter;
use sluice_converters::header::SimpleHeaderConverter;
use sluice_worker::runtime::convert::RecordConverter;
use sluice_worker::runtime::errors::ErrorConfig;
use sluice_worker::runtime::SinkTaskRunner;
use sluice_worker::status::{State, Status, StatusBackend, TargetState, TaskStatusCell};
use sluice_worker::worker_config::WorkerConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

/// How long a consumer group may take to hand out partitions.
pub const JOIN_PATIENCE: Duration = Duration::from_secs(45);

// Kafka: topics, records, committed offsets.

/// The Kafka under test, e.g. `127.0.0.1:9092`.
pub fn bootstrap() -> String {
    std::env::var("SLUICE_KAFKA_BOOTSTRAP").unwrap_or_else(|_| {
        panic!(
            "SLUICE_KAFKA_BOOTSTRAP is not set. Start Kafka with `tests/services/services.sh up kafka`, \
             then `eval \"$(tests/services/services.sh env)\"` and run the tests again."
        )
    })
}

/// A name no other test (or earlier run) uses, for topics and connectors (so consumer groups).
pub fn unique(prefix: &str) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    format!("{prefix}-{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// Creates a topic with `partitions` partitions and one replica.
pub async fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &options)
        .await
        .expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
}

fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("message.timeout.ms", "30000")
        .create()
        .expect("producer")
}

/// Produces records `from..to` (by their number, which is also their offset on a fresh topic)
/// to one partition, in order.
pub async fn produce(topic: &str, partition: i32, from: i64, to: i64) {
    let producer = producer();
    for i in from..to {
        let key = format!("{partition}-{i}");
        let record = FutureRecord::to(topic).partition(partition).key(&key).payload(&key);
        let delivery = producer
            .send(record, Duration::from_secs(30))
            .await
            .unwrap_or_else(|(e, _)| panic!("producing to {topic}-{partition}: {e}"));
        assert_eq!((delivery.partition, delivery.offset), (partition, i), "the test expects record {i} at offset {i}");
    }
}

/// The offsets group `connect-<connector>` committed for `topic`, by partition (partitions
/// without a commit are absent).
pub async fn committed(connector: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let (group, topic) = (format!("connect-{connector}"), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap())
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("offset reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&topic, p);
        }
        let got = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed_offsets");
        got.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect()
    })
    .await
    .expect("offset reader thread")
}

/// Adds partitions to `topic`, up to `total`.
pub async fn add_partitions(topic: &str, total: usize) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let results = admin
        .create_partitions(&[NewPartitions::new(topic, total)], &AdminOptions::new())
        .await
        .expect("create_partitions");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("cannot add partitions to {t}: {e}"));
    }
}

/// Waits until the group's committed offsets are `expected`; panics with what was committed
/// after `patience`.
pub async fn await_committed(
    connector: &str,
    topic: &str,
    partitions: i32,
    expected: &[(i32, i64)],
    patience: Duration,
) {
    let expected: BTreeMap<i32, i64> = expected.iter().copied().collect();
    let deadline = Instant::now() + patience;
    loop {
        let got = committed(connector, topic, partitions).await;
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "committed offsets stayed {got:?}, expected {expected:?} within {patience:?}"
        );
        sleep(Duration::from_millis(200)).await;
    }
}

// The recording sink task.

/// One call the runtime made into the sink, with its arguments (partitions by number: every
/// test has a topic of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Initialize,
    Start,
    /// `open(partitions)`, with what `context.assignment()` said inside the call.
    Open {
        partitions: Vec<i32>,
        assignment: Vec<i32>,
    },
    /// `put`: the records as (partition, offset).
    Put(Vec<(i32, i64)>),
    /// `flush(consumed)` and what the sink answered.
    Flush {
        consumed: BTreeMap<i32, i64>,
        reported: BTreeMap<i32, i64>,
    },
    Close(Vec<i32>),
    Lost(Vec<i32>),
    /// The sink called `context.pause` / `context.resume` with these partitions.
    Paused(Vec<i32>),
    Resumed(Vec<i32>),
    Stop,
}

/// What `flush` reports durable for a partition, given the offset it was told is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// Everything consumed.
    All,
    /// Up to this offset at most (a sink still holding the rest).
    UpTo(i64),
    /// Nothing.
    Nothing,
}

impl Durable {
    pub fn of(self, consumed: i64) -> Option<i64> {
        match self {
            Durable::All => Some(consumed),
            Durable::UpTo(cap) => Some(consumed.min(cap)),
            Durable::Nothing => None,
        }
    }
}

/// How the sink behaves; tests change it while the task runs.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Where `open` asks partitions to start (`context.offset`), by partition.
    pub open_seeks: BTreeMap<i32, i64>,
    /// What `flush` reports for open partitions.
    pub while_open: Durable,
    /// What `flush` reports for partitions closed (or lost) since they were last opened.
    pub after_close: Durable,
    /// `put` calls `context.request_commit()`.
    pub commit_from_put: bool,
    /// Partitions the next `put` pauses through the context.
    pub pause_in_put: Vec<i32>,
    /// Partitions the next `flush` resumes through the context.
    pub resume_in_flush: Vec<i32>,
    /// The next `put` takes this long (a frozen sink, missing the consumer's poll deadline).
    pub stall_next_put: Option<Duration>,
    /// `close` fails (retriably, as with its store down).
    pub fail_close: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            open_seeks: BTreeMap::new(),
            while_open: Durable::All,
            after_close: Durable::All,
            commit_from_put: false,
            pause_in_put: Vec::new(),
            resume_in_flush: Vec::new(),
            stall_next_put: None,
            fail_close: false,
        }
    }
}

#[derive(Default)]
struct Shared {
    events: Vec<Event>,
    knobs: Knobs,
}

/// The test's side of a recording sink: its call log and its knobs.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Shared>>);

impl Recorder {
    pub fn with(knobs: Knobs) -> Self {
        Recorder(Arc::new(Mutex::new(Shared { events: Vec::new(), knobs })))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn log(&self, event: Event) {
        self.lock().events.push(event);
    }

    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    fn knobs(&self) -> Knobs {
        self.lock().knobs.clone()
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.lock().knobs);
    }

    /// Every (partition, offset) handed to `put`, in order.
    pub fn put_records(&self) -> Vec<(i32, i64)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Put(records) => Some(records),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Whether `put` got every record `from..to` of `partition`.
    pub fn got(&self, partition: i32, from: i64, to: i64) -> bool {
        let put: BTreeSet<(i32, i64)> = self.put_records().into_iter().collect();
        (from..to).all(|o| put.contains(&(partition, o)))
    }

    pub fn flushes(&self) -> usize {
        self.events().iter().filter(|e| matches!(e, Event::Flush { .. })).count()
    }

    /// Waits until `done` holds, polling; panics with the call log after `patience`.
    pub async fn wait(&self, what: &str, patience: Duration, done: impl Fn(&Recorder) -> bool) {
        let deadline = Instant::now() + patience;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {patience:?} waiting for {what}; calls:{}",
                calls(&self.events())
            );
            sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A sink task that records every call and does what its [`Knobs`] say.
struct RecordingSink {
    recorder: Recorder,
    context: Option<Arc<dyn SinkTaskContext>>,
    topic: String,
    /// Partitions closed or lost since they were last opened.
    closed: BTreeSet<i32>,
}

impl RecordingSink {
    fn context(&self) -> &dyn SinkTaskContext {
        self.context.as_deref().expect("initialize is called before anything else")
    }

    fn tps(&self, partitions: &[i32]) -> Vec<TopicPartition> {
        partitions.iter().map(|&p| TopicPartition::new(self.topic.as_str(), p)).collect()
    }
}

fn numbers(partitions: &[TopicPartition]) -> Vec<i32> {
    let mut numbers: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
    numbers.sort_unstable();
    numbers
}

#[async_trait]
impl SinkTask for RecordingSink {
    fn initialize(&mut self, context: Arc<dyn SinkTaskContext>) {
        self.context = Some(context);
        self.recorder.log(Event::Initialize);
    }

    async fn start(&mut self, _config: &ConnectorConfig) -> sluice_api::Result<()> {
        self.recorder.log(Event::Start);
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> sluice_api::Result<()> {
        let seeks = self.recorder.knobs().open_seeks;
        for tp in partitions {
            self.closed.remove(&tp.partition);
            if let Some(&offset) = seeks.get(&tp.partition) {
                self.context().offset(tp, offset);
            }
        }
        let assignment = numbers(&self.context().assignment());
        self.recorder.log(Event::Open { partitions: numbers(partitions), assignment });
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> sluice_api::Result<()> {
        self.recorder.log(Event::Put(records.iter().map(|r| (r.partition, r.offset)).collect()));
        let (commit, pause, stall) = {
            let mut shared = self.recorder.lock();
            let knobs = &mut shared.knobs;
            (knobs.commit_from_put, std::mem::take(&mut knobs.pause_in_put), knobs.stall_next_put.take())
        };
        if let Some(stall) = stall {
            sleep(stall).await;
        }
        if commit {
            self.context().request_commit();
        }
        if !pause.is_empty() {
            self.context().pause(&self.tps(&pause));
            self.recorder.log(Event::Paused(pause));
        }
        Ok(())
    }

    async fn flush(&mut self, consumed: &Offsets) -> sluice_api::Result<Offsets> {
        let knobs = {
            let mut shared = self.recorder.lock();
            let knobs = shared.knobs.clone();
            shared.knobs.resume_in_flush.clear();
            knobs
        };
        let mut reported = Offsets::new();
        for (tp, &next) in consumed {
            let policy = if self.closed.contains(&tp.partition) { knobs.after_close } else { knobs.while_open };
            if let Some(durable) = policy.of(next) {
                reported.insert(tp.clone(), durable);
            }
        }
        let by_number = |o: &Offsets| o.iter().map(|(tp, &n)| (tp.partition, n)).collect();
        self.recorder.log(Event::Flush { consumed: by_number(consumed), reported: by_number(&reported) });
        if !knobs.resume_in_flush.is_empty() {
            self.context().resume(&self.tps(&knobs.resume_in_flush));
            self.recorder.log(Event::Resumed(knobs.resume_in_flush));
        }
        Ok(reported)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> sluice_api::Result<()> {
        self.recorder.log(Event::Close(numbers(partitions)));
        if self.recorder.knobs().fail_close {
            return Err(sluice_api::ConnectError::retriable("the store is down"));
        }
        self.closed.extend(partitions.iter().map(|tp| tp.partition));
        Ok(())
    }

    async fn lost(&mut self, partitions: &[TopicPartition]) -> sluice_api::Result<()> {
        // Reported like closed ones: a runtime that still committed for them would show.
        self.closed.extend(partitions.iter().map(|tp| tp.partition));
        self.recorder.log(Event::Lost(numbers(partitions)));
        Ok(())
    }

    async fn stop(&mut self) {
        self.recorder.log(Event::Stop);
    }
}

// Running a task.

struct NoStatusStore;

impl StatusBackend for NoStatusStore {
    fn put_task_status(&self, _connector: &str, _task: usize, _status: &Status) {}
}

/// A runner started by a test.
pub struct Running {
    pub control: watch::Sender<TargetState>,
    join: JoinHandle<()>,
    pub status: TaskStatusCell,
}

impl Running {
    /// Starts task `task_id` of `connector` on `topic`, committing every `flush_interval_ms`.
    pub fn start(connector: &str, task_id: usize, topic: &str, flush_interval_ms: u64, recorder: &Recorder) -> Running {
        Running::start_with(connector, task_id, topic, flush_interval_ms, recorder, &[])
    }

    /// [`Running::start`] with more worker settings (`consumer.*`).
    pub fn start_with(
        connector: &str,
        task_id: usize,
        topic: &str,
        flush_interval_ms: u64,
        recorder: &Recorder,
        extra: &[(&str, &str)],
    ) -> Running {
        init_logging();
        let mut settings: BTreeMap<String, String> = [
            ("bootstrap.servers".to_owned(), bootstrap()),
            ("offset.flush.interval.ms".to_owned(), flush_interval_ms.to_string()),
            ("sluice.batch.linger.ms".to_owned(), "20".to_owned()),
            // A member learns of a rebalance at its next heartbeat: keep revocation prompt.
            ("consumer.heartbeat.interval.ms".to_owned(), "500".to_owned()),
        ]
        .into_iter()
        .collect();
        settings.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
        let worker = WorkerConfig::from_map(settings, std::path::Path::new(".")).expect("worker config");
        let config: ConnectorConfig = [("topics", topic)].into_iter().collect();
        let status = TaskStatusCell::new(connector, task_id, "contract-test", Arc::new(NoStatusStore));
        let (control, control_rx) = watch::channel(TargetState::Running);
        let runner = SinkTaskRunner {
            connector: connector.to_owned(),
            task_id,
            config,
            worker: Arc::new(worker),
            converter: RecordConverter {
                key: Arc::new(ByteArrayConverter),
                value: Arc::new(ByteArrayConverter),
                json_values: false,
                datum_values: false,
                header: Arc::new(SimpleHeaderConverter),
            },
            transforms: Vec::new(),
            task: Box::new(RecordingSink {
                recorder: recorder.clone(),
                context: None,
                topic: topic.to_owned(),
                closed: BTreeSet::new(),
            }),
            errors: ErrorConfig::default(),
            status: status.clone(),
            control: control_rx,
            metrics: sluice_worker::metrics::TaskMetrics::detached(connector, task_id),
        };
        Running { control, join: tokio::spawn(runner.run()), status }
    }

    /// Waits until the task's status shows `state`.
    pub async fn await_state(&self, state: State) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status.get().state != state {
            assert!(Instant::now() < deadline, "the task did not become {state:?}: {:?}", self.status.get());
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends STOPPED and waits for the runner to finish; checks it did not fail.
    pub async fn stop(self) {
        self.control.send(TargetState::Stopped).expect("runner still listening");
        tokio::time::timeout(Duration::from_secs(60), self.join)
            .await
            .expect("the runner stops within a minute")
            .expect("the runner does not panic");
        let status = self.status.get();
        assert_ne!(status.state, State::Failed, "the task failed: {:?}", status.trace);
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// The call log, one call a line, for failure messages.
pub fn calls(events: &[Event]) -> String {
    events.iter().enumerate().map(|(i, e)| format!("\n  #{i} {e:?}")).collect()
}

/// The invariant of every test: `put` only ever gets records of partitions opened (and not
/// closed or lost since), and the life of the task starts with `initialize` then `start`.
pub fn assert_open_before_put(events: &[Event]) {
    assert_eq!(events.get(..2), Some(&[Event::Initialize, Event::Start][..]), "calls:{}", calls(events));
    let mut open: BTreeSet<i32> = BTreeSet::new();
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Open { partitions, .. } => open.extend(partitions),
            Event::Close(partitions) | Event::Lost(partitions) => {
                for p in partitions {
                    open.remove(p);
                }
            }
            Event::Put(records) => {
                for (p, o) in records {
                    assert!(
                        open.contains(p),
                        "call #{i} put record {p}@{o} of a partition not open; calls:{}",
                        calls(events)
                    );
                }
            }
            _ => {}
        }
    }
}
