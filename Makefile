# infra-gen: `make render` renders every environment; `make test` installs what it
# needs (Python deps, Debian tools, the Docker engine, images) and runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= dev
STAMPS := .stamps

.PHONY: help install install-test render check lint unit tools docker base-image \
        validate validate-tests package-test test clean fuzz

help:
	@echo "make render     render environments/*.yaml into generated/ (no services needed)"
	@echo "make test       everything: lint, unit, golden check, real-tool validation, stack"
	@echo "make up         start the dev stack (ENV=dev); make verify; make down"
	@echo "make validate   run every real-tool check on every environment"

$(STAMPS):
	mkdir -p $(STAMPS)

# VERSION too: the installed metadata (infra_gen.__version__) is read from it.
$(STAMPS)/venv: pyproject.toml VERSION | $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(STAMPS)/venv-test: $(STAMPS)/venv pyproject.toml services/app/requirements.txt
	$(BIN)/pip install -q -e '.[test]' -r services/app/requirements.txt
	touch $@

install: $(STAMPS)/venv
install-test: $(STAMPS)/venv-test

render: install
	$(BIN)/infra-gen render --all
	$(BIN)/infra-gen schema --out docs/environment.schema.json

check: install
	$(BIN)/infra-gen check

lint: install-test
	$(BIN)/ruff check infra_gen tests benchmarks services/app
	$(BIN)/mypy

# Some unit tests run promtool, amtool and shellcheck (a skip fails under CI).
unit: install-test tools
	$(BIN)/pytest -q tests/unit

# The security properties with a large budget (tests/unit/security/conftest.py).
fuzz: install-test tools
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/unit/security --hypothesis-show-statistics

tools:
	bash scripts/install-tools.sh

docker: tools
	bash scripts/start-docker.sh

base-image: docker
	bash scripts/base-image.sh

validate: install-test base-image
	$(BIN)/infra-gen validate --all --strict

validate-tests: install-test base-image
	$(BIN)/pytest -q tests/validate

# The wheel as a user installs it: built, installed into a fresh venv, then init,
# render, check and validate in an empty directory (tests/package).
package-test: install-test base-image
	$(BIN)/pytest -q tests/package

include mk/stack.mk
include mk/swarm.mk

# The stack commands run from the venv (verify needs pytest-testinfra).
images up down verify status logs stack-test-ha: install-test

# The whole suite, in the order a failure is cheapest to find; the three-node swarm
# last (about 21 min from nothing on 2 cores, after the compose stack is down).
test: lint unit check validate-tests package-test stack-test stack-test-ha swarm-test

clean:
	rm -rf $(STAMPS) .pytest_cache .mypy_cache .ruff_cache .infra-gen-cache
