# The two commands of the README.
.PHONY: demo test chaos soak bench bench-parquet bench-clickhouse need-kcat

## demo: start Kafka and ClickHouse, run a worker, POST a ClickHouse and a Parquet connector, produce events, show what landed
demo:
	tests/demo/run-demo.sh

## test: every test (unit + integration against real services)
test:
	tests/run-all.sh

## chaos: the full chaos suite (about 35 minutes; faults one after another and in pairs under a steady load, exact counts after each; writes tests/chaos/RESULTS.md). CHAOS_ARGS="--only kill-leader" runs chosen scenarios; `make test` runs the reduced suite
chaos:
	tests/chaos/run.sh $(CHAOS_ARGS)

## soak: one hour of steady load (1000 events/s) through one worker with ClickHouse and Parquet sinks, RSS and open fds sampled; writes docs/soak/ (SOAK_ARGS="600 500" for 10 minutes at 500 events/s)
soak:
	cargo build -p sluice-worker --bin sluice
	tests/soak/soak.sh $(SOAK_ARGS)

## bench: every contender side by side in one table, issue 12's goals PASS/MISS, results.md and PNG plots in target/bench/ (1M events; BENCHMARKS.md says what each row is; BENCH_ARGS="--events 50000" is a smoke run)
bench: need-kcat
	tests/services/services.sh up kafka registry clickhouse
	cargo build --release -p sluice-worker --bin sluice
	eval "$$(tests/services/services.sh env)" && "$$SLUICE_PYTHON" tests/bench/bench.py $(BENCH_ARGS)

## bench-parquet: Parquet sink benchmark (1M events, real Kafka + registry, release build; a measurement, not a test)
bench-parquet: need-kcat
	tests/services/services.sh up kafka registry
	cargo build --release -p sluice-worker --bin sluice
	eval "$$(tests/services/services.sh env)" && "$$SLUICE_PYTHON" tests/bench/parquet_bench.py $(BENCH_ARGS)

## bench-clickhouse: ClickHouse sink benchmark (1M events, JSON and Avro, vs kcat and ClickHouse's Kafka engine; release build; a measurement, not a test)
bench-clickhouse: need-kcat
	tests/services/services.sh up kafka registry clickhouse
	cargo build --release -p sluice-worker --bin sluice
	eval "$$(tests/services/services.sh env)" && "$$SLUICE_PYTHON" tests/bench/clickhouse_bench.py $(BENCH_ARGS)

# kcat: rows L and the benches' topic census; installed when missing (as root)
need-kcat:
	@command -v kcat >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get install -y kcat || { apt-get update && apt-get install -y kcat; }; \
	    else echo "kcat is missing: sudo apt-get install -y kcat" >&2; exit 1; fi; }
