# The workbook's commands. `make` or `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
CADENCE ?= kvartal
PERIOD ?= latest
# Without .pyc files every Python process here starts seconds slower.
export UV_COMPILE_BYTECODE := 1

.PHONY: help install install-test browser briefs annual run lab lint test test-fast index bench lock clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(BIN)/uv ## Install the workbook and JupyterLab with pinned versions into .venv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements/lock.txt -e ".[lab]"

install-test: $(BIN)/uv ## Install the workbook and the test tools (and Dask, which they test) with pinned versions
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements/lock.txt -e ".[lab,test,dask]"

briefs: install ## Install everything and make the quarterly briefs for the latest quarter
	$(BIN)/python -m analysis run --cadence kvartal --period latest

annual: install ## Make the annual follow-up for the latest complete year
	$(BIN)/python -m analysis run --cadence aar --period latest

run: install ## Make briefs for any cadence and period: make run CADENCE=aar PERIOD=2024
	$(BIN)/python -m analysis run --cadence $(CADENCE) --period $(PERIOD)

lab: install ## Open the notebooks in JupyterLab, with the workbook's .venv as their kernel
	$(BIN)/python -m ipykernel install --sys-prefix --name strategy-workbook --display-name "Strategiopfølgning (.venv)" >/dev/null
	$(BIN)/jupyter lab notebooks/

browser: ## Install headless Chromium for the browser tests (Debian's package; needs root)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; fi; }

lint: install-test ## Check the code (ruff: lint and format) and that notebooks are committed without outputs
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

test: install-test browser lint ## Install what the tests need (Python packages, Chromium), check the code, and run every test
	$(BIN)/python -m pytest -n auto --dist loadfile

test-fast: install-test lint ## Every test but the end-to-end ones (real runs, fetches and browsers)
	$(BIN)/python -m pytest -n auto -m "not e2e"

index: install ## Rebuild outputs/index.html, the page that lists every published run
	$(BIN)/python -m analysis index

bench: install ## Print the run's speed and memory figures (benchmarks/bench.py; takes a few minutes)
	$(BIN)/python benchmarks/bench.py

lock: $(BIN)/uv ## Re-resolve requirements/lock.txt from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra lab --extra test --extra dask --python-version 3.11 --universal -o requirements/lock.txt

clean: ## Remove the environment and everything the workbook rebuilds (data/processed, outputs)
	rm -rf $(VENV) data/processed/*.parquet data/processed/*.json
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
