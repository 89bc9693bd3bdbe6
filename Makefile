# The one entry point for people, CI and the README.
#   make test    install what the tests need (system packages, the venv) and run every test
#   make run     install what profbot needs and run it here: `profbot up` (Slack, or the shell)
#   make check   ruff (format + lint), mypy --strict, the import layers (import-linter), module size
#   make bench   benchmarks under bench/

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := bot handlers profbot runner

.PHONY: setup system-packages run-packages test check fmt run serve runner bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-packages:
	bash deploy/install-system-packages.sh test

run-packages:
	bash deploy/install-system-packages.sh run

# The suite runs on TEST_WORKERS pytest-xdist workers (each with a podman rig of its own): its tests
# mostly wait on podman, processes and Redis, so more workers than the two cores pay; an idle worker
# takes queued tests from a busy one (worksteal), so no long test is left waiting at the end.
# TEST_WORKERS=0: serially.
TEST_WORKERS ?= 6
test: system-packages setup
	$(PY) -m pytest -ra -n $(TEST_WORKERS) --dist worksteal --durations=25

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

# profbot on this machine (`profbot up`): its own Redis, this host's runner, Slack or the shell.
run: run-packages setup
	$(VENV)/bin/profbot up

serve: setup
	$(VENV)/bin/profbot serve

runner: setup
	$(VENV)/bin/profbot runner

bench: system-packages setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
