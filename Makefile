# The documented entry points. Needs only Python 3.11+ and access to PyPI:
# uv is installed from PyPI into .tools/ when it is not on PATH, and uv never downloads a Python.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
# Write .pyc files at install time: this environment may set PYTHONDONTWRITEBYTECODE, and
# every kfp.local task is a fresh Python that would otherwise recompile kfp and sklearn.
export UV_COMPILE_BYTECODE := 1
export UV_PYTHON ?= $(PYTHON)

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --locked --quiet

.PHONY: help sync demo check test lint hooks format catalog compile bench bench-tests mutation clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

sync: $(UV) ## Install the project and its tools into .venv from uv.lock
	$(UV) sync --locked --quiet

demo: sync ## Run the training pipeline on this machine (kfp.local) and print the run
	$(RUN) kfp-gcp pipelines run training --local

# Tests run on every core; modules whose tests share an expensive fixture stay on one
# worker (pytest.mark.xdist_group). The fast tier leaves out tests marked slow (README).
PYTEST_PARALLEL := -n auto --dist loadgroup

check: lint ## The fast answer before a push: lint, then the tests not marked slow
	$(RUN) pytest $(PYTEST_PARALLEL) -m "not slow" -q

test: sync ## Run the whole test suite (what CI runs), then list the ten slowest tests
	$(RUN) pytest $(PYTEST_PARALLEL) --durations=10

lint: sync ## The pre-commit hooks on every file: ruff, mypy, terraform fmt, actionlint, YAML, catalog
	$(RUN) pre-commit run --all-files --show-diff-on-failure

hooks: sync ## Install the pre-commit hooks: the same checks as `make lint`, before each commit
	$(RUN) pre-commit install

format: sync ## Fix what ruff can fix
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

compile: sync ## Compile every pipeline into build/pipelines
	$(RUN) kfp-gcp pipelines compile

catalog: sync ## Regenerate docs/catalog.md
	$(RUN) kfp-gcp components catalog

bench: sync ## Measure CLI start-up and deploy at 100 pipelines (figures, not tests)
	$(RUN) python benchmarks/cli_startup.py
	$(RUN) python benchmarks/publish_scale.py

# MUTATION_ARGS: e.g. --module publish, --sample 100 --seed 7, --jobs 2 (tests/mutation).
mutation: sync ## Mutation testing of the code that writes to live systems (slow: about an hour)
	nice -n 10 $(RUN) python -m tests.mutation $(MUTATION_ARGS)

REFS ?= HEAD~1 HEAD
bench-tests: sync ## Time the quick answer and `make test` at REFS="<old> <new>" (slow: ~40 min)
	$(RUN) python benchmarks/test_suite.py $(REFS)

clean: ## Remove build outputs and local runs
	rm -rf build
