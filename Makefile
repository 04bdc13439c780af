# syndicate — the two commands a newcomer needs: `make up` (or `make demo`) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install up demo test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run API (http://127.0.0.1:8000/), Celery worker and beat on SQLite + the embedded broker
up: install
	$(BIN)/syndicate up

## the same, plus bundled sample feeds served on loopback (no internet needed)
demo: install
	$(BIN)/syndicate up --demo

## install and run the test suite
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache
