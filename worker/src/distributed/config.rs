//! The distributed worker's settings: Kafka Connect's distributed keys, so a stock
//! `connect-distributed.properties` starts a Sluice cluster.

use std::time::Duration;

use sluice_api::{ConnectError, ConnectorConfig};

/// Keys of a distributed worker (on top of the ones every worker reads).
pub mod keys {
    pub const GROUP_ID: &str = "group.id";
    pub const CONFIG_TOPIC: &str = "config.storage.topic";
    pub const OFFSET_TOPIC: &str = "offset.storage.topic";
    pub const STATUS_TOPIC: &str = "status.storage.topic";
    pub const CONFIG_RF: &str = "config.storage.replication.factor";
    pub const OFFSET_RF: &str = "offset.storage.replication.factor";
    pub const STATUS_RF: &str = "status.storage.replication.factor";
    pub const OFFSET_PARTITIONS: &str = "offset.storage.partitions";
    pub const STATUS_PARTITIONS: &str = "status.storage.partitions";
    pub const SESSION_TIMEOUT_MS: &str = "session.timeout.ms";
    pub const HEARTBEAT_INTERVAL_MS: &str = "heartbeat.interval.ms";

    /// Every key above, for the worker's "ignored keys" report.
    pub const ALL: &[&str] = &[
        GROUP_ID,
        CONFIG_TOPIC,
        OFFSET_TOPIC,
        STATUS_TOPIC,
        CONFIG_RF,
        OFFSET_RF,
        STATUS_RF,
        OFFSET_PARTITIONS,
        STATUS_PARTITIONS,
        SESSION_TIMEOUT_MS,
        HEARTBEAT_INTERVAL_MS,
    ];
}

/// One internal topic: name, partitions and replication factor (-1: the broker's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

/// Settings of the worker group and its internal topics.
#[derive(Debug, Clone)]
pub struct DistributedConfig {
    pub group_id: String,
    pub config_topic: InternalTopic,
    pub offset_topic: InternalTopic,
    pub status_topic: InternalTopic,
    /// How long a silent worker stays a member; bounds failover time.
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
}

fn replication_factor(raw: &ConnectorConfig, key: &str) -> Result<i32, ConnectError> {
    let rf = raw.int_or(key, 3, -1, i16::MAX as i64)? as i32;
    if rf == 0 {
        return Err(ConnectError::config(key, "Must be at least 1, or -1 for the broker's default."));
    }
    Ok(rf)
}

impl DistributedConfig {
    pub fn from_worker(raw: &ConnectorConfig) -> Result<Self, ConnectError> {
        let topic = |name_key: &str, partitions: i32, rf_key: &str| -> Result<InternalTopic, ConnectError> {
            Ok(InternalTopic {
                name: raw.required(name_key)?.to_owned(),
                partitions,
                replication_factor: replication_factor(raw, rf_key)?,
            })
        };
        let offset_partitions = raw.int_or(keys::OFFSET_PARTITIONS, 25, 1, i32::MAX as i64)? as i32;
        let status_partitions = raw.int_or(keys::STATUS_PARTITIONS, 5, 1, i32::MAX as i64)? as i32;
        let session_ms = raw.int_or(keys::SESSION_TIMEOUT_MS, 10_000, 1_000, 300_000)?;
        let heartbeat_ms = raw.int_or(keys::HEARTBEAT_INTERVAL_MS, 3_000, 100, session_ms)?;
        Ok(DistributedConfig {
            group_id: raw.required(keys::GROUP_ID)?.to_owned(),
            config_topic: topic(keys::CONFIG_TOPIC, 1, keys::CONFIG_RF)?,
            offset_topic: topic(keys::OFFSET_TOPIC, offset_partitions, keys::OFFSET_RF)?,
            status_topic: topic(keys::STATUS_TOPIC, status_partitions, keys::STATUS_RF)?,
            session_timeout: Duration::from_millis(session_ms as u64),
            heartbeat_interval: Duration::from_millis(heartbeat_ms as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_connect_distributed_keys() {
        let raw: ConnectorConfig = [
            ("group.id", "connect-cluster"),
            ("config.storage.topic", "connect-configs"),
            ("offset.storage.topic", "connect-offsets"),
            ("status.storage.topic", "connect-status"),
            ("config.storage.replication.factor", "1"),
            ("offset.storage.replication.factor", "1"),
            ("status.storage.replication.factor", "-1"),
        ]
        .into_iter()
        .collect();
        let c = DistributedConfig::from_worker(&raw).unwrap();
        assert_eq!(c.group_id, "connect-cluster");
        assert_eq!(
            c.config_topic,
            InternalTopic { name: "connect-configs".into(), partitions: 1, replication_factor: 1 }
        );
        assert_eq!(c.offset_topic.partitions, 25);
        assert_eq!(c.status_topic.partitions, 5);
        assert_eq!(c.status_topic.replication_factor, -1);
        assert_eq!(c.session_timeout, Duration::from_secs(10));
    }

    #[test]
    fn missing_and_bad_keys_are_named() {
        let raw: ConnectorConfig = [("group.id", "g")].into_iter().collect();
        assert_eq!(DistributedConfig::from_worker(&raw).unwrap_err().config_key(), Some("config.storage.topic"));
        let raw: ConnectorConfig = [
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
            ("config.storage.replication.factor", "0"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            DistributedConfig::from_worker(&raw).unwrap_err().config_key(),
            Some("config.storage.replication.factor")
        );
    }
}
