# The two commands of the README:  `make run`  (set up + serve the demo models)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test tools lint demo-store clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.txt  ## the test runner, real clients, ruff and mypy
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $(TEST_STAMP)

run: $(STAMP)  ## set everything up and serve the shipped demo store on http://127.0.0.1:8000
	$(BIN)/python -m service

.PHONY: fleet
fleet: $(STAMP)  ## REPLICAS (default 3) replicas behind haproxy on http://127.0.0.1:8000 (needs haproxy: make tools); FLEET_ARGS="--prometheus ..."
	$(BIN)/python -m deploy.fleet --replicas $(or $(REPLICAS),3) --port 8000 $(FLEET_ARGS)

test: tools lint $(TEST_STAMP)  ## the real tools the tests drive, the lint and type gate, then the whole test suite
	$(BIN)/python -m pytest

tools:  ## install the missing real tools the tests drive (the list is in .ci/tools), or name them and stop
	.ci/tools

lint: $(TEST_STAMP)  ## ruff (lint + format check) and mypy, all three reported; settings in pyproject.toml
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

demo-store: $(STAMP)  ## rebuild the shipped demo store deterministically, with each model's training report
	$(BIN)/python -m training demo --store models_store/demo --force

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
