//! Who is alive: every worker joins the Kafka consumer group `group.id` (subscribed to the
//! one-partition config topic) with its advertised `host:port` as `client.id`, and lists the
//! group's members. The group coordinator in Kafka is the single source of truth; a worker that
//! stops heartbeating is dropped after `session.timeout.ms`, and the survivors see the new
//! member list within a second of the group settling.
//!
//! The member that owns the config topic's only partition is the group's leader (with
//! librdkafka's range assignor, the member with the smallest member id). Sluice's assignment
//! needs no leader — every worker computes the same one — so leadership is only reported.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientConfig, ClientContext};
use sluice_api::ConnectError;
use tokio::sync::{watch, Notify};

use super::config::DistributedConfig;

/// The group as this worker sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Members' advertised `host:port`, sorted, without duplicates.
    pub members: Vec<String>,
    /// Whether this worker is currently a member (it stops its tasks when it is not).
    pub joined: bool,
    /// Whether this worker owns the group's partition.
    pub leader: bool,
    /// Bumped on every change, for logs and status records.
    pub epoch: i64,
}

struct MembershipContext {
    changed: Arc<Notify>,
    /// (joined, owns the partition), set from rebalance callbacks.
    state: std::sync::Mutex<(bool, bool)>,
}

impl ClientContext for MembershipContext {}

impl ConsumerContext for MembershipContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match rebalance {
            Rebalance::Assign(tpl) => *st = (true, tpl.count() > 0),
            Rebalance::Revoke(_) | Rebalance::Error(_) => *st = (false, false),
        }
        drop(st);
        self.changed.notify_one();
    }
}

/// Joins the worker group and publishes the member list until the returned sender's receivers
/// are all dropped.
pub fn join(
    bootstrap: &str,
    worker_id: &str,
    config: &DistributedConfig,
) -> Result<watch::Receiver<Membership>, ConnectError> {
    let changed = Arc::new(Notify::new());
    let context = MembershipContext { changed: changed.clone(), state: std::sync::Mutex::new((false, false)) };
    let consumer: StreamConsumer<MembershipContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", &config.group_id)
        .set("client.id", worker_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
        .set("heartbeat.interval.ms", config.heartbeat_interval.as_millis().to_string())
        .set("partition.assignment.strategy", "range")
        .create_with_context(context)
        .map_err(|e| ConnectError::fatal(format!("Cannot create the worker group consumer: {e}")))?;
    consumer
        .subscribe(&[&config.config_topic.name])
        .map_err(|e| ConnectError::fatal(format!("Cannot join worker group {}: {e}", config.group_id)))?;
    let consumer = Arc::new(consumer);
    let (tx, rx) = watch::channel(Membership::default());

    // Polling keeps the membership alive and runs the rebalance callbacks; records are ignored.
    let poller = consumer.clone();
    tokio::spawn(async move {
        loop {
            if let Err(error) = poller.recv().await {
                tracing::debug!(%error, "Worker group consumer error.");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });

    let group = config.group_id.clone();
    tokio::spawn(async move {
        let mut current = Membership::default();
        loop {
            let listed = {
                let (consumer, group) = (consumer.clone(), group.clone());
                tokio::task::spawn_blocking(move || list_members(&consumer, &group)).await.ok().flatten()
            };
            let (joined, leader) = *consumer.context().state.lock().unwrap_or_else(|p| p.into_inner());
            let mut next = current.clone();
            next.joined = joined;
            next.leader = leader;
            if let Some(members) = listed {
                next.members = members;
            }
            if next != current {
                next.epoch = current.epoch + 1;
                tracing::info!(members = ?next.members, joined, leader, epoch = next.epoch, "Worker group changed.");
                current = next;
                if tx.send(current.clone()).is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = changed.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
    Ok(rx)
}

/// The group's members, or `None` while it is rebalancing or the coordinator is unreachable.
fn list_members(consumer: &StreamConsumer<MembershipContext>, group: &str) -> Option<Vec<String>> {
    let list = consumer.fetch_group_list(Some(group), Duration::from_secs(5)).ok()?;
    let info = list.groups().iter().find(|g| g.name() == group)?;
    if info.state() != "Stable" {
        return None;
    }
    let mut members: Vec<String> = info.members().iter().map(|m| m.client_id().to_owned()).collect();
    members.sort();
    members.dedup();
    Some(members)
}
