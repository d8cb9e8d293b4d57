# One-command set-up: `make run` starts the app, `make test` runs every test (lint and the layer contract
# first), `make bench` prints speed figures.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# glibc would otherwise map/unmap every large activation buffer (1.2-1.6x slower training).
export MALLOC_MMAP_THRESHOLD_ ?= 1073741824
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824
# The interface the app listens on: loopback by default; `make run HOST=0.0.0.0` shares it on the
# network (then set MNIST_STUDIO_PASSWORD and MNIST_STUDIO_DATA_ROOTS, see the README).
HOST   ?= 127.0.0.1

.PHONY: run test test-fast lint bench venv browser clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.address $(HOST)

browser:
	bash scripts/install_browser.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: $(STAMP) browser lint
	bash scripts/install_postgres.sh
	$(PY) -m pytest

# The quick loop while editing: core and pages, no browser, nothing marked slow (under a minute).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache
