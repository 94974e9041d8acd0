# Quick start:  make serve   (set up, build, serve on http://127.0.0.1:8001)
#               make test    (set up, run the tests)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8001

# Python may cache bytecode (__pycache__/, git-ignored) even where the
# environment says not to (PYTHONDONTWRITEBYTECODE=1): else every test
# worker and every evidence subprocess compiles the package, and pytest
# rewrites every test module, again (a quarter of test-fast; docs/architecture.md)
export PYTHONDONTWRITEBYTECODE =

.PHONY: setup setup-test serve build test test-fast bench bench-quick clean browser

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

# everything: every benchmark at --quick sizes (a schema change that breaks
# a benchmark fails here), then the whole suite (its summary is the last line)
test: setup-test browser
	$(MAKE) bench-quick
	$(BIN)/python -m pytest -q

# under a minute on 2 cores: no crash/fuzz/large-corpus tests, no real model,
# server or browser; two pytest-xdist workers (-n 2), one a core.
# The tests' temporary folders go to memory where there is a tmpfs
# (/dev/shm): every build fsyncs its files and commits, which on a disk made
# a third of the run's wall time; removed afterwards (1.7 GB). `make test`,
# which CI runs, keeps them on disk.
TEST_TMP := $(if $(wildcard /dev/shm/.),/dev/shm/evidence-tests-$(shell pwd | cksum | cut -d' ' -f1))
test-fast: setup-test
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not model and not server and not browser" \
	  $(if $(TEST_TMP),--basetemp=$(TEST_TMP)); status=$$?; $(if $(TEST_TMP),rm -rf $(TEST_TMP);) exit $$status

bench: setup
	$(BIN)/python tests/benchmarks/bench_build.py

# every script in tests/benchmarks/ at tiny sizes (a few seconds each): they
# still run and print their figures; the first failure stops the loop
bench-quick: setup-test
	@set -e; total=$$(date +%s); for script in tests/benchmarks/*.py; do \
		echo "== $$script --quick"; start=$$(date +%s); \
		$(BIN)/python $$script --quick; \
		echo "== $$script: $$(( $$(date +%s) - start ))s"; \
	done; echo "== bench-quick: $$(( $$(date +%s) - total ))s"

clean:
	rm -f evidence.db evidence.db-wal evidence.db-shm public.db
