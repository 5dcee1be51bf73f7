# ticketpulse developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
LINT_PATHS := streams tests bench

.PHONY: help setup lint test demo bench stack-up stack-status stack-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## install Debian packages, .venv, the mypyc build of the domain and the Kafka jars (quick when done)
	@bash scripts/setup.sh

lint: setup ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy --strict streams

test: setup lint ## lint, the unit tests on the pure-Python domain, then every test (the mypyc build, real stack)
	TICKETPULSE_PURE_PYTHON=1 $(BIN)/pytest -q tests/unit
	$(BIN)/pytest -q tests

soak: setup ## the fault suite, longer: 20 kills, 100k+ events, 60 s Redis outage (docs/faults.md)
	TICKETPULSE_SOAK=1 $(BIN)/pytest -q -s tests/faults

demo: setup ## the stack, a worker and live simulated traffic, watched with ticketpulse top
	@bash scripts/demo.sh

bench: setup ## pipeline benchmark (docs/bench.md); BENCH_ARGS="--events 50000 --repeats 1" for a quick run
	@$(BIN)/python -c 'import quixstreams, matplotlib' 2>/dev/null && test -x $(BIN)/py-spy || $(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.pipeline $(BENCH_ARGS)

stack-up: setup ## ticketpulse stack up
	$(BIN)/ticketpulse stack up

stack-status: ## ticketpulse stack status
	$(BIN)/ticketpulse stack status

stack-down: ## stop the demo worker and simulator, then the local stack
	@bash scripts/demo.sh stop
	$(BIN)/ticketpulse stack down
