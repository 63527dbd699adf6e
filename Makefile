# golive: two commands. `make demo` shows golive deciding against its sandbox; `make test` is what CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.golive-installed

.PHONY: demo test lint typecheck unit system services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the package metadata changes; editable, so source edits need nothing.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

system:
	scripts/ensure-system-packages

services:
	scripts/ensure-services

demo: $(STAMP) system services
	$(BIN)/golive demo

lint: $(STAMP) system
	$(BIN)/ruff check golive validations tests benchmarks conftest.py
	$(BIN)/actionlint .github/workflows/*.yml
	shellcheck scripts/* .ci/run

typecheck: $(STAMP)
	$(BIN)/mypy

# Bytecode caches on: the tests start a few hundred Python processes (gates, workers, CLIs); compiling golive
# and rewriting validations/ afresh in each costs about a second per gate run where the caller disabled them.
# Two processes side by side: the tests that share the machine's one sandbox, and the rest (scripts/run-tests).
unit: $(STAMP) system services
	scripts/run-tests $(BIN)/python

test: lint typecheck unit

clean:
	rm -rf $(VENV) reports/*.json reports/*.html
