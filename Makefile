# scalable-app: every target installs what it needs into .venv by itself.
# ENV picks environments/$(ENV).toml; `local` runs against the moto emulator on this machine.
ENV ?= local
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

.DEFAULT_GOAL := help
.PHONY: help test lint fmt clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  ENV=$(ENV) (environments/<ENV>.toml; default local, the emulator on this machine)"

# The virtualenv is rebuilt when it is missing or older than any requirements file.
$(VENV)/.installed: requirements.txt requirements-dev.txt service/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

venv: $(VENV)/.installed ## Create or refresh .venv

lint: $(VENV)/.installed ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# ---- templates (issue 2) -------------------------------------------------------------

# ---- service (issue 3) ---------------------------------------------------------------

# ---- deploy (issue 4) ----------------------------------------------------------------

# ---- test: everything CI runs ----------------------------------------------------------
test: $(VENV)/.installed ## Lint, check every environment's templates, run the tests
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q

clean: ## Remove build output (keeps .venv)
	rm -rf build
