# zonebot — `make setup` (idempotent) then `make test`. Everything runs offline.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test lint format ask clean

setup: $(STAMP)

# Reinstall only when the project's dependencies change.
# torch goes first, CPU build only, on any machine: a local wheel (pip's find-links, or
# TORCH_WHEELS=dir) without touching any index, else PyTorch's CPU wheel index. Plain
# `pip install torch` from PyPI would pull the multi-GB CUDA build on Linux. torch's own
# dependencies then come from the usual index with the project's.
TORCH := torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_WHEELS ?=
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --no-index $(if $(TORCH_WHEELS),--find-links $(TORCH_WHEELS)) "$(TORCH)" \
	  || $(PY) -m pip install --quiet --no-deps --index-url $(TORCH_CPU_INDEX) "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -c "import torch, sys; sys.exit('torch is a CUDA build: run make clean, then make setup' if torch.version.cuda else 0)"
	touch $(STAMP)

Q ?= 营口片区去年规模以上工业总产值是多少?

# The main job on the default corpus: index corpus/ (incremental) and answer one question.
ask: setup
	$(VENV)/bin/zonebot index
	$(VENV)/bin/zonebot ask "$(Q)"

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check bot index tests bench
	$(VENV)/bin/ruff format --check bot index tests bench

format: setup
	$(VENV)/bin/ruff format bot index tests bench
	$(VENV)/bin/ruff check --fix bot index tests bench

clean:
	rm -rf $(VENV) data .pytest_cache
