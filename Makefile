# The one entry point for people, CI and the README.
#   make test    install what the tests need (system packages, the venv) and run every test
#   make run     install the venv and run profbot (serve + a runner on this host) from .env
#   make check   ruff (format + lint), mypy --strict, the import layers (import-linter), module size
#   make bench   benchmarks under bench/

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := bot handlers profbot runner

.PHONY: setup system-packages test check fmt run serve runner bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-packages:
	bash deploy/install-system-packages.sh

test: system-packages setup
	$(PY) -m pytest -ra

check: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict $(PACKAGES)
	$(VENV)/bin/mypy tests bench
	$(VENV)/bin/lint-imports
	$(PY) deploy/check-module-size.py $(PACKAGES)

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# profbot's main job on one machine: the Slack-facing service and this host's runner.
run: system-packages setup
	$(VENV)/bin/profbot up

serve: setup
	$(VENV)/bin/profbot serve

runner: setup
	$(VENV)/bin/profbot runner

bench: system-packages setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
