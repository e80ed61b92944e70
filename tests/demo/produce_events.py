"""Produces N sample events to a topic with Confluent's Python client (used by the demo)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from sluice_harness import Kafka, sample_events  # noqa: E402

if __name__ == "__main__":
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kafka = Kafka(bootstrap)
    kafka.create_topic(topic, partitions=4)
    kafka.produce_json(topic, sample_events(count))
    print(f"produced {count} events to {topic}")
