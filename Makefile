# Two commands do all set-up on a fresh Debian machine:
#   make run    bootstrap .venv, install, initialise the database, serve the example authority
#   make test   bootstrap .venv, install test needs (PostgreSQL, Redis from Debian), run the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HEROLD_CONFIG ?= config/herold.example.toml

.PHONY: run test test-fast lint bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Herold needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/apt-install python3-venv  # Debian splits venv out
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/herold check-config
	$(BIN)/herold db upgrade
	$(BIN)/herold serve

test: $(STAMP)
	scripts/install-test-services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

# The inner loop: no PostgreSQL, Redis or Celery, no end-to-end runs; `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not postgres and not redis and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	scripts/install-test-services
	$(BIN)/python benchmarks/run_all.py

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade -e '.[test]'
	{ echo "# The versions Herold's test suite last passed with (pip install -c constraints.txt)."; \
	  echo "# Regenerate after changing dependencies: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^herold'; } > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
