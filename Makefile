# Onramp — every target creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The official AsyncAPI parser (npm), pinned in tools/asyncapi/package-lock.json.
ASYNCAPI_TOOLS := tools/asyncapi/node_modules/.package-lock.json

.PHONY: run test lint fmt schemas asyncapi openapi deploy-check bench chaos browser clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

$(ASYNCAPI_TOOLS): tools/asyncapi/package.json tools/asyncapi/package-lock.json
	cd tools/asyncapi && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

run: $(STAMP)  ## start the embedded broker and database, migrations and the three services
	$(BIN)/python -m onramp.devstack

browser:  ## Debian's Chromium for the browser tests (apt-get; nothing when it is there)
	@sh tools/install-chromium.sh

test: $(STAMP) $(ASYNCAPI_TOOLS) browser  ## every test, against backends the test session starts itself
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy strict, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schemas: $(STAMP)  ## regenerate the committed JSON Schemas, docs/asyncapi.yaml and docs/openapi/
	$(BIN)/python -m shared.events.schemas
	$(BIN)/python -m shared.events.asyncapi
	$(BIN)/python -m tools.openapi

openapi: $(STAMP)  ## regenerate docs/openapi/{feedback,rollout,notify}.json from the apps
	$(BIN)/python -m tools.openapi

asyncapi: $(STAMP) $(ASYNCAPI_TOOLS)  ## regenerate docs/asyncapi.yaml and validate it
	$(BIN)/python -m shared.events.asyncapi
	node tools/asyncapi/validate.mjs docs/asyncapi.yaml

deploy-check: $(STAMP) $(ASYNCAPI_TOOLS)  ## manifests, compose file, image, AsyncAPI
	$(BIN)/python -m pytest tests/deploy tests/unit/test_asyncapi.py $(PYTEST_ARGS)

bench: $(STAMP)  ## the five benchmarks, each against a baseline measured in the same run
	$(BIN)/python -m bench $(BENCH_ARGS)

chaos: $(STAMP)  ## the full fault-injection suite (a short version runs in make test)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .onramp .pytest_cache .mypy_cache .ruff_cache tools/asyncapi/node_modules
