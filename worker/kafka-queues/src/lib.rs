//! Batch consumption of a group consumer's partitions, through librdkafka's partition queues.
//!
//! rdkafka hands a consumer's messages over one poll call each. In librdkafka 2.12 each such
//! call reads the clock three times (rdkafka once more), takes the consumer queue's lock and a
//! telemetry lock, and rdkafka allocates a shared event per message: measured, the group
//! consumer spends about a quarter more CPU per message than librdkafka's batch calls. This crate
//! takes messages many per call (`rd_kafka_consume_batch_queue`), which rdkafka has no API for,
//! hence the one place in the workspace with `unsafe` code.
//!
//! A batch call cannot serve the consumer queue itself: rdkafka takes rebalances there as
//! events, and a batch call would answer a rebalance event by dropping the assignment. So each
//! assigned partition's messages are split off the consumer queue into one queue of the
//! consumer's messages alone ([`PartitionQueues::split`], from the rebalance callback, before the
//! partitions are assigned), and only that queue is read in batches; the consumer queue is still
//! polled as before, for rebalances, commits, errors and any message of a partition that was not
//! split. librdkafka counts a partition's prefetch (`queued.min.messages`,
//! `queued.max.messages.kbytes`) in the queue its messages are forwarded to, so the shared queue
//! keeps those bounds per consumer, as the consumer queue did.
//!
//! # Why messages cannot come out of order, nor stay behind
//! A split forwards the partition's own queue to the shared one and marks the forward as the
//! application's: a later fetch start does not forward it to the consumer queue again. A fetch
//! stop (a revoke) clears the forward, and the next assignment sets it again before the fetch
//! starts; should a stop still pending clear it after that, the partition's messages stay in its
//! own queue, which [`PartitionQueues::drain`] reads too. Either way all messages of one fetch
//! go to one queue, in order. Messages fetched before a stop, a seek or a pause carry an older
//! version and are dropped by the batch call, as the poll drops them.
//!
//! # Safety of the API
//! - Queues are librdkafka's thread-safe queues; the handles hold a reference to the client and
//!   must be gone before the client is destroyed: [`PartitionQueues::close`] does that, and
//!   the owner calls it before dropping the consumer (no partition is split after it).
//! - The wake-up callback runs on librdkafka's threads under the queue's lock; it only touches a
//!   [`Notify`] that outlives every registration (the callback is removed under the same lock
//!   before the queue handle is destroyed).
//! - A message is lent to the caller for the duration of one closure call and destroyed after.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::NonNull;
use std::sync::Arc;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{Header, Headers, Message, Timestamp};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::Notify;

/// The split-off queues of a consumer's partitions, read in batches.
pub struct PartitionQueues {
    /// Where split partitions' messages go; made at the first split.
    shared: Option<NonNull<rdsys::rd_kafka_queue_t>>,
    /// Each split partition's own queue, forwarded to `shared`.
    queues: Vec<PartitionQueue>,
    /// Signalled when the shared queue, or a partition's own, gets a message while empty.
    wake: Arc<Notify>,
    /// The queue the next [`PartitionQueues::drain`] starts at, so that every partition gets
    /// its turn.
    next: usize,
    /// Room for one batch call's messages, reused.
    taken: Vec<*mut rdsys::rd_kafka_message_t>,
    /// Set by [`PartitionQueues::close`]: the consumer is going away.
    closed: bool,
}

// SAFETY: the raw pointers are librdkafka queue handles and messages taken from them, which
// librdkafka lets any thread use; the messages in `taken` live only within one `drain` call.
unsafe impl Send for PartitionQueues {}

struct PartitionQueue {
    topic: String,
    partition: i32,
    queue: NonNull<rdsys::rd_kafka_queue_t>,
}

impl PartitionQueue {
    fn destroy(self) {
        destroy_queue(self.queue);
    }
}

/// Removes a queue handle's wake-up callback, then the handle.
fn destroy_queue(queue: NonNull<rdsys::rd_kafka_queue_t>) {
    // SAFETY: `queue` is a live handle its caller owns and gives up. Removing the callback takes
    // the queue's lock, so no callback runs once it returns; the handle is not used after.
    unsafe {
        rdsys::rd_kafka_queue_cb_event_enable(queue.as_ptr(), None, std::ptr::null_mut());
        rdsys::rd_kafka_queue_destroy(queue.as_ptr());
    }
}

/// Has librdkafka call [`wake_reader`] with `wake` when `queue` gets a message while empty.
fn wake_on_message(queue: NonNull<rdsys::rd_kafka_queue_t>, wake: &Arc<Notify>) {
    // SAFETY: `queue` is a live handle; the opaque is the `Notify` of the `PartitionQueues`
    // that owns the handle and removes the registration before the `Notify` can go
    // (`destroy_queue`).
    unsafe {
        rdsys::rd_kafka_queue_cb_event_enable(queue.as_ptr(), Some(wake_reader), Arc::as_ptr(wake) as *mut c_void);
    }
}

/// Called by librdkafka when a queue of split partitions gets a message while it was empty.
unsafe extern "C" fn wake_reader(_client: *mut rdsys::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Notify` of the `PartitionQueues` that registered this callback,
    // which removes the registration before the `Notify` can be dropped.
    let wake = unsafe { &*(opaque as *const Notify) };
    wake.notify_one();
}

impl Default for PartitionQueues {
    fn default() -> Self {
        PartitionQueues::new()
    }
}

impl PartitionQueues {
    /// Most messages one batch call takes.
    pub const BATCH: usize = 512;

    /// No partition split yet.
    pub fn new() -> Self {
        PartitionQueues {
            shared: None,
            queues: Vec::new(),
            wake: Arc::new(Notify::new()),
            next: 0,
            taken: Vec::new(),
            closed: false,
        }
    }

    /// Splits a partition's messages off the consumer queue into the shared queue read by
    /// [`PartitionQueues::drain`]. Call it from the rebalance callback for every partition about
    /// to be assigned, before assigning them (a partition split again gets a fresh handle: its
    /// client-side state may have been made anew). False when librdkafka has no such partition
    /// or after [`PartitionQueues::close`] (its messages then stay on the consumer queue).
    pub fn split<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, topic: &str, partition: i32) -> bool {
        if self.closed {
            return false;
        }
        let Ok(name) = CString::new(topic) else { return false };
        let client = consumer.client().native_ptr();
        let shared = match self.shared {
            Some(shared) => shared,
            None => {
                // SAFETY: `client` is the consumer's live client.
                let Some(shared) = NonNull::new(unsafe { rdsys::rd_kafka_queue_new(client) }) else { return false };
                wake_on_message(shared, &self.wake);
                *self.shared.insert(shared)
            }
        };
        // SAFETY: `client` is the consumer's live client and `name` a valid C string for the call.
        let queue = unsafe { rdsys::rd_kafka_queue_get_partition(client, name.as_ptr(), partition) };
        let Some(queue) = NonNull::new(queue) else { return false };
        // SAFETY: both are live handles. The forward takes the partition's messages off the
        // consumer queue for good (see the crate docs), any it holds now first.
        unsafe { rdsys::rd_kafka_queue_forward(queue.as_ptr(), shared.as_ptr()) };
        // For messages that stay in the partition's own queue (a forward cleared by a late stop).
        wake_on_message(queue, &self.wake);
        let fresh = PartitionQueue { topic: topic.to_owned(), partition, queue };
        match self.queues.iter_mut().find(|q| q.partition == partition && q.topic == topic) {
            Some(old) => std::mem::replace(old, fresh).destroy(),
            None => self.queues.push(fresh),
        }
        // Messages may have arrived before the callbacks were set.
        self.wake.notify_one();
        true
    }

    /// What signals that the split partitions got a message while their queue was empty. A
    /// wake-up given while nobody waited is kept for the next wait, so none is lost between a
    /// `drain` that found nothing and the wait after it.
    pub fn wake(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Takes up to `max` messages from the split partitions without waiting, and lends each to
    /// `each` (in each partition's order), then destroys it. Returns how many were taken. A
    /// message taken is the caller's: librdkafka counts it as consumed (the position the group
    /// commits from is the caller's, not librdkafka's).
    pub fn drain(&mut self, max: usize, mut each: impl FnMut(&QueuedMessage<'_>)) -> usize {
        let Some(shared) = self.shared else { return 0 };
        let mut taken = 0;
        // The shared queue first, then each partition's own (empty unless its forward was
        // cleared; reading a forwarded one reads the shared queue).
        let count = self.queues.len();
        for turn in 0..=count {
            let queue = match turn {
                0 => shared,
                _ => self.queues[(self.next + turn - 1) % count].queue,
            };
            loop {
                let got = self.take(queue, max - taken, &mut each);
                taken += got;
                if got < Self::BATCH || taken >= max {
                    break;
                }
            }
            if taken >= max {
                break;
            }
        }
        if count > 0 {
            self.next = (self.next + 1) % count;
        }
        taken
    }

    /// One batch call on `queue`, for up to `room` messages (at most [`Self::BATCH`]).
    fn take(
        &mut self,
        queue: NonNull<rdsys::rd_kafka_queue_t>,
        room: usize,
        each: &mut impl FnMut(&QueuedMessage<'_>),
    ) -> usize {
        let room = room.min(Self::BATCH);
        if room == 0 {
            return 0;
        }
        self.taken.clear();
        self.taken.reserve(room);
        // SAFETY: `queue` is a live handle; `taken` has room for `room` pointers, which the call
        // fills from the start and counts in its result.
        let got = unsafe { rdsys::rd_kafka_consume_batch_queue(queue.as_ptr(), 0, self.taken.as_mut_ptr(), room) };
        let got = usize::try_from(got).unwrap_or(0).min(room);
        // SAFETY: the call wrote `got` message pointers.
        unsafe { self.taken.set_len(got) };
        for &message in &self.taken {
            let Some(message) = NonNull::new(message) else { continue };
            each(&QueuedMessage { message, _lent: std::marker::PhantomData });
            // SAFETY: `message` was just taken from the queue and lent for the call above only;
            // it is not used again.
            unsafe { rdsys::rd_kafka_message_destroy(message.as_ptr()) };
        }
        self.taken.clear();
        got
    }

    /// Destroys every handle, and splits no partition after. Must happen before the consumer
    /// is dropped: the handles refer to its client. Messages still queued are not read by
    /// anyone (the partitions' next reader starts from the committed offsets); librdkafka frees
    /// them when the consumer closes.
    pub fn close(&mut self) {
        self.closed = true;
        for queue in self.queues.drain(..) {
            queue.destroy();
        }
        if let Some(shared) = self.shared.take() {
            destroy_queue(shared);
        }
        self.next = 0;
    }
}

impl Drop for PartitionQueues {
    /// A last resort: the owner closes them while the consumer is alive.
    fn drop(&mut self) {
        self.close();
    }
}

/// A message lent by [`PartitionQueues::drain`], read through rdkafka's [`Message`] trait.
pub struct QueuedMessage<'a> {
    message: NonNull<rdsys::rd_kafka_message_t>,
    _lent: std::marker::PhantomData<&'a ()>,
}

impl QueuedMessage<'_> {
    fn raw(&self) -> &rdsys::rd_kafka_message_t {
        // SAFETY: the message is alive for the loan (`'a`), and librdkafka does not change it.
        unsafe { self.message.as_ref() }
    }

    /// The error librdkafka delivered in place of a message (a partition that went away, a
    /// fetch that failed), if this is one.
    pub fn error(&self) -> Option<RDKafkaErrorCode> {
        let err = self.raw().err;
        (err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR).then(|| err.into())
    }
}

/// Bytes librdkafka owns for as long as the message lives.
fn bytes_of<'m>(data: *mut c_void, len: usize, _message: &'m QueuedMessage<'_>) -> Option<&'m [u8]> {
    if data.is_null() {
        return None;
    }
    // SAFETY: librdkafka gives `len` bytes at `data`, alive as long as the message.
    Some(unsafe { std::slice::from_raw_parts(data as *const u8, len) })
}

impl Message for QueuedMessage<'_> {
    type Headers = QueuedHeaders;

    fn key(&self) -> Option<&[u8]> {
        let raw = self.raw();
        bytes_of(raw.key, raw.key_len, self)
    }

    fn payload(&self) -> Option<&[u8]> {
        let raw = self.raw();
        bytes_of(raw.payload, raw.len, self)
    }

    unsafe fn payload_mut(&mut self) -> Option<&mut [u8]> {
        let raw = self.raw();
        if raw.payload.is_null() {
            return None;
        }
        // SAFETY: the caller takes on `Message::payload_mut`'s contract; the bytes are the
        // message's own.
        Some(unsafe { std::slice::from_raw_parts_mut(raw.payload as *mut u8, raw.len) })
    }

    fn topic(&self) -> &str {
        let rkt = self.raw().rkt;
        if rkt.is_null() {
            return "";
        }
        // SAFETY: a message's topic handle lives as long as the message, and its name is a
        // NUL-terminated string.
        let name = unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(rkt)) };
        name.to_str().unwrap_or("")
    }

    fn partition(&self) -> i32 {
        self.raw().partition
    }

    fn offset(&self) -> i64 {
        self.raw().offset
    }

    fn timestamp(&self) -> Timestamp {
        let mut kind = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: the message is alive; `kind` is written by the call.
        let at = unsafe { rdsys::rd_kafka_message_timestamp(self.message.as_ptr(), &mut kind) };
        match kind {
            _ if at == -1 => Timestamp::NotAvailable,
            rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_CREATE_TIME => Timestamp::CreateTime(at),
            rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME => Timestamp::LogAppendTime(at),
            rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => Timestamp::NotAvailable,
        }
    }

    fn headers(&self) -> Option<&QueuedHeaders> {
        let mut headers: *mut rdsys::rd_kafka_headers_t = std::ptr::null_mut();
        // SAFETY: the message is alive; the headers it gives live as long as it does.
        let err = unsafe { rdsys::rd_kafka_message_headers(self.message.as_ptr(), &mut headers) };
        if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return None;
        }
        // SAFETY: `QueuedHeaders` is a zero-sized stand-in for librdkafka's opaque headers,
        // read only through its address, which is valid while the message is.
        Some(unsafe { &*(headers as *const QueuedHeaders) })
    }
}

/// The headers of a [`QueuedMessage`]: librdkafka's own list, read in place.
pub struct QueuedHeaders {
    _opaque: [u8; 0],
}

impl QueuedHeaders {
    fn ptr(&self) -> *const rdsys::rd_kafka_headers_t {
        self as *const QueuedHeaders as *const rdsys::rd_kafka_headers_t
    }
}

impl Headers for QueuedHeaders {
    fn count(&self) -> usize {
        // SAFETY: `ptr` is the message's live header list.
        unsafe { rdsys::rd_kafka_header_cnt(self.ptr()) }
    }

    fn try_get(&self, idx: usize) -> Option<Header<'_, &[u8]>> {
        let mut name: *const c_char = std::ptr::null();
        let mut value: *const c_void = std::ptr::null();
        let mut size = 0usize;
        // SAFETY: `ptr` is the message's live header list; the call writes the three outputs.
        let err = unsafe { rdsys::rd_kafka_header_get_all(self.ptr(), idx, &mut name, &mut value, &mut size) };
        if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            return None;
        }
        // SAFETY: librdkafka gives a NUL-terminated name and `size` bytes of value (or a null
        // value), alive as long as the header list.
        let key = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
        // SAFETY: as above.
        let value = (!value.is_null()).then(|| unsafe { std::slice::from_raw_parts(value as *const u8, size) });
        Some(Header { key, value })
    }
}
