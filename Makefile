# roundup: `make demo` and `make test` each set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Four workers on two cores: most tests wait on real processes, HTTP servers and
# databases rather than compute, so more workers than cores keep both cores busy.
PYTEST_ARGS ?= -n 4

.PHONY: install demo test lint typecheck pytest bench golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group dev
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/roundup demo

lint: install
	$(VENV)/bin/ruff check bot tests bench
	$(VENV)/bin/ruff format --check bot tests bench

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet --group bench
	touch $(BENCH_STAMP)

# Every bench/bench_*.py, then one table of their figures (bench/run.py).
bench: $(BENCH_STAMP)
	$(PY) bench/run.py

golden: install
	ROUNDUP_UPDATE_GOLDEN=1 $(PY) -m pytest tests -k golden

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
