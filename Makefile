# Touchpoint: `make run` brings the whole system up, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CACHE_DIR ?= $(or $(TOUCHPOINT_CACHE_DIR),$(HOME)/.cache/touchpoint)
KAFKA_VERSION := $(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)
KAFKA_LIBS := $(CACHE_DIR)/kafka-$(KAFKA_VERSION)/libs
export TOUCHPOINT_CACHE_DIR := $(CACHE_DIR)

.PHONY: run demo test lint schemas venv kafka-jars system-deps browser-deps kcat-deps bench bench-deps faults clean

# Ctrl-C stops everything; so do SIGINT/SIGTERM/SIGHUP to the python process, and SIGTERM to make (make passes
# SIGTERM on to its recipe, not SIGINT). Processes started here are marked TOUCHPOINT_ENV=development.
run: venv kafka-jars  ## start Kafka, PostgreSQL and the three services (Ctrl-C stops)
	$(PY) -m deploy.local

demo: venv kafka-jars  ## `make run` plus a simulated office day fed live (DEMO_DAY_SECONDS=120, DEMO_SEED); Ctrl-C stops
	$(PY) -m bench.demo

test: venv kafka-jars browser-deps kcat-deps  ## unit + integration + browser tests against a real broker and PostgreSQL
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check services schemas deploy tests bench
	$(PY) -m mypy services schemas deploy tests bench

schemas: venv  ## regenerate JSON Schema and OpenAPI files after changing a model
	$(PY) -m schemas.generate
	$(PY) -m services.ingest.openapi > docs/openapi/ingest.json
	$(PY) -m services.reporting.openapi > docs/openapi/reporting.json

venv: $(VENV)/.installed node_modules/.installed

# The browser libraries reporting serves (chart.js), from the npm registry at the versions package-lock.json pins.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the dashboard's chart library (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is needed ($(PYTHON) not found)"; exit 1; }
	@echo "==> creating $(VENV) and installing Touchpoint with its dev tools"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -c constraints.txt -e '.[dev]'
	@touch $@

system-deps:  ## Java 17+ and Maven for the local Kafka broker (installed with apt-get when missing)
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing Java and Maven with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless maven; \
	  else echo "Java 17+ and Maven are needed for the local Kafka broker (or set KAFKA_BOOTSTRAP_SERVERS)"; exit 1; fi; \
	fi

kcat-deps:  ## Debian's kcat: the report-topic tests read the topics with it, as analysts do (apt-get when missing)
	@command -v kcat >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing kcat with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat; \
	  else echo "kcat is needed for the report-topic tests (apt-get install kcat)"; exit 1; fi; }

browser-deps:  ## Debian's chromium for the Playwright browser tests (apt-get when missing; never `playwright install`)
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing chromium with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "chromium is needed for the browser tests (apt-get install chromium)"; exit 1; fi; }

# The jars are shared by every checkout on the machine (CACHE_DIR): the stamp holds the pom's content hash, not
# its mtime (a fresh clone must not re-resolve them), and a new set is resolved aside and swapped in, so a broker
# started from another checkout never sees a half-filled folder.
kafka-jars:
	@if [ -n "$$KAFKA_BOOTSTRAP_SERVERS" ]; then echo "==> KAFKA_BOOTSTRAP_SERVERS is set: no local broker jars needed"; exit 0; fi; \
	want=$$(sha256sum deploy/kafka/pom.xml | cut -c1-64); \
	if [ "$$(cat $(KAFKA_LIBS)/.complete 2>/dev/null)" = "$$want" ]; then exit 0; fi; \
	$(MAKE) --no-print-directory system-deps && \
	echo "==> resolving Apache Kafka $(KAFKA_VERSION) jars from Maven Central into $(KAFKA_LIBS)" && \
	mkdir -p $(dir $(KAFKA_LIBS)) && tmp=$$(mktemp -d $(KAFKA_LIBS).new.XXXXXX) && \
	{ mvn -B -f deploy/kafka/pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$$tmp | grep -E "BUILD|ERROR|Downloaded from" | sed "s/^/    /" ; true; } && \
	test -f $$tmp/kafka_2.13-$(KAFKA_VERSION).jar && echo "$$want" > $$tmp/.complete && \
	rm -rf $(KAFKA_LIBS) && mv $$tmp $(KAFKA_LIBS)

bench-deps:  ## wrk, the closed-loop HTTP load generator of the ingest benchmark (apt-get when missing)
	@command -v wrk >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing wrk with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; \
	  else echo "wrk is needed for the ingest benchmark (apt-get install wrk)"; exit 1; fi; }

bench: venv kafka-jars bench-deps  ## ingest and classifier benchmarks (BENCH_ARGS="ingest --quick"; "e2e" for end-to-end latency); docs/BENCHMARKS.md
	$(PY) -m bench $(BENCH_ARGS)

faults: venv kafka-jars  ## the fault suite (FAULTS_ARGS="run --events 100000" | "soak --minutes 10"); docs/RELIABILITY.md
	$(PY) -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache
