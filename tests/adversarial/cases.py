"""The adversarial class: one hostile or broken submission per case, plus a control student.

Every attacker writes ``rnn_cell_forward`` and ``lstm_cell_forward`` correctly
(``HONEST``: 20 points that must still be credited) and tries to get the other
80 points without earning them, or to do damage. ``write_class`` writes the
submissions of a course (``submitted/<student>/rnn_lstm/``); the attacks
target the course given there (a scratch copy in the tests).
"""

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnncourse import ASSIGNMENT, FUNCTIONS
from rnncourse.client import testcases
from rnncourse.content import reference

from . import attacks, inject

HONEST = ("rnn_cell_forward", "lstm_cell_forward")
CARRIER = "rnn_forward"  # the solution cell that carries the attack
CONTROL = "control"
MARKER_RE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
STRIKE_DELAY = 6


@dataclass
class Case:
    """One hostile submission.

    ``build(ctx)`` returns ``{file name: bytes}`` for the student's folder.
    ``max_points``/``min_points``: bounds on the final points per function
    (defaults: exactly the honest 20). ``error``: a per-student error is
    expected instead of grades. ``stock``: safe to run with stock nbgrader
    (unconfined) on this machine; ``stock_limits``: extra limits put around
    stock nbgrader for that run.
    """

    name: str
    what: str
    build: object
    max_points: dict = field(default_factory=lambda: honest_points())
    min_points: dict = field(default_factory=lambda: honest_points())
    error: bool = False
    stock: bool = True
    stock_note: str = ""
    leak_check: bool = False
    flagged: bool = False
    max_written_mib: int = None
    inert: bool = False


def honest_points(only=HONEST):
    return {fn: (float(testcases.POINTS[fn]) if fn in only else 0.0) for fn in FUNCTIONS}


BEFORE_ATTACK = honest_points(only=("rnn_cell_forward",))
"""Lower bound where the attack stops the in-kernel run or disables the student's own later
hidden tests from inside the kernel (input or AST transformers): the honest function graded
before the attack must be credited; the one after it may score 0, because its hidden test ran but
was disabled, and the lower verdict counts. (When the kernel dies or times out instead, the cells
it never reached are scored by the re-check alone, so all honest work counts.)"""


def zero_points():
    return {fn: 0.0 for fn in FUNCTIONS}


# ---------------------------------------------------------------- notebook building
class Context:
    """What the generators need: the release notebook, the solutions, the target course."""

    def __init__(self, course, release_dir, token, marker):
        self.course = str(course)
        self.release_dir = Path(release_dir)
        self.release = json.loads((self.release_dir / f"{ASSIGNMENT}.ipynb").read_text())
        self.solutions = {fn: MARKER_RE.sub("", src) for fn, src in reference.solution_sources().items()
                          if fn in FUNCTIONS}
        self.token = token
        self.marker = str(marker)

    def files(self, notebook_bytes, name=f"{ASSIGNMENT}.ipynb"):
        out = {f.name: f.read_bytes() for f in self.release_dir.iterdir()
               if f.is_file() and f.name != f"{ASSIGNMENT}.ipynb"}
        if notebook_bytes is not None:
            out[name] = notebook_bytes
        return out

    def fill(self, sources):
        """The release notebook with solution cells from ``sources`` (others left blank)."""
        nb = copy.deepcopy(self.release)
        for cell in nb["cells"]:
            md = cell.get("metadata", {}).get("nbgrader", {})
            if md.get("solution") and md.get("grade_id") in sources:
                cell["source"] = sources[md["grade_id"]]
        return nb

    def attack(self, name, **subst):
        return attacks.ALL[name].substitute(COURSE=self.course, TOKEN=self.token, MARKER=self.marker,
                                            SELF="adv_write_course", **subst)

    def honest(self):
        return {fn: self.solutions[fn] for fn in HONEST}

    def with_attack(self, *names, zeros=False, blank_rest=False, **subst):
        """Honest functions, the attack code in the carrier cell.

        ``zeros``: the carrier also defines shape-correct zero answers for the
        other attacked functions; ``zeros`` or ``blank_rest``: their own cells
        are emptied (so they do not redefine what the carrier defined).
        """
        sources = self.honest()
        code = "\n\n".join(self.attack(n, **subst) for n in names)
        if zeros:
            code += "\n\n" + attacks.ZEROS
        if zeros or blank_rest:
            sources.update({fn: "# written in the rnn_forward cell\n" for fn in FUNCTIONS
                            if fn not in HONEST and fn != CARRIER})
        sources[CARRIER] = code
        return self.fill(sources)


def dump(nb):
    return json.dumps(nb, indent=1).encode()


# ---------------------------------------------------------------- the cases
def _nb(fn):
    return lambda ctx: ctx.files(dump(fn(ctx)))


def _edited_tests(ctx):
    nb = ctx.fill(ctx.honest())
    for cell in nb["cells"]:
        md = cell.get("metadata", {}).get("nbgrader", {})
        gid = md.get("grade_id", "")
        if gid == "rnn_forward_hidden":
            cell["source"] = "15"
            md["points"] = 1000
        elif gid == "lstm_forward_hidden":
            cell["source"] = "pass"
        elif gid == "rnn_backward_hidden":
            md["grade"] = False
            cell["source"] = "rnn_backward = None"
        elif gid == "rnn_cell_forward_visible":
            cell["source"] = "print('fine')"
    return nb


def _deleted_tests(ctx):
    nb = ctx.fill(ctx.honest())
    gone = {"rnn_cell_forward_hidden", "rnn_cell_forward_visible", "rnn_forward_hidden"}
    nb["cells"] = [c for c in nb["cells"]
                   if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in gone]
    return nb


def _duplicated_tests(ctx):
    nb = ctx.fill(ctx.honest())
    out = []
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid in ("rnn_forward_hidden", "rnn_cell_forward_hidden"):
            fake = copy.deepcopy(cell)
            fake["source"] = "10"
            out.append(fake)
        out.append(cell)
    nb["cells"] = out
    return nb


def _non_utf8(ctx):
    raw = dump(ctx.fill(ctx.honest()))
    return ctx.files(raw.replace(b"YOUR CODE HERE", b"YOUR CODE \xff\xfe HERE", 1))


def _wrong_format(ctx):
    nb = ctx.fill(ctx.honest())
    nb["nbformat"] = 99
    return ctx.files(dump(nb))


def _enormous(ctx):
    nb = ctx.fill(ctx.honest())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "y" * (120 * 1024 ** 2)})
    return ctx.files(dump(nb))


def _flood(ctx):
    return ctx.files(dump(ctx.with_attack("FLOOD", LINES=100_000)))


def _mutate(ctx):
    nb = ctx.with_attack("MUTATE", zeros=True)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == CARRIER:
            cell["source"] += "\n\n" + attacks.MUTATE_WRAP
    return ctx.files(dump(nb))


def _lock_channel(ctx):
    sources = {"lstm_cell_forward": ctx.solutions["lstm_cell_forward"],
               "rnn_cell_forward": ctx.attack("LOCK_CHANNEL")}
    return ctx.files(dump(ctx.fill(sources)))


def _shadow_module(ctx):
    return {**ctx.files(dump(ctx.fill(ctx.honest()))), "rnncourse.py": ctx.attack("SHADOW_MODULE").encode()}


def _output_kinds(ctx):
    nb = ctx.fill(ctx.honest())
    big = 30 * 1024 ** 2
    extra = [f"'v' * {big}"] * 3 + [f"raise ValueError('e' * {big})"]
    at = next(i for i, c in enumerate(nb["cells"])
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == CARRIER)
    nb["cells"][at + 1:at + 1] = [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
                                   "execution_count": None} for src in extra]
    return ctx.files(dump(nb))


CASES = [
    Case("input_transformer", "IPython input transformer turns later cells (hidden tests) into `pass`",
         _nb(lambda ctx: ctx.with_attack("INPUT_TRANSFORMER")),
         flagged=True,
         min_points=BEFORE_ATTACK),
    Case("ast_transformer", "IPython AST transformer replaces every call check(fn) by fn's full points",
         _nb(lambda ctx: ctx.with_attack("AST_TRANSFORMER")),
         flagged=True,
         min_points=BEFORE_ATTACK),
    Case("settrace", "sys.settrace hook rewrites the points inside check()",
         _nb(lambda ctx: ctx.with_attack("SETTRACE", zeros=True)),
         flagged=True),
    Case("numpy_patch", "numpy comparison and testing functions monkeypatched (np.all is always True)",
         _nb(lambda ctx: ctx.with_attack("NUMPY_PATCH", zeros=True))),
    Case("builtins_patch", "builtins sum/print monkeypatched (every output counted as correct)",
         _nb(lambda ctx: ctx.with_attack("BUILTINS_PATCH", zeros=True))),
    Case("array_tricks", "ndarray subclass equal to everything; object overriding __array_function__",
         _nb(lambda ctx: ctx.with_attack("ARRAY_TRICKS"))),
    Case("non_arrays", "functions return lists, None, strings, numbers, NaN",
         _nb(lambda ctx: ctx.with_attack("NON_ARRAYS"))),
    Case("read_instructor", "searches the disk for the master notebook, reference data, gradebook, "
         "secrets; runs the solutions it finds",
         _nb(lambda ctx: ctx.with_attack("READ_INSTRUCTOR", blank_rest=True)),
         leak_check=True),
    Case("write_course", "deletes/overwrites gradebook, source, release, other students' folders, "
         "reference data", _nb(lambda ctx: ctx.with_attack("WRITE_COURSE"))),
    Case("mutate", "zeroes its inputs in place and the cached reference arrays, answers zeros",
         _mutate),
    Case("os_exit", "rnn_forward calls os._exit(0) (kernel dies in its hidden test)",
         _nb(lambda ctx: ctx.with_attack("OS_EXIT"))),
    Case("sys_exit", "sys.exit() in a cell and SystemExit raised by functions",
         _nb(lambda ctx: ctx.with_attack("SYS_EXIT"))),
    Case("kill_kernel", "rnn_forward SIGKILLs its parent process, then itself",
         _nb(lambda ctx: ctx.with_attack("KILL_KERNEL")),
         stock_note="the kernel's parent is the nbgrader process itself"),
    Case("sigint_loop", "rnn_forward ignores SIGINT and loops forever",
         _nb(lambda ctx: ctx.with_attack("SIGINT_LOOP"))),
    Case("signals_loop", "rnn_forward ignores SIGINT/SIGALRM/SIGTERM, swallows exceptions, loops",
         _nb(lambda ctx: ctx.with_attack("SIGNALS_LOOP"))),
    Case("sleep", "rnn_forward sleeps past every timeout",
         _nb(lambda ctx: ctx.with_attack("SLEEP"))),
    Case("memory", "rnn_forward allocates memory until it fails",
         _nb(lambda ctx: ctx.with_attack("MEMORY")),
         stock_note="stock run under `prlimit --as=6GiB` (unbounded it would exhaust the host)"),
    Case("output_flood", "a cell prints 100 MB", _flood),
    Case("disk_fill", "writes 64 MiB files into its working directory, 1 GiB in all",
         _nb(lambda ctx: ctx.with_attack("DISK_FILL", FILES=16)), max_written_mib=256),
    Case("lingering_child", f"a double-forked, setsid child sleeps {STRIKE_DELAY} s, then deletes the "
         "gradebook and source and writes a marker", _nb(lambda ctx: ctx.with_attack(
             "LINGERING_CHILD", DELAY=STRIKE_DELAY))),
    Case("judge_abuse", "talks to the judge directly: malformed, oversized and pickled messages, the "
         "reference cell out of turn and 1000 times", _nb(lambda ctx: ctx.with_attack("JUDGE_ABUSE"))),
    Case("lock_channel", "rnn_cell_forward unimplemented: the kernel gets its answers from the "
         "reference cell of rnn_forward (a running state solved for the cell's own pre-activation), "
         "passes them to the re-check through POSIX locks on a shared read-only file, exits before "
         "any test cell", _lock_channel,
         max_points=honest_points(only=("lstm_cell_forward",)),
         min_points=honest_points(only=("lstm_cell_forward",))),
    Case("forged_progress", "in the re-check, rnn_forward sends malformed progress messages (no "
         "function name, a cell without index) on the driver's own connection, then kills its process",
         _nb(lambda ctx: ctx.with_attack("FORGED_PROGRESS"))),
    Case("shadow_module", "a file rnncourse.py beside the notebook that kills whatever imports it",
         _shadow_module),
    Case("output_kinds", "three cells whose values are 30 MB each and a cell raising a 30 MB error",
         _output_kinds),
    Case("cpu_spin", "62 processes spinning in the kernel and in the re-check",
         _nb(lambda ctx: ctx.with_attack("CPU_SPIN")), min_points=zero_points(),
         stock_note="62 spinning processes on the grader's machine"),
    Case("inject", "outputs and markdown carry scripts (script, onerror, javascript: links, JavaScript "
         "and widget outputs, SVG, Mermaid, raw cells) that mark grades full and write files when shown",
         inject.build, inert=True,
         stock_note="with the course's nbgrader_config.py; plain nbgrader (without its SafeOutputs lines) "
         "keeps every payload, and in headless Chromium 11 of them ran in the formgrader's submission view "
         "(each wrote a file into the course root through the contents API and set every grade of the "
         "submission to full marks: 20/100 became 100/100) and 10 in the feedback HTML"),
    Case("deleted_tests", "hidden and visible test cells deleted (rnn_cell_forward's and rnn_forward's)",
         _nb(_deleted_tests)),
    Case("edited_tests", "hidden tests replaced by `15`/`pass`, points set to 1000, a test cell "
         "made ungraded, a visible test edited", _nb(_edited_tests)),
    Case("duplicated_tests", "fake copies (`10`) of hidden test cells put before the real ones",
         _nb(_duplicated_tests), max_points=honest_points()),
    Case("malformed_json", "the notebook is not JSON",
         lambda ctx: ctx.files(b'{"cells": [ {"cell_type": "code", oops'),
         max_points=zero_points(), min_points=zero_points(), error=True),
    Case("non_utf8", "the notebook holds bytes that are not UTF-8", _non_utf8,
         max_points=zero_points(), min_points=zero_points(), error=True),
    Case("wrong_nbformat", "nbformat 99", _wrong_format,
         max_points=zero_points(), min_points=zero_points(), error=True),
    Case("missing_notebook", "the notebook was renamed (my_rnn_lstm.ipynb)",
         lambda ctx: ctx.files(dump(ctx.fill(ctx.honest())), name="my_rnn_lstm.ipynb"),
         max_points=zero_points(), min_points=zero_points(), error=True),
    Case("enormous", "a 120 MB notebook", _enormous,
         max_points=zero_points(), min_points=zero_points(), error=True),
]

BY_NAME = {c.name: c for c in CASES}


def control_files(ctx):
    return ctx.files(dump(ctx.fill(ctx.solutions)))


def write_class(ctx, submitted, names=None):
    """Write the control student and the cases ``names`` (default: all) under ``submitted``."""
    submitted = Path(submitted)
    chosen = [BY_NAME[n] for n in names] if names else CASES
    students = {CONTROL: control_files(ctx)}
    for case in chosen:
        students[f"adv_{case.name}"] = case.build(ctx)
    for student, files in students.items():
        folder = submitted / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return chosen
