# make run      create .venv if missing, install requirements.txt, start the app
# make test     the same plus requirements-dev.txt and Debian's chromium, then lint (ruff, import contracts)
#               and the whole test suite
# make install  create and fill .venv only
# Options: make run DATA_DIR=/path/to/mnist PORT=8502; make test PYTEST_ARGS="-m 'not e2e'"

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
DATA_DIR ?=
PYTEST_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-dev run test lint chromium cjk-font-hint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The Chinese pages need a CJK font where the browser runs; without one every character is an empty box.
# Only a hint: the browser may run on another machine, and fc-list may be missing.
cjk-font-hint:
	@if command -v fc-list >/dev/null 2>&1 && [ -z "$$(fc-list :lang=zh 2>/dev/null)" ]; then \
		echo "note: no Chinese (CJK) font found here, so a browser on this machine shows the 中文 pages as empty boxes;"; \
		echo "      install one, e.g. sudo apt-get install fonts-noto-cjk"; \
	fi

run: install cjk-font-hint
	$(if $(DATA_DIR),MNIST_DATA_DIR="$(DATA_DIR)") $(BIN)/python -m streamlit run app.py --server.port $(PORT)

# Debian's chromium drives the browser tests; Playwright's own browser download is never used.
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# Lint rules and import contracts live in pyproject.toml.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache
