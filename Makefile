# The course's commands. `make demo` and `make test` are the two a newcomer needs.
# Every target creates .venv from the pinned list first if needed, and puts
# .venv/bin first on PATH (nbgrader runs `alembic` by name).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
STAMP  := $(VENV)/.installed
# The tests' extra: PyTorch, the oracle of tests/test_torch_oracle.py (754 MB). Only `make test`
# installs it; `make demo`, `make lab` and `make grade` run without it.
ORACLE := $(VENV)/.installed-oracle

.PHONY: setup setup-test demo test test-fast lint refdata release check-release grade report export roster bench lab pins clean-demo browser-deps figures hub hub-deps

setup: $(STAMP)

## The venv with the tests' extra as well (what `make test` runs in).
setup-test: $(ORACLE)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null || { \
	    echo "make setup needs Python 3.11 or later, and '$(PYTHON)' is $$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found')." \
	      "Install Python 3.11 (Debian 12: apt-get install python3 python3-venv) or name one:" \
	      "make setup PYTHON=/path/to/python3.11" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@# setuptools explains editable installs in a 10-line warning on every success; its output
	@# is kept in $(VENV)/install-course.log and shown only when the install fails.
	$(BIN)/python -m pip install -q --no-build-isolation -c requirements.txt -e . \
	  > $(VENV)/install-course.log 2>&1 || { cat $(VENV)/install-course.log; exit 1; }
	@touch $@

$(ORACLE): $(STAMP)
	$(BIN)/python -m pip install -q --no-build-isolation -c requirements.txt -e '.[oracle]' \
	  > $(VENV)/install-oracle.log 2>&1 || { cat $(VENV)/install-oracle.log; exit 1; }
	@touch $@

## The course's main job, end to end, on a sample class in a course of its own (demo/).
demo: $(STAMP)
	$(BIN)/python -m rnncourse.cli demo

## Remove what `make demo` built (demo/, git-ignored); the course's own folders are not touched.
clean-demo:
	rm -rf demo

## Lint, then the whole test suite: TEST_WORKERS pytest processes (default 2), each test file
## whole on one of them, the files that read the shared graded class together (docs/testing.md).
TEST_WORKERS ?= 2
test: $(ORACLE) lint browser-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

## The quick part of the suite, for working on the grader: no class graded through nbgrader, no
## browser, database server or hub (pytest -m; the markers are listed in pyproject.toml).
test-fast: $(ORACLE)
	$(BIN)/python -m pytest -q -m "not slow and not browser and not postgres and not hub"

lint: $(STAMP)
	$(BIN)/ruff check rnncourse tests source/rnn_lstm/rnn_utils.py nbgrader_config.py docs/img deploy/jupyterhub
	$(BIN)/lint-imports
	$(BIN)/python -m rnncourse.cli check-notebooks

## JupyterLab for a self-learner on a private copy (lab/, git-ignored) of the student notebook
## and the self-study notebooks; prints the URL (127.0.0.1; LAB_PORT=N to choose the port).
lab: $(STAMP)
	$(BIN)/python -m rnncourse.selfstudy.lab

## The course's JupyterHub on 127.0.0.1 with demo accounts, until Ctrl-C (as root; HUB_PORT=N).
## See docs/running-a-class.md. hub-deps builds its environments and proxy only (cached).
hub: hub-deps
	$(PYTHON) deploy/jupyterhub/hubkit.py demo $(if $(HUB_PORT),--port $(HUB_PORT))

hub-deps:
	@test -x /usr/bin/python3 && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; \
	  else echo "The hub needs Debian's python3 with venv: sudo apt-get install python3-venv" >&2; exit 1; fi; }
	$(PYTHON) deploy/jupyterhub/hubkit.py build

## Debian's chromium for the browser test (tests/test_browser.py); playwright drives it.
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "The browser test needs Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

## Regenerate the README figures in docs/img/ from the self-study code (rnncourse.selfstudy.seqlab).
figures: $(STAMP)
	$(BIN)/python docs/img/make_figures.py

## Regenerate the reference arrays from the master notebook (fixed seeds).
refdata: $(STAMP)
	$(BIN)/python -m rnncourse.content.refdata

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

## What the class got wrong: reports/rnn_lstm/index.html and mistakes.csv (after grading).
report: $(STAMP)
	$(BIN)/python -m rnncourse.cli report --root "$(or $(RNNCOURSE_ROOT),$(CURDIR))" $(REPORT_ARGS)

## Grades for the LMS with nbgrader's own export (LMS=canvas|moodle|csv; FUNCTIONS=1 adds a column
## per function; EXPORT_ARGS="--MoodleExport.key=idnumber" and other plugin options).
LMS ?= canvas
EXPORTER_canvas := CanvasExport
EXPORTER_moodle := MoodleExport
EXPORTER_csv    := FunctionsCsvExport
EXPORT_TO_canvas := grades-canvas.csv
EXPORT_TO_moodle := grades-moodle.csv
EXPORT_TO_csv    := grades.csv
export: $(STAMP)
	@test -n "$(EXPORTER_$(LMS))" || { echo "make export: LMS must be canvas, moodle or csv (got '$(LMS)')" >&2; exit 2; }
	cd "$(or $(RNNCOURSE_ROOT),$(CURDIR))" && $(BIN)/nbgrader export --log-level=WARN \
		--exporter rnncourse.reports.lmsexport.$(EXPORTER_$(LMS)) --to $(EXPORT_TO_$(LMS)) \
		$(if $(filter-out 0,$(FUNCTIONS)),--$(EXPORTER_$(LMS)).per_function=True) $(EXPORT_ARGS)
	@echo "wrote $(EXPORT_TO_$(LMS))"

## Students' LMS identities from a Canvas or Moodle roster CSV (FILE=roster.csv).
roster: $(STAMP)
	@test -n "$(FILE)" || { echo "make roster: say which file, e.g. make roster FILE=canvas-export.csv" >&2; exit 2; }
	$(BIN)/python -m rnncourse.cli roster "$(FILE)" --root "$(or $(RNNCOURSE_ROOT),$(CURDIR))" $(ROSTER_ARGS)

## Stock nbgrader autograde vs make grade on the same synthetic class of 24 (BENCH_ARGS="...").
bench: $(STAMP)
	$(BIN)/python -m rnncourse.cli bench $(BENCH_ARGS)

## Re-pin requirements.txt from what .venv holds (keeps the header comment).
pins:
	grep '^#' requirements.txt > requirements.txt.new
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -i -E '^(pip|torch|rnncourse)==' >> requirements.txt.new
	mv requirements.txt.new requirements.txt
