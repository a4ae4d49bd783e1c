# Everything runs inside a local virtual environment that this Makefile creates on first use,
# so a fresh clone needs nothing but python3 (>= 3.11) and make.
#   make demo / make playground   the package and its local stand-ins only (a short install)
#   make test / make check        the test tools too
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN    := $(VENV)/.installed-run
DEV    := $(VENV)/.installed-dev
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo playground review-demo train-demo test lint typecheck check bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN): pyproject.toml | $(BIN)/python
	@echo "installing asyncfilter and its local stand-ins into $(VENV) ..."
	$(PIP) -e '.[emulator]'
	touch $(RUN)

$(DEV): $(RUN)
	@echo "installing the test tools into $(VENV) ..."
	$(PIP) -e '.[emulator,review,browser,dev,dupes]'
	touch $(DEV)

demo: $(RUN)
	$(BIN)/asyncfilter demo

playground: $(RUN)
	$(BIN)/asyncfilter playground

# The demo sweep, then its review page on 127.0.0.1 until Ctrl+C.
review-demo: $(RUN)
	$(BIN)/asyncfilter demo --review

train-demo: $(RUN)
	$(BIN)/python -m asyncfilter.testing._train_demo

# Two workers: most of a test's time is spent waiting on the local servers (their own
# processes), so two share the 2 cores well (a third was slower).
test: $(DEV)
	$(BIN)/python -m pytest -n 2

lint: $(DEV)
	$(BIN)/ruff check asyncfilter tests benchmarks
	$(BIN)/ruff format --check asyncfilter tests benchmarks

typecheck: $(DEV)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) build *.egg-info

bench: $(DEV)
	$(BIN)/python -m benchmarks

bench-quick: $(DEV)
	$(BIN)/python -m benchmarks --quick
