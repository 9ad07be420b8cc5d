# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stepkit-installed

.PHONY: demo test lint conformance bench clean pipelines

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ml,api]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stepkit demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check sdk tests bench functions pipelines

# The checked-in definitions, generated from the Python pipelines (tests/unit/pipelines fails when they drift).
pipelines: $(STAMP)
	$(BIN)/stepkit compile pipelines.training:training -o statemachines/training.asl.json
	$(BIN)/stepkit compile pipelines.batch_inference:batch_inference -o statemachines/batch_inference.asl.json

conformance: $(STAMP)
	$(BIN)/python ../shared/conformance/run.py --adapter stepkit.testing:run_case --jobs 2

bench: $(STAMP)
	$(BIN)/python bench/asl_engine.py

clean:
	rm -rf $(VENV) build *.egg-info sdk/*.egg-info
