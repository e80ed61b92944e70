-- The sample event table, as ClickHouse 18.16 (Debian's package) can hold it. On a modern server
-- use `timestamp DateTime64(3, 'UTC')` and `device LowCardinality(String)`; Sluice fills both.
CREATE TABLE IF NOT EXISTS events (
    user_id String,
    event_type String,
    timestamp DateTime,
    session_id String,
    device String,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (timestamp, user_id)
