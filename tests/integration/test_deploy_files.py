"""The deployment files under docker/ hold what they claim, checked without a Docker engine or a
Kubernetes cluster (neither runs on the CI machine):

- docker/compose.yaml is loaded by compose-go, the loader Docker Compose v2 itself is built on
  (tests/tools/compose-check, built here from the Go module proxy), with its schema check, path
  resolution, interpolation and consistency checks; the project it prints is then held to the
  stack issue 13 asks for: three KRaft brokers with replication factor 3 and
  min.insync.replicas=2, three distributed workers, Prometheus scraping each of them, Grafana
  with the dashboard, and a one-shot service that registers the sample connectors.
- docker/kubernetes/ validates against the Kubernetes API schemas (kubernetes-validate, offline);
  the custom resources (Strimzi, Prometheus operator) are checked field by field instead.
- The README's claim about the binary's run-time libraries matches `ldd` of the binary the tests
  run, and the Dockerfile builds the same package and binary as CI.

None of these needs Kafka or ClickHouse.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
CHECKER_SRC = REPO / "tests" / "tools" / "compose-check"


def read_properties(path: Path) -> dict:
    """A Java .properties file as Sluice's worker reads it (no line continuations are used here)."""
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


# ------------------------------------------------------------------------------------------------
# compose-check: compose-go, built from tests/tools/compose-check
# ------------------------------------------------------------------------------------------------


def go_binary() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        pytest.fail("Go is needed to build tests/tools/compose-check (the machine's Go is /usr/local/go/bin/go)")
    return go


@pytest.fixture(scope="session")
def compose_check(tmp_path_factory) -> Path:
    """Builds the checker once per run. Modules and the build cache live under ~/.cache, outside
    the clone, so CI downloads compose-go once per machine; go.sum pins what it downloads."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    env = dict(os.environ)
    env.setdefault("GOPATH", str(cache / "go"))
    env.setdefault("GOMODCACHE", str(cache / "go" / "mod"))
    env["GOFLAGS"] = "-mod=mod"
    binary = tmp_path_factory.mktemp("compose-check") / "compose-check"
    build = subprocess.run([go_binary(), "build", "-o", str(binary), "."], cwd=CHECKER_SRC, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"building compose-check failed:\n{build.stdout}\n{build.stderr}"
    return binary


def run_compose_check(checker: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess:
    # An environment without the developer's variables: the file must load with the defaults
    # it declares, as on a machine where nothing is exported.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([str(checker), *args, str(compose_file)], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="session")
def project(compose_check) -> dict:
    """docker/compose.yaml as Compose reads it: normalized, paths absolute, variables resolved."""
    result = run_compose_check(compose_check, COMPOSE_FILE, "-o", "json")
    assert result.returncode == 0, f"compose-go rejects docker/compose.yaml:\n{result.stderr}"
    return json.loads(result.stdout)


def test_the_compose_file_validates_with_compose_go(compose_check):
    result = run_compose_check(compose_check, COMPOSE_FILE)
    assert result.returncode == 0, f"compose-go rejects docker/compose.yaml:\n{result.stderr}"


@pytest.mark.parametrize("breakage, expected", [
    # A key Compose does not know (the schema check).
    (lambda text: text.replace("    hostname: kafka-2\n", "    hostname: kafka-2\n    hostnme: typo\n", 1), "hostnme"),
    # depends_on naming a service that does not exist (the consistency check).
    (lambda text: text.replace("      prometheus:\n        condition: service_healthy",
                               "      prometheus-server:\n        condition: service_healthy", 1),
     "prometheus-server"),
    # A variable without a value and without a default (interpolation).
    (lambda text: text.replace("image: prom/prometheus:v3.5.0", "image: prom/prometheus:${PROMETHEUS_TAG:?set it}", 1),
     "PROMETHEUS_TAG"),
], ids=["unknown-key", "missing-dependency", "unset-variable"])
def test_the_checker_rejects_a_broken_compose_file(compose_check, tmp_path, breakage, expected):
    """The validation above can fail: the same file, broken one way at a time, is refused."""
    original = COMPOSE_FILE.read_text()
    broken = breakage(original)
    assert broken != original, "the breakage no longer applies to compose.yaml: update this test"
    copy = tmp_path / "compose.yaml"
    copy.write_text(broken)
    result = run_compose_check(compose_check, copy)
    assert result.returncode != 0, f"compose-go accepted a broken file ({expected})"
    assert expected in result.stderr, result.stderr


def services_by_image(project: dict, image_prefix: str) -> dict:
    return {name: s for name, s in project["services"].items() if (s.get("image") or "").startswith(image_prefix)}


def brokers(project: dict) -> dict:
    """Long-running Kafka nodes: the apache/kafka services that run a broker (not one-shots)."""
    return {name: s for name, s in services_by_image(project, "apache/kafka:").items()
            if "broker" in s.get("environment", {}).get("KAFKA_PROCESS_ROLES", "")}


def workers(project: dict) -> dict:
    return {name: s for name, s in project["services"].items() if (s.get("command") or [None])[0] == "distributed"}


def one_shots(project: dict) -> dict:
    return {name: s for name, s in project["services"].items() if s.get("restart") == "no"}


def bind_mount(service: dict, target: str) -> Path:
    for volume in service.get("volumes", []):
        if volume["type"] == "bind" and volume["target"] == target:
            return Path(volume["source"])
    raise AssertionError(f"nothing is mounted at {target}: {service.get('volumes')}")


def test_three_kraft_brokers_replicate_every_topic_three_times(project):
    nodes = brokers(project)
    assert len(nodes) == 3, f"expected three Kafka brokers, found {sorted(nodes)}"
    envs = {name: s["environment"] for name, s in nodes.items()}
    ids = {name: env["KAFKA_NODE_ID"] for name, env in envs.items()}
    assert len(set(ids.values())) == 3, f"node ids must differ: {ids}"
    for name, env in envs.items():
        # KRaft, no ZooKeeper; every node votes in the controller quorum.
        assert "controller" in env["KAFKA_PROCESS_ROLES"], (name, env["KAFKA_PROCESS_ROLES"])
        voters = dict(v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert voters == {ids[n]: f"{nodes[n].get('hostname', n)}:9093" for n in nodes}, (name, voters)
        assert env["CLUSTER_ID"] == envs[next(iter(envs))]["CLUSTER_ID"], "one cluster id for all nodes"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3", name
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2", name
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3", name
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3", name
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2", name
        assert "healthcheck" in nodes[name], f"{name} has no health check to wait on"
        # A broker that waits for another broker's health would deadlock the quorum.
        assert not set(nodes[name].get("depends_on", {})) & set(nodes), f"{name} waits for another broker"
    advertised = [env["KAFKA_ADVERTISED_LISTENERS"] for env in envs.values()]
    assert len(set(advertised)) == 3, f"each broker must advertise its own address: {advertised}"


def test_the_sample_topic_is_created_with_three_replicas_after_every_broker_is_healthy(project):
    (init,) = [s for s in one_shots(project).values() if "kafka-topics.sh" in " ".join(s.get("command") or [])]
    args = init["command"]
    assert args[args.index("--replication-factor") + 1] == "3", args
    assert "min.insync.replicas=2" in args, args
    assert init["depends_on"] == {name: {"condition": "service_healthy", "required": True} for name in brokers(project)}


def test_three_distributed_workers_with_replicated_internal_topics(project):
    group = workers(project)
    assert len(group) == 3, f"expected three distributed Sluice workers, found {sorted(group)}"
    broker_names = {s.get("hostname", n) for n, s in brokers(project).items()}
    advertised = set()
    for name, worker in group.items():
        props_path = bind_mount(worker, worker["command"][1])
        props = read_properties(props_path)
        for key in ("config.storage.replication.factor", "offset.storage.replication.factor",
                    "status.storage.replication.factor"):
            assert props.get(key) == "3", f"{props_path.name}: {key}={props.get(key)}"
        for key in ("group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic"):
            assert props.get(key), f"{props_path.name} lacks {key}"
        assert {a.rsplit(":", 1)[0] for a in props["bootstrap.servers"].split(",")} == broker_names, props["bootstrap.servers"]
        # Members of the group are told apart by their advertised host: each must have its own.
        reference = re.fullmatch(r"\$\{env:(\w+)\}", props["rest.advertised.host.name"])
        assert reference and "env" in props["config.providers"].split(","), props["rest.advertised.host.name"]
        advertised.add(worker["environment"][reference.group(1)])
        assert "/health" in " ".join(worker["healthcheck"]["test"]), worker["healthcheck"]
        deps = worker["depends_on"]
        assert any(deps.get(init, {}).get("condition") == "service_completed_successfully" for init in one_shots(project)), deps
        assert {p["target"] for p in worker["ports"]} == {8083}
    assert len(advertised) == 3, f"workers must advertise different hosts: {advertised}"
    # The same image for all three, built from docker/Dockerfile.
    assert len({w["image"] for w in group.values()}) == 1
    assert all(w["build"]["dockerfile"] == "docker/Dockerfile" for w in group.values())


def test_prometheus_scrapes_every_worker_and_grafana_shows_the_dashboard(project):
    ((prometheus_name, prometheus),) = services_by_image(project, "prom/prometheus:").items()
    config = yaml.safe_load(bind_mount(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] if job.get("metrics_path", "/metrics") == "/metrics"
               for sc in job.get("static_configs", []) for t in sc["targets"]}
    assert targets == {f"{w.get('hostname', n)}:8083" for n, w in workers(project).items()}, targets

    (grafana,) = services_by_image(project, "grafana/grafana:").values()
    provisioning = bind_mount(grafana, "/etc/grafana/provisioning")
    datasources = [d for f in (provisioning / "datasources").glob("*.y*ml") for d in yaml.safe_load(f.read_text())["datasources"]]
    (prometheus_ds,) = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus_ds["url"] == f"http://{prometheus.get('hostname', prometheus_name)}:9090", prometheus_ds["url"]
    providers = [p for f in (provisioning / "dashboards").glob("*.y*ml") for p in yaml.safe_load(f.read_text())["providers"]]
    (provider,) = providers
    dashboards_dir = bind_mount(grafana, provider["options"]["path"])
    dashboards = sorted(dashboards_dir.glob("*.json"))
    assert dashboards, f"no dashboard JSON in {dashboards_dir}"
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    assert home and (dashboards_dir / Path(home).relative_to(provider["options"]["path"])).is_file(), home
    for path in dashboards:
        uids = {t.get("datasource", {}).get("uid") for p in json.loads(path.read_text())["panels"]
                for t in [p, *p.get("targets", [])] if isinstance(t.get("datasource"), dict)}
        assert uids <= {prometheus_ds["uid"]}, f"{path.name} refers to data sources {uids}"


def test_the_one_shot_setup_posts_the_example_connectors_once_every_worker_is_healthy(project):
    group = workers(project)
    (setup,) = [s for s in one_shots(project).values() if "/connectors" in " ".join(s.get("command") or [])]
    assert {n: d["condition"] for n, d in setup["depends_on"].items()} == {n: "service_healthy" for n in group}
    script = " ".join(setup["command"])
    assert re.search(r"-X POST .*http://(%s):8083/connectors" % "|".join(group), script, re.S), script
    mounted = bind_mount(setup, "/connectors")
    docker_examples = {p.name: json.loads(p.read_text()) for p in mounted.glob("*.json")}
    config_examples = {p.name: json.loads(p.read_text()) for p in (REPO / "config" / "connectors").glob("*.json")}
    # The compose stack posts config/'s examples; only what the compose network changes may differ.
    assert docker_examples.keys() == config_examples.keys(), (sorted(docker_examples), sorted(config_examples))
    may_differ = {"hostname", "store.url", "tasks.max"}
    services = set(project["services"])
    for name, example in docker_examples.items():
        original = config_examples[name]
        assert example["name"] == original["name"], name
        differing = {k for k in example["config"].keys() | original["config"].keys()
                     if example["config"].get(k) != original["config"].get(k)}
        assert differing <= may_differ, f"{name} differs from config/connectors/{name} in {differing - may_differ}"
        if "hostname" in example["config"]:
            assert set(example["config"]["hostname"].split(",")) <= services, example["config"]["hostname"]
        if example["config"].get("store.url", "").startswith("file://"):
            # Files of a task that moves to another worker must still be found there.
            target = example["config"]["store.url"][len("file://"):]
            shared = [{v["source"] for v in w["volumes"] if v["type"] == "volume" and target.startswith(v["target"])}
                      for w in group.values()]
            assert all(s and s == shared[0] for s in shared), f"{target} is not one volume shared by every worker"


def test_every_health_dependency_has_a_health_check_and_images_are_pinned(project):
    for name, service in project["services"].items():
        for dependency, how in service.get("depends_on", {}).items():
            if how["condition"] == "service_healthy":
                assert project["services"][dependency].get("healthcheck"), f"{name} waits for {dependency}'s health, which has no check"
        image = service.get("image", "")
        if "build" not in service:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), f"{name}: unpinned image {image!r}"


def test_every_file_the_stack_mounts_is_in_the_repository(project):
    """Docker creates a missing bind-mount source as an empty directory and starts anyway, so a
    renamed config file would go unnoticed until a service misbehaves."""
    checked = 0
    for name, service in project["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] != "bind":
                continue
            source = Path(volume["source"])
            assert source.is_relative_to(REPO), f"{name} mounts {source}, outside the repository"
            assert source.exists(), f"{name} mounts {source.relative_to(REPO)}, which does not exist"
            # A config file mounted over the image's own must be a file; a directory, not empty.
            if re.search(r"\.(properties|ya?ml|json|sql|conf)$", volume["target"]):
                assert source.is_file(), f"{name}: {source} is mounted at {volume['target']} but is not a file"
            elif source.is_dir():
                assert any(source.iterdir()), f"{name} mounts the empty directory {source.relative_to(REPO)}"
            checked += 1
        build = service.get("build")
        if build:
            assert (Path(build["context"]) / build["dockerfile"]).is_file(), f"{name}: no {build['dockerfile']}"
    assert checked >= 5


@pytest.mark.parametrize("path", sorted((DOCKER / "grafana" / "dashboards").glob("*.json")), ids=lambda p: p.name)
def test_every_dashboard_parses_and_its_panels_fit_the_grid(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    cells = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "hwxy"), f"panel {panel.get('title')!r}: gridPos {grid}"
        # Grafana's grid is 24 columns wide.
        assert 0 <= grid["x"] and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, f"panel {panel.get('title')!r}: {grid}"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]!r} and {panel.get('title')!r} overlap"
                cells[(x, y)] = panel.get("title")
        for target in panel.get("targets", []):
            assert target.get("expr"), f"panel {panel.get('title')!r} has a query without an expression"
