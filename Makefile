# Dashtam developer tasks. Needs only python3, git and make: uv is installed with pip when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --no-sync
# Compiled bytecode: these machines set PYTHONDONTWRITEBYTECODE=1, so an uncompiled venv would
# recompile every imported module on every start (~0.6 s per command).
export UV_COMPILE_BYTECODE := 1

.PHONY: help uv install demo test lint format typecheck contracts docs check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

uv: ## make sure uv is available (pip-installs it for this user when missing)
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "uv not found: installing it with pip (user site)" >&2; \
	  $(PYTHON) -m pip install --user --quiet uv 2>/dev/null \
	  || $(PYTHON) -m pip install --user --quiet --break-system-packages uv; }

install: uv ## create .venv from uv.lock (bytecode compiled)
	@# a dropped connection to the package index is retried (a fresh machine downloads everything)
	@for attempt in 1 2 3; do \
	  $(UV) sync --locked --quiet && break; \
	  [ $$attempt -lt 3 ] || exit 1; \
	  echo "uv sync failed (attempt $$attempt of 3): retrying in $$((attempt * 5)) s" >&2; \
	  sleep $$((attempt * 5)); \
	done
	@$(RUN) python -m compileall -q dashtam_cli

demo: install ## the main job on the embedded default: sync the demo provider into SQLite
	@$(RUN) dashtam demo

test: install contracts ## the test suite (SQLite and PostgreSQL) and the import contracts
	@$(RUN) pytest

contracts: install ## layer contracts (import-linter)
	@$(RUN) lint-imports

lint: install ## ruff check + format check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

format: install ## apply ruff fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

typecheck: install ## mypy --strict
	@$(RUN) mypy

docs: install ## build the documentation site (strict)
	@NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict --quiet

check: lint typecheck test docs ## everything CI runs

# The dashboard benchmark adds its section to bench/RESULTS.md (with --quick: 50,000 rows, prints only).
TUI_BENCH_ARGS ?= $(if $(findstring --quick,$(BENCH_ARGS)),--transactions 50000,--results bench/RESULTS.md)

bench: install ## benchmarks on 1M demo rows (minutes; not CI): writes bench/RESULTS.md
	@$(RUN) python bench/run.py $(BENCH_ARGS)
	@$(RUN) python bench/tui.py $(TUI_BENCH_ARGS)

clean: ## remove build and cache artefacts
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .import_linter_cache site dist build
