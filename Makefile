# Two commands do everything on a fresh machine:
#   make run     install the Python packages, then start the API on the embedded chain with
#                demo data (Python 3.11 only: the embedded chain needs no Node)
#   make test    install everything (also Node 20 + npm: solc and the anvil test node), then
#                run the whole test suite
#   make check   lint + typecheck + test: what CI runs (.ci/run)
#   make network the workshop topology: one chain node, one node per office (EM, AU, RU
#                members, MT a non-member to admit live); make network-down stops it
# Nothing here rewrites a tracked file: npm ci installs exactly package-lock.json.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
RPC_PORT ?= 8545
PY_SOURCES := src api tests scripts

.PHONY: install install-python install-node run network network-down demo test lint format \
	typecheck check contracts check-contracts bench clean

install: install-python install-node

install-python: $(VENV)/.installed

install-node: node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# Node is needed only to rebuild contracts and to run anvil in tests; the committed artifacts
# let a Python-only user skip it. The lock lists anvil's binary package for every platform, so
# `npm ci` installs this platform's one and never rewrites the lock.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install-python
	$(BIN)/ipchain serve --demo --host $(HOST) --port $(PORT) --rpc-port $(RPC_PORT)

network: install-python
	$(BIN)/ipchain network up --rpc-port $(RPC_PORT)

network-down: install-python
	$(BIN)/ipchain network down

demo: install-python
	$(BIN)/ipchain demo

test: install
	$(BIN)/pytest

lint: install-python
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/lint-imports --no-cache

format: install-python
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/ruff check --fix $(PY_SOURCES)

typecheck: install-python
	$(BIN)/mypy

check: lint typecheck test

contracts: install-node
	node scripts/build_contracts.mjs

check-contracts: install-node
	node scripts/build_contracts.mjs --check

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
