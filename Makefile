# The two commands of the quick start: `make run` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data

.PHONY: setup system-deps models run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

models: setup
	$(BIN)/scenewatch models fetch

run: setup system-deps models
	$(BIN)/scenewatch --data $(DATA) serve

# The tests under tests/ and the docstring examples under scenewatch/ (pyproject.toml); -rs lists skips.
test: setup system-deps models
	$(BIN)/ruff check scenewatch tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider -rs

lint: setup
	$(BIN)/ruff check scenewatch tests bench
	$(BIN)/ruff format --check scenewatch tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
