"""The REST API under load: 50 concurrent clients create, reconfigure, pause, resume and
delete 200 connectors on a 3-worker cluster, each request sent to any worker, while 8
connectors that stay keep copying data. What an operator checks afterwards:

- no request got a 5xx, and every answer had the code Kafka Connect gives for it;
- every worker lists exactly the connectors that stayed (none lost, no ghost), with the same
  config and the same task states; a deleted connector is 404 everywhere;
- the connectors that stayed wrote every record exactly once (file sink: one line per record,
  no line twice), across the task moves the churn caused.
"""

import collections
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from confluent_kafka import Producer

from sluice_harness import distributed_workers, unique, wait_for

CLIENTS = 50
CHURNED = 200
KEPT = 8
RECORDS = 2000


def produce(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})
    for i in range(start, start + count):
        producer.produce(topic, value=f"rec-{i}".encode(), key=str(i).encode())
    assert producer.flush(60) == 0


def file_connector(topic: str, path, tasks: int = 2) -> dict:
    return {
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(path),
        "tasks.max": str(tasks),
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    }


def lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_fifty_clients_churning_two_hundred_connectors(tmp_path, kafka):
    workers = distributed_workers(tmp_path, kafka.bootstrap, 3, unique("sluice-load"))
    for w in workers:
        w.start()
    try:
        ids = sorted(w.worker_id for w in workers)
        wait_for("three workers in the group",
                 lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers), timeout=60)
        topic = unique("load")
        kafka.create_topic(topic, partitions=4)
        produce(kafka.bootstrap, topic, 0, RECORDS // 2)

        kept = {f"kept-{i}": tmp_path / f"kept-{i}.txt" for i in range(KEPT)}
        for name, path in kept.items():
            r = workers[0].post("/connectors", {"name": name, "config": file_connector(topic, path)})
            assert r.status_code == 201, r.text

        answers: list[tuple[str, str, int]] = []
        lock = threading.Lock()
        rng = random.Random(7)
        churn_names = [f"churn-{i}" for i in range(CHURNED)]

        def call(method: str, path: str, body=None) -> int:
            worker = rng.choice(workers)
            r = requests.request(method, worker.url + path, json=body, timeout=120)
            with lock:
                answers.append((method, path, r.status_code))
            return r.status_code

        def lifecycle(name: str) -> None:
            config = file_connector(topic, tmp_path / f"{name}.txt", tasks=1)
            assert call("POST", "/connectors", {"name": name, "config": config}) == 201
            config["tasks.max"] = "3"
            assert call("PUT", f"/connectors/{name}/config", config) == 200
            assert call("PUT", f"/connectors/{name}/pause") == 202
            assert call("PUT", f"/connectors/{name}/resume") == 202
            # Its status may not be written yet (404, as in Kafka Connect); never a 5xx.
            assert call("GET", f"/connectors/{name}/status") in (200, 404)
            assert call("DELETE", f"/connectors/{name}") == 204

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            for future in [pool.submit(lifecycle, n) for n in churn_names]:
                future.result()

        server_errors = [a for a in answers if a[2] >= 500]
        assert not server_errors, f"{len(server_errors)} answers were 5xx, first: {server_errors[:5]}"
        assert len(answers) == CHURNED * 6

        produce(kafka.bootstrap, topic, RECORDS // 2, RECORDS // 2)

        # Every worker's view is the same, and holds exactly the connectors that stayed.
        def views():
            out = []
            for w in workers:
                r = w.get("/connectors?expand=info&expand=status")
                if r.status_code != 200:
                    return None
                out.append({n: (c["info"]["config"], c["status"]["connector"]["state"],
                                sorted((t["id"], t["state"], t["worker_id"]) for t in c["status"]["tasks"]))
                            for n, c in r.json().items()})
            return out

        def settled():
            v = views()
            return (v and all(x == v[0] for x in v) and sorted(v[0]) == sorted(kept)
                    and all(state == "RUNNING" and len(tasks) == 2 and all(t[1] == "RUNNING" for t in tasks)
                            for _, state, tasks in v[0].values()))

        wait_for("every worker's view identical, only the kept connectors, all RUNNING", settled, timeout=120)
        for w in workers:
            for name in rng.sample(churn_names, 10):
                assert w.get(f"/connectors/{name}/status").status_code == 404
        # No ghost task: the cluster's placement names only the kept connectors' tasks.
        placed = [t[2] for c in views()[0].values() for t in c[2]]
        assert len(placed) == KEPT * 2 and set(placed) <= set(ids)

        # The kept connectors copied every record exactly once.
        expected = {f"rec-{i}" for i in range(RECORDS)}
        wait_for("every kept file complete", lambda: all(len(lines(p)) >= RECORDS for p in kept.values()), timeout=120)
        for name, path in kept.items():
            got = lines(path)
            twice = [line for line, n in collections.Counter(got).items() if n > 1]
            assert not twice, f"{name}: {len(twice)} records written twice, first: {twice[:3]}"
            assert set(got) == expected, f"{name}: missing {sorted(expected - set(got))[:3]}"
    finally:
        for w in workers:
            w.stop()
