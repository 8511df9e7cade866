# Two commands from a fresh clone: `make demo` and `make test` (Python 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export CDPKIT_WAREHOUSE ?= warehouse.duckdb

.PHONY: install demo test lint format seeds clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changed.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/cdpkit demo

test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the committed demo seeds (about 2,000 people, seed 42).
seeds: install
	$(BIN)/python -m cdpkit.demo_data --customers 2000 --seed 42 --out seeds

# Benchmarks print figures against a same-run baseline (see each script's --help for sizes).
bench: install
	$(BIN)/python benchmarks/identity.py --customers 100000
	$(BIN)/python benchmarks/audiences.py
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/crm.py
	$(BIN)/python benchmarks/adsync.py

clean:
	rm -rf target logs exports warehouse.duckdb warehouse.duckdb.wal .pytest_cache
