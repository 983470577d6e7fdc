# The two commands of the quick start: `make run` and `make test`. Each sets everything up first,
# in numbered steps that say what they do; a step with nothing to do says so and takes a second.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
PORT ?= 8080
# KEEP_CONVERTER=1 keeps the model converter (about 1.5 GB) after a conversion from npm.

step = @echo "[$(1)/4] $(2)"

.PHONY: setup system-deps models run test lint bench clean

setup:
	$(call step,2,Python packages into $(VENV) (SceneWatch editable, with its test tools))
	@$(MAKE) -s --no-print-directory -q $(VENV)/.installed && echo "  up to date" \
		|| $(MAKE) -s --no-print-directory $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "  creating $(VENV) and installing with pip (minutes, the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,clip]"
	@touch $@
	@echo "  installed"

system-deps:
	$(call step,1,Debian packages (FFmpeg, GStreamer, mosquitto, Chromium, fonts, opencv-doc))
	@bash scripts/install-system-deps.sh

models: setup
	$(call step,3,models (detector and pose) into the model cache)
	@$(BIN)/scenewatch models fetch

run: system-deps setup models
	$(call step,4,starting SceneWatch on the sample footage)
	@$(BIN)/scenewatch --data $(DATA) serve --port $(PORT)

# The tests under tests/ and the docstring examples under scenewatch/ (pyproject.toml); -rs lists skips.
test: system-deps setup models
	$(call step,4,lint and type checks, then the tests)
	$(BIN)/ruff check scenewatch tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider -rs

lint: setup
	$(BIN)/ruff check scenewatch tests bench
	$(BIN)/ruff format --check scenewatch tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
