# The two set-up commands are `make demo` and `make test`; each builds .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/voucher-ledger demo

# The suite runs every database test twice: on SQLite and on a throwaway PostgreSQL 15
# that tests/pgserver.py starts (as the postgres user when run as root) and stops.
test: $(DEVSTAMP)
	$(BIN)/python -m pytest -n 2 -q
	$(MAKE) --no-print-directory lint

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ledger projections commands bench

# 10k, 100k and 1M events on SQLite and on a PostgreSQL it starts itself (about 12 minutes);
# writes docs/performance.md. Never part of `make test`, which runs a 1,000-event smoke of it.
# Then the HTTP service under 16 concurrent loopback clients for 60 s per database (bench/service_load.py).
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.service_load --clients 16 --seconds 60

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
