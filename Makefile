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

# Reinstall only when the project's dependencies change. torch is pinned and installed
# first so that nothing can pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
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
