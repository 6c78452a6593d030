# Two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/dvae train quickstart --overwrite
	$(BIN)/dvae eval quickstart --no-test --metrics --fast
	$(BIN)/dvae plot quickstart all --show-loss
	@echo
	@echo "Done. In results/quickstart/:"
	@echo "  figures: $$(cd results/quickstart && ls *.png *.gif | tr '\n' ' ')"
	@echo "  numbers: train_losses.log, test_losses.log, metrics.log"
	@echo "Next:"
	@echo "  $(BIN)/dvae browse                      # every run, its curves, metrics and figures, in the terminal"
	@echo "  $(BIN)/dvae eval quickstart --metrics   # the full metrics (about 15 min on 2 cores)"
	@echo "  $(BIN)/dvae experiments list            # every preset"

# Before the suite, the package itself: lint (ruff), types at Python 3.10 (mypy), the layers of STYLE.md
# (lint-imports, contracts in pyproject.toml). Each keeps a cache, so a second run takes seconds.
test: install
	$(BIN)/ruff check dvae_cli dvae
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
