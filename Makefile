# Two entry points for a fresh machine: `make book` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB := $(BIN)/jupyter-book
# Notebooks executed by make are quiet (no progress bars) so their stored outputs stay clean.
export BOOK_PROGRESS := 0
export PYTHONWARNINGS := ignore::DeprecationWarning:jupyter_client

.PHONY: help install book test lint unit notebooks check-notebooks build-check execute clean

help:
	@echo "make book     install into .venv and build the HTML book in _build/html"
	@echo "make test     install into .venv and run every test (lint, unit, notebooks, build)"
	@echo "make execute  re-run every chapter in place, refreshing its stored outputs"
	@echo "              (NOTEBOOKS=chapters/02_weight_decay_scratch.ipynb for just one)"
	@echo "make clean    remove _build and caches (keeps .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when requirements.txt changes; a second `make` installs nothing.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# d2l 1.0.3 pins numpy 1.23.5 and matplotlib 3.7.2, which would downgrade (and break) our stack;
	# its d2l.torch module works with the versions above, so install it without dependencies.
	$(BIN)/python -m pip install --quiet --no-deps d2l==1.0.3
	touch $(STAMP)

install: $(STAMP)

book: install
	$(JB) build . --warningiserror --nitpick --keep-going
	@echo "The book is in _build/html/index.html"

lint: install
	$(BIN)/ruff check .

unit: install
	$(BIN)/python -m pytest tests -q

notebooks: install
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -q chapters

build-check: install
	$(JB) build . --warningiserror --nitpick --keep-going --quiet

test: lint unit notebooks build-check

execute: install
	$(BIN)/python tools/execute_notebooks.py $(or $(NOTEBOOKS),chapters/*.ipynb)

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
