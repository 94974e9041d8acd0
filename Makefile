# Quick start:  make serve   (set up, build, serve on http://127.0.0.1:8001)
#               make test    (set up, run the tests)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8001

.PHONY: setup setup-test serve build test test-fast bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: this pin is a small CPU build; an unpinned torch pulls a multi-GB one
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

build: setup
	$(BIN)/evidence build

serve: build
	$(BIN)/evidence serve --port $(PORT)

# the browser tests drive Debian's chromium: install it when missing (needs root)
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || { echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; }

test: setup-test browser
	$(BIN)/python -m pytest -q

test-fast: setup-test
	$(BIN)/python -m pytest -q -m "not model and not server and not browser"

bench: setup
	$(BIN)/python tests/benchmarks/bench_build.py

clean:
	rm -f evidence.db evidence.db-wal evidence.db-shm public.db
