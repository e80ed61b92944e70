-- Run once by the clickhouse-server image on first start (empty data volume), from
-- /docker-entrypoint-initdb.d. Target table of the events-clickhouse sample connector, which
-- writes exactly once (`exactlyOnce=true`): the sink fills the Kafka coordinate columns and
-- reads them back after a crash, so a plain MergeTree never holds a record twice.
CREATE TABLE IF NOT EXISTS default.events
(
    user_id     String,
    event_type  String,
    timestamp   DateTime64(3, 'UTC'),
    session_id  String,
    device      LowCardinality(String),
    inserted_at DateTime DEFAULT now(),
    _topic      LowCardinality(String),
    _partition  Int32,
    _offset     Int64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (_topic, _partition, _offset);
