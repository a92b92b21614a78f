# The verbs a person types. `make demo` and `make test` are the README's two
# commands: both bootstrap everything they need on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
# The Lambda runtime is python3.13 (template.yaml Globals); the venv matches it.
# A pyenv shim answers `command -v` even when it cannot run, so each candidate is tried.
PYTHON_FOR_VENV ?= $(shell for p in $$(command -v python3.13) $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)
BUILD_DIR := .aws-sam/build
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv browser lint typecheck unit fuzz build integration faults test demo bench deploy clean

help:
	@echo "make demo   - start OpenSearch + moto, ship sample logs, break and repair them (KEEP=1: stay up)"
	@echo "              (make demo ENGINE=elasticsearch: the same on Elasticsearch 8)"
	@echo "make test   - lint, type-check, unit and fuzz tests, sam build, integration and fault tests"
	@echo "              (real OpenSearch, Elasticsearch + moto)"
	@echo "make bench  - decoder, cold-start and backfill benchmarks (benchmarks/results/)"
	@echo "make deploy - sam build && sam deploy --guided"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "python3.13 not found (the Lambda runtime version); install it or set PYTHON_FOR_VENV"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(PY) -m pytest tests/unit

build: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

# The completeness report's test opens the page in a real headless Chromium
# (tests/integration/report): Debian's package, installed when it is missing and
# this runs as root with apt-get (a fresh CI machine); elsewhere the test says
# what to install.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

# Integration tests import `logstream` and the handlers from the sam build
# output, exactly as Lambda lays them out (/opt/python and the code root).
integration: build browser
	$(PY) -m pytest tests/integration -o pythonpath="$(BUILD_DIR)/CommonLayer/python ."

# The decoder fuzz test: a fixed seed here and in CI; LOGSTREAM_FUZZ_EXAMPLES=20000
# runs longer with fresh randomness.
fuzz: venv
	$(PY) -m pytest -q tests/fuzz

# The fault matrix (docs/reliability.md): the built handlers against injected faults.
faults: build
	$(PY) -m pytest tests/faults -o pythonpath="$(BUILD_DIR)/CommonLayer/python ."

test: lint typecheck unit fuzz integration faults

# KEEP=1 leaves the stack up afterwards and prints how to connect (Ctrl-C stops it).
# ENGINE=elasticsearch runs the demo on Elasticsearch 8 instead of OpenSearch.
ENGINE ?= opensearch
demo: venv
	KEEP="$(KEEP)" PYTHONPATH=layers/common:. $(PY) -m devstack.demo --engine $(ENGINE)

bench: venv
	PYTHONPATH=layers/common:. $(PY) -m benchmarks.bench_decoder
	PYTHONPATH=layers/common:. $(PY) -m benchmarks.bench_invocation
	PYTHONPATH=layers/common:. $(PY) -m benchmarks.bench_cold_start
	PYTHONPATH=layers/common:. $(PY) -m benchmarks.bench_backfill

deploy: build
	$(BIN)/sam deploy --guided

clean:
	rm -rf .aws-sam $(VENV) .mypy_cache .ruff_cache .pytest_cache
