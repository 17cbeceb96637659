# Onramp — every target creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint fmt schemas bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## start the embedded broker and database, migrations and the three services
	$(BIN)/python -m onramp.devstack

test: $(STAMP)  ## every test, against backends the test session starts itself
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy strict, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schemas: $(STAMP)  ## regenerate the committed JSON Schemas of the event catalogue
	$(BIN)/python -m shared.events.schemas

bench: $(STAMP)
	$(BIN)/python -m bench.latency

clean:
	rm -rf $(VENV) .onramp .pytest_cache .mypy_cache .ruff_cache
