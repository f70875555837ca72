# The course's commands. `make demo` and `make test` are the two a newcomer needs.
# Every target creates .venv from the pinned list first if needed, and puts
# .venv/bin first on PATH (nbgrader runs `alembic` by name).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint refdata release check-release grade bench lab pins clean-demo browser-deps figures

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null || { \
	    echo "make setup needs Python 3.11 or later, and '$(PYTHON)' is $$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found')." \
	      "Install Python 3.11 (Debian 12: apt-get install python3 python3-venv) or name one:" \
	      "make setup PYTHON=/path/to/python3.11" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-build-isolation -c requirements.txt -e '.[oracle]'
	@touch $@

## The course's main job, end to end, on a sample class in a course of its own (demo/).
demo: $(STAMP)
	$(BIN)/python -m rnncourse.cli demo

## Remove what `make demo` built (demo/, git-ignored); the course's own folders are not touched.
clean-demo:
	rm -rf demo

## Lint, then the whole test suite.
test: $(STAMP) lint browser-deps
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check rnncourse tests source/rnn_lstm/rnn_utils.py nbgrader_config.py docs/img
	$(BIN)/python -m rnncourse.cli check-notebooks

## JupyterLab for a self-learner on a private copy (lab/, git-ignored) of the student notebook
## and the self-study notebooks; prints the URL (127.0.0.1; LAB_PORT=N to choose the port).
lab: $(STAMP)
	$(BIN)/python -m rnncourse.lab

## Debian's chromium for the browser test (tests/test_browser.py); playwright drives it.
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "The browser test needs Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

## Regenerate the README figures in docs/img/ from the self-study code (rnncourse/seqlab.py).
figures: $(STAMP)
	$(BIN)/python docs/img/make_figures.py

## Regenerate the reference arrays from the master notebook (fixed seeds).
refdata: $(STAMP)
	$(BIN)/python -m rnncourse.refdata

## Regenerate release/rnn_lstm with stock nbgrader.
release: $(STAMP)
	$(BIN)/python -m rnncourse.cli release

## Fail if release/ differs from a fresh generation from source/ or leaks anything.
check-release: $(STAMP)
	$(BIN)/python -m rnncourse.cli check-release

## Grade every submission in submitted/ (WORKERS=N, SCHEDULER=tcp://host:port, FORCE=1,
## UNSAFE_NO_SANDBOX=1 for trusted submissions only, GRADE_ARGS="..." for more; see README).
grade: $(STAMP)
	$(BIN)/python -m rnncourse.cli grade --root "$(or $(RNNCOURSE_ROOT),$(CURDIR))" \
		$(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(filter-out 0,$(FORCE)),--force) $(GRADE_ARGS)

## Stock nbgrader autograde vs make grade on the same synthetic class of 24 (BENCH_ARGS="...").
bench: $(STAMP)
	$(BIN)/python -m rnncourse.cli bench $(BENCH_ARGS)

## Re-pin requirements.txt from what .venv holds (keeps the header comment).
pins:
	grep '^#' requirements.txt > requirements.txt.new
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -i -E '^(pip|torch|rnncourse)==' >> requirements.txt.new
	mv requirements.txt.new requirements.txt
