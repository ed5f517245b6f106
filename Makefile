# Two commands for a new machine: `make demo` and `make test`. Both create/update .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint docs bench clean

setup: $(STAMP)

# torch==2.13.0 goes in first so that no later requirement pulls a CUDA build of a newer torch.
$(STAMP): pyproject.toml $(PLUGINS) Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install "torch==2.13.0"
	$(PIP) install "setuptools>=68" wheel
	$(PIP) install --no-build-isolation -e ".[dev]" $(foreach p,$(dir $(PLUGINS)),-e $(p))
	touch $@

demo: $(STAMP)
	$(VENV)/bin/dancegen demo --out demo_out

lint: $(STAMP)
	$(VENV)/bin/ruff check .

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet -d $(VENV)/site

test: $(STAMP) lint docs
	sh scripts/install_chromium.sh
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(PY) benchmarks/aggregators.py
	$(PY) benchmarks/backends.py

clean:
	rm -rf $(VENV) site .pytest_cache
