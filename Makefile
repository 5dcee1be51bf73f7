# ticketpulse developer entry points. `make test` is what CI runs (.ci/run); `make check` is the
# quick loop before a commit (lint and the unit tests, with only the .venv).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
LINT_PATHS := streams tests bench

.PHONY: help setup venv lint check test soak demo bench stack-up stack-status stack-down

# ruff and mypy --strict, shared by `make lint` (after the full setup) and `make check`.
define lint-commands
$(BIN)/ruff check $(LINT_PATHS)
$(BIN)/ruff format --check $(LINT_PATHS)
$(BIN)/mypy --strict streams
endef

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## install Debian packages, .venv, the mypyc build of the domain and the Kafka jars (quick when done)
	@bash scripts/setup.sh

venv: ## only the .venv with the package and its dev tools (no apt, Maven or compiler)
	@bash scripts/setup.sh venv

lint: setup ## ruff check, ruff format --check, mypy --strict
	$(lint-commands)

# No services, no mypyc build: the domain as plain Python. promtool's tests are deselected
# when it is missing (make setup installs it; make test never deselects them).
check: venv ## lint and the unit tests on plain Python, about a minute, with only the .venv
	$(lint-commands)
	@if command -v promtool >/dev/null; then deselect=(); else \
	    echo "check: promtool is missing (make setup installs it): its tests are deselected"; \
	    deselect=(-m 'not promtool'); fi; \
	echo "TICKETPULSE_PURE_PYTHON=1 $(BIN)/pytest -q tests/unit $${deselect[*]}"; \
	TICKETPULSE_PURE_PYTHON=1 $(BIN)/pytest -q tests/unit "$${deselect[@]}"

test: setup lint ## lint, the unit tests on the pure-Python domain, then every test (the mypyc build, real stack)
	TICKETPULSE_PURE_PYTHON=1 $(BIN)/pytest -q tests/unit
	$(BIN)/pytest -q tests

soak: setup ## the fault suite, longer: 20 kills, 100k+ events, 60 s Redis outage, 4 Redis master and 4 broker kills (docs/faults.md)
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
