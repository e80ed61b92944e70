# The two commands of the README.
.PHONY: demo test

## demo: start Kafka and ClickHouse, run a worker, POST a connector, produce events, show what landed
demo:
	tests/demo/run-demo.sh

## test: every test (unit + integration against real services)
test:
	tests/run-all.sh
