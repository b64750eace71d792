# The README's two commands are `make book` and `make test`.
# Everything runs inside ./.venv, created from requirements.txt on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The book's browser runtime (widgets, MathJax), from npm; see _ext/book_runtime.py.
NPM_STAMP := node_modules/.package-lock.json

# Book build: offline, every warning is an error.
JB_FLAGS := -W -n --keep-going
# The test command: unit tests, nbval over every chapter (CI budget), browser tests.
PYTEST_ARGS := -n 2 --dist loadfile --nbval --nbval-current-env \
               --nbval-sanitize-with tests/nbval_sanitize.cfg tests chapters

.PHONY: install book test execute clean

install: $(STAMP) $(NPM_STAMP)

$(STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# npm ci rewrites node_modules/.package-lock.json, so this reruns only when the lockfile changes.
$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed for the book's widget runtime: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

book: install
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "The book is in _build/html/index.html"

test: book
	CNN_BOOK_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

# Re-run chapters and write their outputs back (all of them, or NB=chapters/x.ipynb).
# One torch thread: training results then do not depend on the machine's core count
# (a different number of threads sums in a different order), so a rerun reproduces
# the committed numbers, which the prose quotes.
execute: install
	OMP_NUM_THREADS=1 $(PY) -m tools.notebooks execute $(NB)

clean:
	rm -rf _build
