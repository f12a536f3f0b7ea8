# The two set-up commands of the README: each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs benchmark benchmark-accuracy benchmark-optimize benchmark-hinton clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet -e ".[mediapipe]"
	touch $(STAMP)

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python examples/demo.py

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q -n auto

lint: $(STAMP)
	$(BIN)/ruff check kdkeras tests examples benchmarks
	$(BIN)/ruff format --check kdkeras tests examples benchmarks

# The documentation site (docs/, mkdocs.yml) into site/; any warning fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# Training throughput and LiteRT latency/size: a few minutes.
benchmark: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/throughput.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/litert.py

# Accuracy on the full Fashion-MNIST (needs dataset-fashion-mnist or internet).
benchmark-accuracy: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/accuracy.py

benchmark-optimize: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/optimize.py

# Hinton et al. 2015, section 3, on the full MNIST (issue 10): the long mode,
# HINTON_ARGS="--quick" for the quick one (benchmarks/README.md has the times).
# Needs MNIST: $KDKERAS_MNIST_DIR, internet, or HINTON_ARGS="--data-path DIR".
benchmark-hinton: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/hinton_mnist.py $(HINTON_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
