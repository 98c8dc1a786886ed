# make demo: run the hot-reload demo.  make test: lint, type-check and run every test.
# Both work on a fresh Debian machine with Python 3.11: they build .venv themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' src/kubereload/__init__.py)

.PHONY: demo test lint typecheck pytest bench system-deps clean image

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/install-system-deps.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/kubereload demo

system-deps:
	@scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Tests and benchmarks: strict, except that a helper may go unannotated and return Any; module
# attributes may be monkeypatched. Bodies are still checked (check_untyped_defs), and so are
# calls, equality and ignores.
TESTS_MYPY := --strict --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls \
	--allow-any-generics --no-warn-return-any --implicit-reexport

typecheck: $(STAMP)
	$(BIN)/mypy src
	MYPYPATH=tests:bench $(BIN)/mypy $(TESTS_MYPY) tests bench

pytest: $(STAMP) system-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP) system-deps
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The container image, labelled with the version and commit; PYTHON_IMAGE=...@sha256:... pins the base.
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD) \
	  --build-arg SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) \
	  $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) -t kubereload:$(VERSION) .
