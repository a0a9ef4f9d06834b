# Two commands do everything on a fresh machine (Python 3.11, Node 20, npm):
#   make run    install, then start the API on the embedded chain with demo data
#   make test   install, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run demo test lint format typecheck contracts check-contracts bench clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# Node is needed only to rebuild contracts and to run anvil in tests; the committed artifacts
# let a Python-only user skip it. `npm install` rather than `npm ci`: the lock records only this
# platform's anvil binary package, which `npm ci` refuses; versions are pinned exactly anyway.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/ipchain serve --demo --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/ipchain demo

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src api tests scripts
	$(BIN)/ruff format --check src api tests scripts

format: install
	$(BIN)/ruff format src api tests scripts
	$(BIN)/ruff check --fix src api tests scripts

typecheck: install
	$(BIN)/mypy

contracts: node_modules/.installed
	node scripts/build_contracts.mjs

check-contracts: node_modules/.installed
	node scripts/build_contracts.mjs --check

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
