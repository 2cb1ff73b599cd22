# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make demo   - run the product on its embedded defaults (sandbox vendors, local model, SQLite)
#   make test   - lint, type check and the whole test suite (installs headless Chromium for the browser tests)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install browser clean docs model

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/deskguard demo

browser:
	@bash deploy/install-browser.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

docs: $(STAMP)
	$(BIN)/deskguard config docs --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Rebuild the shipped local model (connector/classify/model/) from the shared datasets (not in the
# repo; default ../shared/datasets) and the hand-written tickets. Seeded: same inputs, same model.
SHARED_DATASETS ?= ../shared/datasets
model: $(STAMP)
	$(BIN)/python scripts/train_default_model.py --shared $(SHARED_DATASETS)
