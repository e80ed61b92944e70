# The two commands of the README.
.PHONY: demo test bench-parquet bench-clickhouse

## demo: start Kafka and ClickHouse, run a worker, POST a ClickHouse and a Parquet connector, produce events, show what landed
demo:
	tests/demo/run-demo.sh

## test: every test (unit + integration against real services)
test:
	tests/run-all.sh

## bench-parquet: Parquet sink benchmark (1M events, real Kafka + registry, release build; a measurement, not a test)
bench-parquet:
	@command -v kcat >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get install -y kcat || { apt-get update && apt-get install -y kcat; }; \
	    else echo "kcat is missing: sudo apt-get install -y kcat" >&2; exit 1; fi; }
	tests/services/services.sh up kafka registry
	cargo build --release -p sluice-worker --bin sluice
	eval "$$(tests/services/services.sh env)" && "$$SLUICE_PYTHON" tests/bench/parquet_bench.py $(BENCH_ARGS)

## bench-clickhouse: ClickHouse sink benchmark (1M events, JSON and Avro, vs kcat and ClickHouse's Kafka engine; release build; a measurement, not a test)
bench-clickhouse:
	@command -v kcat >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get install -y kcat || { apt-get update && apt-get install -y kcat; }; \
	    else echo "kcat is missing: sudo apt-get install -y kcat" >&2; exit 1; fi; }
	tests/services/services.sh up kafka registry clickhouse
	cargo build --release -p sluice-worker --bin sluice
	eval "$$(tests/services/services.sh env)" && "$$SLUICE_PYTHON" tests/bench/clickhouse_bench.py $(BENCH_ARGS)
