# The one entry point for people, CI and the README.
#   make test    install what the tests need (system packages, the venv) and run every test
#   make run     install what profbot needs and run it here: `profbot up` (Slack, or the shell)
#   make check   ruff (format + lint), mypy --strict, the import layers (import-linter), module size
#   make bench   benchmarks under bench/
#   make docs    the documentation site (docs/, mkdocs.yml), served at http://127.0.0.1:8000

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := cli bot handlers profbot runner

.PHONY: setup system-packages run-packages test check fmt run serve runner bench docs docs-pictures clean

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
# mostly wait on podman, processes and Redis, so more workers than the two cores pay. Tests are
# handed out in tests/conftest.py's run order, slow kinds first, each worker kept two or three
# ahead (loadgroup; a module marked xdist_group goes to one worker whole); worksteal's first split
# gave one worker every fault test, and the longest then began six minutes in.
# TEST_WORKERS=0: serially.
# Compiled modules are kept (in __pycache__, ignored by git) even where the environment turns that
# off: six workers and some 450 profbot processes import the same code, and each would compile it
# again (a worker's collection: 4.3 s of CPU uncached, 1.9 s cached).
TEST_WORKERS ?= 6
test: system-packages setup
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -ra -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder \
		--durations=25

check: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict $(PACKAGES)
	$(VENV)/bin/mypy tests bench
	$(VENV)/bin/lint-imports
	$(PY) deploy/check-module-size.py $(PACKAGES)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

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

# The site, served with live reload; `make check` builds it with --strict (a broken link fails).
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# The picture on the README and the docs' home page, drawn by profbot's own bot/pictures.
docs-pictures: setup
	PYTHONPATH=. $(PY) docs/images/draw_flamegraph.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info site
