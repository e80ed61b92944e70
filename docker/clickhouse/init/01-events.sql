-- Run once by the clickhouse-server image on first start (empty data volume), from
-- /docker-entrypoint-initdb.d. Target table of the events-clickhouse sample connector.
CREATE TABLE IF NOT EXISTS default.events
(
    user_id     String,
    event_type  String,
    timestamp   DateTime64(3, 'UTC'),
    session_id  String,
    device      LowCardinality(String),
    inserted_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (timestamp, user_id);
