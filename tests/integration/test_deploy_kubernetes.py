"""docker/kubernetes/ holds what docker/README.md says: distributed workers with probes on
/health, their config through a ConfigMap and a Secret read by Kafka's config providers, a
Service, a ServiceMonitor, and an example Strimzi Kafka cluster their bootstrap points at.

Built-in kinds are validated against the Kubernetes API's own schemas (PyPI's
kubernetes-validate ships them; strict, so an unknown or misspelt field fails), for the oldest
and the newest Kubernetes version the manifests are meant for. The custom resources
(Strimzi's Kafka, KafkaNodePool, KafkaTopic; the Prometheus operator's ServiceMonitor) have no
schema there, since their CRDs come with the operators: they are checked field by field for what
those operators require, and against the rest of the manifests (labels, names, ports).
"""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "docker" / "kubernetes"
# The oldest Kubernetes the manifests are written for (policy/v1, seccompProfile as a field)
# and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
CUSTOM_KINDS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def load_all() -> list[dict]:
    return [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(kind: str, resources=None) -> dict:
    found = [r for r in (resources or load_all()) if r["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def read_properties(text: str) -> dict:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#!":
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def builtin_resources():
    return [pytest.param(r, id=f"{r['kind']}/{r['metadata']['name']}") for r in load_all()
            if (r["apiVersion"], r["kind"]) not in CUSTOM_KINDS]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("resource", builtin_resources())
def test_builtin_kinds_validate_against_the_kubernetes_schemas(resource, version):
    kubernetes_validate.validate(resource, version, strict=True)


def test_a_broken_manifest_is_refused():
    """The schema check above can fail: a misspelt probe field and a string replica count."""
    deployment = one("Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/health"
    with pytest.raises(kubernetes_validate.ValidationError, match="pth"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_every_resource_is_known_and_listed_in_the_kustomization():
    resources = load_all()
    for r in resources:
        assert r.get("apiVersion") and r.get("kind") and r.get("metadata", {}).get("name"), r
        if (r["apiVersion"], r["kind"]) not in CUSTOM_KINDS:
            # A custom kind this test does not check would pass unchecked: it must be added above.
            assert "." not in r["apiVersion"].split("/")[0] or r["apiVersion"].split("/")[0].endswith(".k8s.io"), \
                f"{r['kind']} ({r['apiVersion']}) is a custom resource this test does not check"
        if r["kind"] != "Namespace":
            assert r["metadata"].get("namespace") == "sluice", f"{r['kind']}/{r['metadata']['name']}"
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())
    assert kustomization["namespace"] == "sluice"
    images = {i["name"] for i in kustomization.get("images", [])}
    container_images = {c["image"].split(":")[0] for c in one("Deployment", resources)["spec"]["template"]["spec"]["containers"]}
    assert container_images <= images, (container_images, images)


def test_the_strimzi_cluster_is_kraft_with_three_replicas():
    resources = load_all()
    kafka = one("Kafka", resources)
    pools = [r for r in resources if r["kind"] == "KafkaNodePool"]
    # What Strimzi's CRDs require: spec.kafka.listeners (name, port, type, tls) and, with node
    # pools, no spec.kafka.replicas/storage and no ZooKeeper; each pool replicas, roles, storage
    # and the strimzi.io/cluster label naming its Kafka.
    spec = kafka["spec"]
    assert "zookeeper" not in spec and "replicas" not in spec["kafka"] and "storage" not in spec["kafka"]
    for listener in spec["kafka"]["listeners"]:
        assert re.fullmatch(r"[a-z0-9]{1,11}", listener["name"]), listener
        assert isinstance(listener["port"], int) and listener["port"] >= 9092, listener
        assert listener["type"] in {"internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"}, listener
        assert isinstance(listener["tls"], bool), listener
    config = spec["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2, config
    assert config["offsets.topic.replication.factor"] == 3, config
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert pools, "no KafkaNodePool"
    roles = set()
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert set(pool["spec"]["roles"]) <= {"controller", "broker"} and pool["spec"]["roles"]
        assert pool["spec"]["storage"]["type"] in {"ephemeral", "persistent-claim", "jbod"}
        roles |= {(role, pool["spec"]["replicas"]) for role in pool["spec"]["roles"]}
    assert sum(n for role, n in roles if role == "broker") == 3 and sum(n for role, n in roles if role == "controller") == 3
    topic = one("KafkaTopic", resources)
    assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert topic["spec"]["replicas"] == 3 and topic["spec"]["config"]["min.insync.replicas"] == 2


def test_the_workers_are_distributed_configured_from_the_configmap_and_the_secret():
    resources = load_all()
    deployment, configmap, secret = one("Deployment", resources), one("ConfigMap", resources), one("Secret", resources)
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][0] == "distributed", container["args"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}

    # The worker config the args name is the ConfigMap's file.
    config_mount = mounts[container["args"][1]]
    assert volumes[config_mount["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    props = read_properties(configmap["data"][config_mount["subPath"]])
    for key in ("config.storage.replication.factor", "offset.storage.replication.factor", "status.storage.replication.factor"):
        assert props[key] == "3", key
    for key in ("group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic"):
        assert props.get(key), key

    # bootstrap.servers is Strimzi's bootstrap Service of the example cluster, on a plain listener.
    kafka = one("Kafka", resources)
    plain = {l["port"] for l in kafka["spec"]["kafka"]["listeners"] if not l["tls"]}
    assert props["bootstrap.servers"] in {f"{kafka['metadata']['name']}-kafka-bootstrap:{port}" for port in plain}, props["bootstrap.servers"]

    # Every ${env:…} reference has its variable, and the env provider lets it through.
    env = {e["name"] for e in container.get("env", [])}
    allow = props.get("config.providers.env.param.allowlist.pattern")
    for var in re.findall(r"\$\{env:(\w+)\}", " ".join(props.values())):
        assert var in env, f"{var} is referenced but not set"
        assert allow is None or re.fullmatch(allow, var), f"{var} is outside allowlist.pattern {allow}"
    assert "env" in props["config.providers"].split(",") and "file" in props["config.providers"].split(",")

    # The Secret is mounted where the file provider may read, and nowhere in the ConfigMap.
    (secret_volume,) = [v for v in volumes.values() if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]]
    (secret_mount,) = [m for m in container["volumeMounts"] if m["name"] == secret_volume["name"]]
    assert secret_mount.get("readOnly") is True
    allowed = props["config.providers.file.param.allowed.paths"].split(",")
    assert any(secret_mount["mountPath"].startswith(a) for a in allowed), (secret_mount, allowed)
    for key, value in read_properties(next(iter(secret["stringData"].values()))).items():
        if "password" in key:
            assert value not in configmap["data"][config_mount["subPath"]], f"the Secret's {key} is in the ConfigMap"


def test_probes_on_health_and_the_service_and_servicemonitor_reach_every_pod():
    resources = load_all()
    deployment, service, monitor = one("Deployment", resources), one("Service", resources), one("ServiceMonitor", resources)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    # Starting and ready follow /health (200 only while the worker is in its group); alive is
    # `/` (the process answers): a worker cut off from Kafka is not ready, but restarting it
    # would not help.
    for probe, path in (("startupProbe", "/health"), ("readinessProbe", "/health"), ("livenessProbe", "/")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, (probe, get)
        assert ports.get(get["port"], get["port"]) == 8083, (probe, get)
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    assert service["spec"]["selector"].items() <= pod_labels.items(), "the Service selects no worker pod"
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert all(ports.get(p["targetPort"], p["targetPort"]) == 8083 for p in service_ports.values())

    # ServiceMonitor (monitoring.coreos.com/v1): spec.selector picks Services by label and every
    # endpoint names one of their ports; it scrapes the pods behind them one by one.
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["metadata"]["namespace"] in monitor["spec"].get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
    assert monitor["spec"]["endpoints"]
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports and endpoint.get("path", "/metrics") == "/metrics", endpoint
        assert re.fullmatch(r"\d+(ms|s|m)", endpoint.get("interval", "30s")), endpoint

    budget = one("PodDisruptionBudget", resources)
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
