-- The sample event table, as ClickHouse 18.16 (Debian's package) can hold it. On a modern server
-- use `timestamp DateTime64(3, 'UTC')`, `device LowCardinality(String)` and
-- `_topic LowCardinality(String)`; Sluice fills them all.
-- `_topic`, `_partition` and `_offset` are filled by the sink from where each record was read;
-- with `exactlyOnce=true` it reads them back after a crash, so a plain MergeTree never holds a
-- record twice (no ReplacingMergeTree or FINAL needed).
CREATE TABLE IF NOT EXISTS events (
    user_id String,
    event_type String,
    timestamp DateTime,
    session_id String,
    device String,
    inserted_at DateTime DEFAULT now(),
    _topic String,
    _partition Int32,
    _offset Int64
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (_topic, _partition, _offset)
