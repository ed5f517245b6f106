# Two commands for a new machine: `make demo` and `make test`. Both create/update .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed
# mtlkit is its own distribution (packaging/mtlkit builds the mtlkit/ package); gcdance (dancegen) requires it.
MTLKIT := packaging/mtlkit

.PHONY: setup demo test lint typecheck docs bench dist clean

setup: $(STAMP)

# torch==2.13.0 goes in first so that no later requirement pulls a CUDA build of a newer torch.
# mtlkit goes in editable from $(MTLKIT) in the same pip call as gcdance, so pip never looks for it on PyPI.
$(STAMP): pyproject.toml $(MTLKIT)/pyproject.toml $(PLUGINS) Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install "torch==2.13.0"
	$(PIP) install "setuptools>=77" wheel
	$(PIP) install --no-build-isolation -e ./$(MTLKIT) -e ".[dev]" $(foreach p,$(dir $(PLUGINS)),-e $(p))
	touch $@

demo: $(STAMP)
	$(VENV)/bin/dancegen demo --out demo_out

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy: strict for mtlkit and dancegen's public faces, the rest of dancegen non-strict ([tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(VENV)/bin/mypy

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet -d $(VENV)/site

test: $(STAMP) lint typecheck docs
	sh scripts/install_chromium.sh
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(PY) benchmarks/aggregators.py
	$(PY) benchmarks/backends.py

# Both wheels into dist/: mtlkit-*.whl (mtlkit/ only) and gcdance-*.whl (dancegen/ only). Stale build/ folders
# go first: setuptools would otherwise package files left there by an earlier build.
dist: $(STAMP)
	rm -rf build $(MTLKIT)/build dist/mtlkit-*.whl dist/gcdance-*.whl
	$(PIP) wheel --no-deps --no-build-isolation -w dist ./$(MTLKIT) .
	rm -rf build $(MTLKIT)/build

clean:
	rm -rf $(VENV) site .pytest_cache build $(MTLKIT)/build dist
