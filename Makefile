# Two entry points that work on a fresh machine: `make test` and (later) `make run`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-test

.PHONY: test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch==2.13.0 (CPU) goes in first and alone, so nothing else can pull another build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check nnlab tests benchmarks

test: $(STAMP) lint
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_ops.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
