# Two commands matter on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgresql test-sqlite lint fmt services bench bench-stats soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/previewgate demo

services:
	@bash scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Both store backends in parallel processes; non-store tests run in the sqlite process.
test: $(STAMP) services lint
	@set -e; \
	$(BIN)/pytest -q -p no:cacheprovider --backend postgresql > .test-postgresql.log 2>&1 & pg=$$!; \
	$(BIN)/pytest -q -p no:cacheprovider --backend sqlite > .test-sqlite.log 2>&1 & sq=$$!; \
	pg_rc=0; sq_rc=0; wait $$pg || pg_rc=$$?; wait $$sq || sq_rc=$$?; \
	echo "=== PostgreSQL backend ==="; tail -n 40 .test-postgresql.log; \
	echo "=== SQLite backend (and backend-independent tests) ==="; tail -n 40 .test-sqlite.log; \
	rm -f .test-postgresql.log .test-sqlite.log; \
	if [ $$pg_rc -ne 0 ] || [ $$sq_rc -ne 0 ]; then echo "FAILED (postgresql=$$pg_rc sqlite=$$sq_rc)"; exit 1; fi

test-postgresql: $(STAMP) services
	$(BIN)/pytest -q -p no:cacheprovider --backend postgresql

test-sqlite: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --backend sqlite

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

# Stats on 1,000,000 attribution rows (PostgreSQL; seeds and drops its own database).
bench-stats: $(STAMP) services
	$(BIN)/python bench/stats_1m.py

# The long soak (the test suite runs a short one).
soak: $(STAMP) services
	$(BIN)/python bench/soak.py --duration 300

clean:
	rm -rf $(VENV) .previewgate .pytest_cache .mypy_cache .ruff_cache
