# The README's two commands are `make book` and `make test`.
# Everything runs inside ./.venv, created from requirements.txt on first use, at the
# exact versions in constraints.txt (those the committed outputs were executed with).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CONSTRAINTS := constraints.txt
# The book's browser runtime (widgets, MathJax), from npm; see _ext/book_runtime.py.
NPM_STAMP := node_modules/.package-lock.json

# Book build: offline, every warning is an error.
JB_FLAGS := -W -n --keep-going
# The test command: unit tests, nbval over every chapter (CI budget), browser tests.
PYTEST_ARGS := -n 2 --dist loadfile --nbval --nbval-current-env \
               --nbval-sanitize-with tests/nbval_sanitize.cfg tests chapters

# The built book; rebuilt only when what it is built from changed, so `make test`
# followed by `make book` (as in .ci/run) builds it once.
BOOK_STAMP  := _build/html/.built
BOOK_INPUTS := _config.yml _toc.yml intro.md references.md references.bib $(wildcard _static/*) $(wildcard chapters/*.ipynb) $(wildcard _ext/*.py _ext/*.js)

.PHONY: install book test unit execute verify-outputs reader-time release constraints clean
.DELETE_ON_ERROR:

install: $(STAMP) $(NPM_STAMP)

$(STAMP): requirements.txt $(CONSTRAINTS) pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c $(CONSTRAINTS)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Record the versions installed now as the ones the outputs are executed with
# (after a deliberate upgrade: pip install -U ..., make constraints, make execute).
constraints:
	{ echo "# Exact versions the committed chapter outputs were executed with (make constraints)."; \
	  echo "# make install / make execute use them; Colab and pip install -e . do not."; \
	  $(PY) -m pip freeze --exclude-editable --exclude cnn-book-helpers; } > $(CONSTRAINTS)

# npm ci rewrites node_modules/.package-lock.json, so this reruns only when the lockfile changes.
$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed for the book's widget runtime: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

book: $(BOOK_STAMP)

$(BOOK_STAMP): $(STAMP) $(NPM_STAMP) $(BOOK_INPUTS)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	touch $@
	@echo "The book is in _build/html/index.html"

test: book
	CNN_BOOK_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

# The quick run while editing helpers/ or tools/: their unit tests alone, no chapter, no
# browser, no git or pip (the `slow` and `browser` markers, tests/conftest.py).
unit: install
	CNN_BOOK_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m "not slow and not browser" tests

# Re-run chapters and write their outputs back (all of them, or NB=chapters/x.ipynb).
# The tool runs them with one torch thread (OMP_NUM_THREADS=1): training results then do
# not depend on the machine's core count, so a rerun reproduces the committed numbers.
execute: install
	$(PY) -m tools.notebooks execute $(NB)

# Maintainers, not CI (CI has no full data or runs): re-execute the chapters at full budget,
# loading their runs from the store, and compare every output with the committed one.
verify-outputs: install
	$(PY) -m tools.notebooks verify $(NB)

# How long each chapter takes a reader with the published runs (benchmarks/README.md).
reader-time: install
	$(PY) -m benchmarks.reader_time $(CHAPTERS)

# Pack the runs the chapters load (tools.publish), bump helpers.__version__, sync every setup cell, commit and tag v$(VERSION) (Colab clones the tag).
release: install
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=0.2.0" >&2; exit 1; }
	$(PY) -m tools.notebooks release $(VERSION)

clean:
	rm -rf _build
