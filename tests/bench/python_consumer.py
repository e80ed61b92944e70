#!/usr/bin/env python3
"""P: a hand-written Kafka -> ClickHouse pipeline, the way such pipelines start: confluent-kafka's
Consumer, each JSON event parsed and its timestamp rewritten into the form ClickHouse's
JSONEachRow reads, one HTTP INSERT per 10,000 rows (or after a second without more), and a
synchronous commit after each insert, so a crash re-inserts at most one batch. It fills the
table's Kafka coordinate columns as Sluice does. Runs until SIGTERM; `clickhouse_bench.py`
measures it from outside (row P).

    python_consumer.py BOOTSTRAP TOPIC GROUP CLICKHOUSE_URL TABLE
"""

from __future__ import annotations

import json
import signal
import sys
import time

import requests
from confluent_kafka import Consumer, KafkaException

BATCH_ROWS = 10_000
BATCH_MAX_AGE_S = 1.0


def main() -> int:
    bootstrap, topic, group, clickhouse_url, table = sys.argv[1:6]
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    http = requests.Session()
    insert = {"query": f"INSERT INTO {table} FORMAT JSONEachRow"}
    batch: list[str] = []
    first_at = 0.0
    try:
        while not stopping:
            for msg in consumer.consume(num_messages=min(1000, BATCH_ROWS - len(batch)), timeout=0.5):
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                event = json.loads(msg.value())
                ts = event["timestamp"]  # 2025-09-18T10:30:00.000Z -> 2025-09-18 10:30:00
                event["timestamp"] = f"{ts[:10]} {ts[11:19]}"
                event["_topic"], event["_partition"], event["_offset"] = msg.topic(), msg.partition(), msg.offset()
                if not batch:
                    first_at = time.monotonic()
                batch.append(json.dumps(event))
            if batch and (len(batch) >= BATCH_ROWS or time.monotonic() - first_at >= BATCH_MAX_AGE_S):
                r = http.post(clickhouse_url, params=insert, data="\n".join(batch).encode(), timeout=60)
                if r.status_code != 200:
                    raise RuntimeError(f"INSERT answered {r.status_code}: {r.text[:500]}")
                consumer.commit(asynchronous=False)
                batch.clear()
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
