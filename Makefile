# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv if missing, install lobkit, run the main job on the embedded default (SQLite)
#   make test   - create .venv if missing, install lobkit with the dev extra, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lobkit-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lobkit demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
