# Two entry points for a fresh machine with Python 3.11 and pip:
#   make demo   - build the environment and run the main job on built-in defaults
#   make test   - build the environment with test extras and run every test (installs Debian's
#                 chromium for the dashboard's browser test when missing, as root with apt-get)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/seisim demo

test: $(VENV)/.installed
	sh tests/setup-browser.sh
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .venv-newest runs
