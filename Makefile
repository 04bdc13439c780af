# syndicate — the two commands a newcomer needs: `make up` and `make test` (`make demo` needs no internet).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LINT_STAMP := $(VENV)/.lint-stamp
PYTEST_ARGS ?=
INGEST_ARGS ?=
FAULTS_ARGS ?=
SERVING_ARGS ?=
POLL_ARGS ?=
YEAR_ARGS ?= --scale 0.05 --db both
# test-fast runs its tests in this many processes (pytest-xdist), each on a database of its own
FAST_WORKERS ?= 2

.PHONY: install up demo test test-fast lint bench bench-workers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# the linters and stubs come with the lint extra, on top of the test install (mypy reads the project's dependencies)
$(LINT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(LINT_STAMP)

## run API (http://127.0.0.1:8000/), Celery worker and beat on SQLite + the embedded broker
up: install
	$(BIN)/syndicate up

## the same, plus bundled sample feeds served on loopback (no internet needed), on a database of its own
## (var/demo.db); `.venv/bin/syndicate --demo COMMAND` runs any command against it
demo: install
	$(BIN)/syndicate up --demo

## install and run the test suite
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## the gates CI runs first: ruff (lint and format) on everything, mypy on syndicate/ and workers/, the import contracts
lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## the quick part of the suite: no child processes, no browser, no corpus sweep, no Celery workers;
## on FAST_WORKERS processes (FAST_WORKERS=0: in this one)
test-fast: install
	$(BIN)/python -m pytest -m "not slow" -n $(FAST_WORKERS) $(PYTEST_ARGS)

## the three tables of issue 27: feed serving with wrk (nginx on the static directory, plain nginx, the app),
## `syndicate poll --all` against the reader library, and a year of Bavaria on SQLite and PostgreSQL
## (bench/year.py; YEAR_ARGS="--scale 1 --db postgresql" for the full year, about 15 minutes)
bench: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/feed_serving.py $(SERVING_ARGS); serving=$$?; \
	$(BIN)/python bench/poll.py $(POLL_ARGS); poll=$$?; \
	$(BIN)/python bench/year.py $(YEAR_ARGS); year=$$?; \
	test $$serving = 0 -a $$poll = 0 -a $$year = 0

## benchmarks of issue 9 with real worker processes, as tables: ingest vs reader, unchanged re-polls,
## worker memory (bench/ingest.py), then kill -9 / Redis / PostgreSQL faults (bench/faults.py)
bench-workers: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/ingest.py $(INGEST_ARGS); ingest=$$?; \
	$(BIN)/python bench/faults.py $(FAULTS_ARGS); faults=$$?; \
	test $$ingest = 0 -a $$faults = 0

clean:
	rm -rf var .pytest_cache
