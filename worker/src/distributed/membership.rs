//! Who is alive: every worker joins the Kafka consumer group `group.id` (subscribed to the
//! one-partition config topic) with its advertised `host:port` as `client.id`, and lists the
//! group's members. The group coordinator in Kafka is the single source of truth; a worker that
//! stops heartbeating is dropped after `session.timeout.ms`, and the survivors see the new
//! member list within a second of the group settling.
//!
//! A crashed worker is seen faster than that: every listing round, each worker also opens a TCP
//! connection to the other members' advertised REST addresses. A killed process's port refuses
//! at once, while a frozen one (SIGSTOP, a long pause) still accepts in the kernel and a cut-off
//! host does not answer; so only a member that accepted before and now refuses is counted as
//! gone, within one round (half a second), and everything else waits for the session timeout.
//! A gone process runs no task, so taking its tasks early cannot make a zombie.
//!
//! The member that owns the config topic's only partition is the group's leader (with
//! librdkafka's range assignor, the member with the smallest member id). Sluice's assignment
//! needs no leader — every worker computes the same one — so leadership is only reported.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::ClientContext;
use sluice_api::ConnectError;
use tokio::sync::{watch, Notify};

use super::config::DistributedConfig;
use crate::kafka_clients::KafkaClients;

/// The group as this worker sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Members' advertised `host:port`, sorted, without duplicates.
    pub members: Vec<String>,
    /// Whether this worker is currently a member (it stops its tasks when it is not).
    pub joined: bool,
    /// Whether it has been a member since it started (`GET /health`: starting, or cut off).
    pub ever_joined: bool,
    /// Whether this worker owns the group's partition.
    pub leader: bool,
    /// Bumped on every change, for logs and status records.
    pub epoch: i64,
}

/// Wakes the listing loop whenever the group rebalances, so changes are seen at once.
struct MembershipContext {
    changed: Arc<Notify>,
}

impl ClientContext for MembershipContext {}

impl ConsumerContext for MembershipContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        self.changed.notify_one();
    }
}

/// The group as the coordinator lists it: members' client ids and the leader's.
struct GroupView {
    members: Vec<String>,
    leader: Option<String>,
}

/// Joins the worker group and publishes the member list until the returned receiver and its
/// clones are dropped. A worker counts as joined when the coordinator lists it.
pub fn join(
    kafka: &KafkaClients,
    worker_id: &str,
    config: &DistributedConfig,
) -> Result<watch::Receiver<Membership>, ConnectError> {
    let changed = Arc::new(Notify::new());
    let context = MembershipContext { changed: changed.clone() };
    let consumer: StreamConsumer<MembershipContext> = kafka
        .internal()
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
    let kafka_owned = kafka.clone();

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
    let me = worker_id.to_owned();
    let session_timeout = config.session_timeout;
    let mut lister = Some(GroupLister::new(kafka));
    tokio::spawn(async move {
        // The member consumer must outlive the listing loop: dropping it leaves the group.
        let _member = consumer;
        let mut current = Membership::default();
        let mut last_listed = std::time::Instant::now();
        let mut probes = PeerProbes::default();
        loop {
            let listed = {
                let (mut taken, group) = (lister.take(), group.clone());
                match tokio::task::spawn_blocking(move || {
                    let listed = taken.as_mut().map_or(Listing::Unreachable, |l| l.list(&group));
                    (taken, listed)
                })
                .await
                {
                    Ok((back, listed)) => {
                        lister = back;
                        listed
                    }
                    Err(_) => Listing::Unreachable,
                }
            };
            if lister.is_none() {
                lister = Some(GroupLister::new(&kafka_owned));
            }
            let mut next = current.clone();
            // Only a settled group's listing counts; while it rebalances, the last view stands.
            if !matches!(listed, Listing::Unreachable) {
                last_listed = std::time::Instant::now();
            }
            if let Listing::Settled(view) = listed {
                next.joined = view.members.contains(&me);
                next.ever_joined |= next.joined;
                next.leader = view.leader.as_deref() == Some(me.as_str());
                let gone = probes.gone(&view.members, &me).await;
                if !gone.is_empty() && gone.iter().any(|g| current.members.contains(g)) {
                    tracing::info!(gone = ?gone, "Worker process gone (its REST port refuses connections); taking over its tasks before the group drops it.");
                }
                next.members = view.members.into_iter().filter(|m| !gone.contains(m)).collect();
            } else if last_listed.elapsed() > session_timeout {
                // Cut off from the coordinator for longer than a session: the group has dropped
                // this worker by now, so it must not keep running tasks others have taken.
                next.joined = false;
                next.leader = false;
            }
            if next != current {
                next.epoch = current.epoch + 1;
                tracing::info!(members = ?next.members, joined = next.joined, leader = next.leader, epoch = next.epoch, "Worker group changed.");
                current = next;
                if tx.send(current.clone()).is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = changed.notified() => {}
                _ = tokio::time::sleep(PROBE_INTERVAL) => {}
            }
        }
    });
    Ok(rx)
}

/// How often the group is listed and the other members probed.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// A probe that neither connects nor is refused within this long says nothing.
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// Which members' REST ports have accepted a connection, so that a later refusal means the
/// process is gone (a worker that has not bound its port yet refuses too, and is not gone).
#[derive(Default)]
struct PeerProbes {
    reachable: std::collections::HashSet<String>,
}

impl PeerProbes {
    /// The members (other than `me`) that accepted before and refuse now.
    async fn gone(&mut self, members: &[String], me: &str) -> Vec<String> {
        self.reachable.retain(|m| members.contains(m));
        let probes = members.iter().filter(|m| m.as_str() != me).map(|member| async move {
            let attempt = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(member.as_str())).await;
            let refused = matches!(&attempt, Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused);
            (member, matches!(attempt, Ok(Ok(_))), refused)
        });
        let mut gone = Vec::new();
        for (member, accepted, refused) in futures::future::join_all(probes).await {
            if accepted {
                self.reachable.insert(member.clone());
            } else if refused && self.reachable.contains(member) {
                gone.push(member.clone());
            }
        }
        gone
    }
}

/// What asking the coordinator about the group gave.
enum Listing {
    Settled(GroupView),
    /// The group is rebalancing; its member list is about to change.
    Rebalancing,
    /// The coordinator did not answer.
    Unreachable,
}

/// Lists the worker group through a client of its own. librdkafka asks every broker it has
/// ever known for its groups and fails the whole listing while any of them is down, so one
/// dead broker would make the group look unreachable for as long as it stays dead (and every
/// worker would stop its tasks). After a failed listing the client is therefore dropped and
/// the next listing starts a fresh one, which knows only the brokers the cluster lists now: a
/// killed broker stops hiding the group once the controller has fenced it.
struct GroupLister {
    kafka: KafkaClients,
    client: Option<BaseConsumer>,
}

impl GroupLister {
    fn new(kafka: &KafkaClients) -> Self {
        GroupLister { kafka: kafka.clone(), client: None }
    }

    fn list(&mut self, group: &str) -> Listing {
        let client = match self.client.take() {
            Some(c) => c,
            None => match self.kafka.internal().create::<BaseConsumer>() {
                Ok(c) => c,
                Err(error) => {
                    tracing::debug!(%error, "Cannot create the group listing client.");
                    return Listing::Unreachable;
                }
            },
        };
        let listed = list_members(client.fetch_group_list(Some(group), Duration::from_secs(5)), group);
        if !matches!(listed, Listing::Unreachable) {
            self.client = Some(client);
        }
        listed
    }
}

/// The group's members as the coordinator lists them.
fn list_members(list: KafkaResult<rdkafka::groups::GroupList>, group: &str) -> Listing {
    let Ok(list) = list else {
        return Listing::Unreachable;
    };
    let Some(info) = list.groups().iter().find(|g| g.name() == group) else {
        return Listing::Rebalancing;
    };
    if info.state() != "Stable" {
        return Listing::Rebalancing;
    }
    let mut members: Vec<String> = info.members().iter().map(|m| m.client_id().to_owned()).collect();
    members.sort();
    members.dedup();
    let leader = info
        .members()
        .iter()
        .find(|m| m.assignment().is_some_and(assigns_partitions))
        .map(|m| m.client_id().to_owned());
    Listing::Settled(GroupView { members, leader })
}

/// Whether a consumer-protocol assignment (version: i16, topic count: i32, …) names any topic.
fn assigns_partitions(assignment: &[u8]) -> bool {
    assignment.get(2..6).and_then(|b| <[u8; 4]>::try_from(b).ok()).is_some_and(|n| i32::from_be_bytes(n) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_is_the_member_whose_assignment_names_a_topic() {
        // version 0, no topics, no user data
        assert!(!assigns_partitions(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
        // version 0, one topic "c" with partition 0
        assert!(assigns_partitions(&[0, 0, 0, 0, 0, 1, 0, 1, b'c', 0, 0, 0, 1, 0, 0, 0, 0]));
        assert!(!assigns_partitions(&[]));
    }

    #[tokio::test]
    async fn only_a_member_that_accepted_and_now_refuses_is_gone() {
        let alive = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dying = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let never = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let [alive_id, dying_id, never_id] = [&alive, &dying, &never].map(|l| l.local_addr().unwrap().to_string());
        // Not listening yet (a worker still starting): refused, but never seen, so not gone.
        drop(never);
        let members = vec![alive_id.clone(), dying_id.clone(), never_id, "me:1".to_owned()];
        let mut probes = PeerProbes::default();
        assert!(probes.gone(&members, "me:1").await.is_empty());
        drop(dying);
        assert_eq!(probes.gone(&members, "me:1").await, std::slice::from_ref(&dying_id));
        // Once the group drops it, it is forgotten; the listener still alive never counts.
        assert!(probes.gone(std::slice::from_ref(&alive_id), "me:1").await.is_empty());
        assert!(!probes.reachable.contains(&dying_id));
        drop(alive);
    }
}
