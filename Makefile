# datamill.platform — developer entry points.  `make setup` once, then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPO        := $(abspath .)
VENV        ?= $(REPO)/.venv
PY          := $(VENV)/bin/python
PYTHON      ?= python3
BIN         := $(VENV)/bin
COLLECTION  := $(REPO)/build/ansible_collections/datamill/platform
SANITY_PY   ?= $(shell $(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
PYTEST_ARGS ?=
export ANSIBLE_CONFIG := $(REPO)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(REPO)/.collections
export PATH := $(BIN):$(PATH)

include $(wildcard mk/*.mk)

.PHONY: help setup test lint yamllint ruff ansible-lint sanity pytest unit integration bench build clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## Create .venv, install Python requirements and Galaxy collections (offline-capable)
	$(PY) tools/bootstrap.py

$(VENV)/.installed: requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

test: lint sanity cluster-bins pytest ## The full test suite (CI runs exactly this): lint, ansible-test sanity, pytest

lint: yamllint ruff ansible-lint ## yamllint + ruff + ansible-lint (production profile)

yamllint:
	$(BIN)/yamllint --strict .

ruff:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ansible-lint:
	$(BIN)/ansible-lint --profile production --strict

# ansible-test needs the collection at ansible_collections/<ns>/<name>: test a copy of the files git knows.
sanity: ## ansible-test sanity on a copy of the collection under build/ansible_collections
	rm -rf $(COLLECTION) && mkdir -p $(COLLECTION)
	git ls-files -z --cached --others --exclude-standard | $(PY) tools/existing_files.py \
		| tar --null -T - -cf - | tar -xf - -C $(COLLECTION)
	# The copy gets a git index of its own: ansible-test lists files through git, and build/ is ignored here.
	cd $(COLLECTION) && git init -q . && git add -A . \
		&& $(BIN)/ansible-test sanity --venv --python $(SANITY_PY) --color no

pytest: ## Unit and integration tests
	$(BIN)/pytest $(PYTEST_ARGS) tests

unit: ## Unit tests only
	$(BIN)/pytest $(PYTEST_ARGS) tests/unit

integration: ## Integration tests only (needs the test control plane, see docs/test-cluster.md)
	$(BIN)/pytest $(PYTEST_ARGS) tests/integration

bench: ## Run every benchmark in benchmarks/ and print its figures (not part of `make test`)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

build: ## Build the Galaxy tarball into build/
	mkdir -p build && $(BIN)/ansible-galaxy collection build --force --output-path build .

clean: ## Remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache
