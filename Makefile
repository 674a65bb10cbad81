# Two commands: `make run` and `make test`. Both set up .venv (once), install lamina and
# provision the default models, then do their job.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lamina-installed
# llama-cpp-python is built from source for this CPU (-march=native) but without llama.cpp's AMX
# path, which segfaults in ggml_backend_amx_mul_mat on AMX CPUs (llama.cpp issue 20824).
# --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back any earlier build.
LLAMA_CPP_VERSION := 0.3.36
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS := -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
LLAMA_INSTALL = CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet --no-cache-dir \
	--no-binary llama-cpp-python --no-deps --force-reinstall "llama-cpp-python==$(LLAMA_CPP_VERSION)"
MODELS_STAMP := $(VENV)/.lamina-models
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GOMP_SPINCOUNT ?= 10000

.PHONY: setup run test lint typecheck unit integration bench clean postgres llama-check langchain-standard

setup: llama-check $(MODELS_STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel of torch first, so nothing later pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	@echo "building llama-cpp-python $(LLAMA_CPP_VERSION) from source without AMX (a few minutes)"
	$(LLAMA_INSTALL)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Every set-up checks the llama.cpp in .venv (a second, < 1 s): one built with AMX, however it got
# there, is rebuilt without it, and a rebuild that still has AMX stops the set-up.
llama-check: $(STAMP)
	@$(PY) -m lamina.models.llama.build_info --require-no-amx || { \
	  echo "rebuilding llama-cpp-python without AMX"; $(LLAMA_INSTALL) && \
	  $(PY) -m lamina.models.llama.build_info --require-no-amx; }

$(MODELS_STAMP): $(STAMP) lamina/models/catalog.py
	$(VENV)/bin/lamina models pull --defaults
	@touch $(MODELS_STAMP)

run: setup
	$(VENV)/bin/python -m lamina.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit -q

integration: setup
	$(VENV)/bin/pytest tests/integration -q

# LangChain's standard chat-model tests, all of them (`make test` runs a subset): slow.
langchain-standard: setup
	LAMINA_STANDARD_TESTS=all $(VENV)/bin/pytest -q -rA tests/unit/test_langchain_standard.py \
	  tests/integration/test_langchain_standard.py

test: setup lint typecheck postgres
	$(VENV)/bin/pytest -q

# The scale-out tests start a throwaway PostgreSQL from its binaries. Install Debian's package
# when we can (root with apt); otherwise those tests skip and say why.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing postgresql (Debian) for the scale-out tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null \
	    || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null) \
	    || echo "could not install postgresql: the Postgres tests will be skipped"; \
	else \
	  echo "postgresql is not installed and cannot be (not root or no apt): the Postgres tests will be skipped"; \
	fi

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
