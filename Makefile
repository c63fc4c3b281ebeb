# Two commands do all set-up on a fresh machine:
#   make demo   – install, then train on the built-in phantoms (runs/demo)
#   make test   – install, then run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# On a machine without a GPU we install PyTorch's small CPU build; a torch that is already
# importable in the venv (e.g. a CUDA build you installed) is kept as it is.
TORCH_CPU ?= torch==2.13.0
# GPU users: `make demo VENV_ARGS=--system-site-packages` builds the venv on top of the
# Python that already has your CUDA torch, so that torch is used instead.
VENV_ARGS ?=

.PHONY: install demo test lint bench clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_ARGS) $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_CPU)"
	$(BIN)/pip install -q -e ".[dev,dicom-codecs]"
	touch $@

demo: install
	$(BIN)/cxrgan train --config configs/demo.toml --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
