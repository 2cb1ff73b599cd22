# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make demo   - run the product on its embedded defaults (sandbox vendors, local model, SQLite)
#   make test   - lint, type check and the whole test suite (installs headless Chromium for the browser tests)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
LOCK := constraints.txt

.PHONY: demo test test-sqlite test-postgres lint install browser postgres clean docs model constraints

$(BIN)/python:
	@echo "==> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "==> installing Deskguard and its runtime dependencies (pinned by $(LOCK))"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --constraint $(LOCK) -e .
	touch $@

$(DEV): $(RUNTIME)
	@echo "==> installing the test and lint tools (pytest, hypothesis, ruff, mypy, selenium)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --constraint $(LOCK) -e '.[dev]'
	touch $@

install: $(DEV)

demo: $(RUNTIME)
	@echo "==> starting the demo: vendor emulators, the sidecar and a worker (Ctrl-C stops it)"
	$(BIN)/deskguard demo

browser:
	@bash deploy/install-browser.sh

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

# The whole suite on SQLite, then the ledger, queue, pipeline, crash and multi-process tests again on
# a throwaway PostgreSQL cluster that the test setup starts and stops (docs/scale-out.md).
PG_TESTS := tests/test_foundation.py tests/test_migrations.py tests/test_audit.py \
	tests/test_queue.py tests/test_leases.py tests/test_ledger_concurrency.py \
	tests/test_backup_postgres.py tests/test_crash.py tests/test_processes.py \
	tests/test_scaleout.py tests/test_demo.py tests/test_pipeline_*.py

test: test-sqlite test-postgres

test-sqlite: $(DEV) browser lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

test-postgres: $(DEV) postgres
	TEST_POSTGRES=1 $(BIN)/python -m pytest -q -n auto --dist loadfile -m "not browser" $(PG_TESTS)

postgres:
	@bash deploy/install-postgres.sh

docs: $(RUNTIME)
	$(BIN)/deskguard config docs --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Rebuild the shipped local model (connector/classify/model/) from the shared datasets (not in the
# repo; default ../shared/datasets) and the hand-written tickets. Seeded: same inputs, same model.
SHARED_DATASETS ?= ../shared/datasets
model: $(DEV)
	$(BIN)/python scripts/train_default_model.py --shared $(SHARED_DATASETS)

# Re-pin constraints.txt: resolve pyproject.toml (runtime + dev) in a scratch venv and freeze it.
constraints:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet --disable-pip-version-check '.[dev]'
	{ echo "# Exact versions make, the Dockerfile and CI install (runtime and dev tools), tested together."; \
	  echo "# Regenerate with 'make constraints' after changing dependencies in pyproject.toml."; \
	  $(VENV)-lock/bin/python -m pip freeze --exclude-editable | grep -v '^deskguard'; } > $(LOCK)
	rm -rf $(VENV)-lock
