# Everything runs inside a local virtual environment that this Makefile creates on first use,
# so a fresh clone needs nothing but python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo review-demo test lint typecheck check bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[emulator,review,browser,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/asyncfilter demo

# The demo sweep, then its review page on 127.0.0.1 until Ctrl+C.
review-demo: $(STAMP)
	$(BIN)/asyncfilter demo --review

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check asyncfilter tests benchmarks
	$(BIN)/ruff format --check asyncfilter tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) build *.egg-info

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick
