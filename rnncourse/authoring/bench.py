"""``make bench``: stock ``nbgrader autograde`` against ``make grade`` on the same synthetic class.

One run builds a scratch course (a copy of ``source/``, ``release/`` and
``nbgrader_config.py``) with a class of students written from the reference
solutions and the typical mistakes of :mod:`rnncourse.content.mistakes` (see
:func:`synthetic_students`), records the assignment in its gradebook once,
then grades the same class twice, each from a copy of that gradebook:

* with stock ``nbgrader autograde`` (one process, one notebook after another);
* with ``python -m rnncourse.cli grade`` (the runner, confined by default),
  once as stock does it (figures drawn) and once with ``--no-figures``.

It checks that every graded cell of every student got the same score from
both, and prints both wall times, the ratio, and where the time of one
submission goes (kernel start, imports, plots, the other cells, the rest).
"""

import argparse
import atexit
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from rnncourse import ASSIGNMENT, stocknbgrader
from rnncourse.authoring import sampleclass, scratchcourse
from rnncourse.content import mistakes
from rnncourse.run import gradebook


def synthetic_students(n=24):
    """``{student: [(function, mistake label), ...]}``: every 4th correct, the others 1-2 typical mistakes.

    Mistakes that patch a helper (not expressible as notebook source) are left out.
    """
    pool = [m for m in mistakes.MISTAKES if not m.patch]
    out = {}
    for i in range(n):
        if i % 4 == 0:
            out[f"student{i:03d}"] = []
            continue
        first = pool[(3 * i) % len(pool)]
        errs = [(first.fn, first.label)]
        if i % 3 == 0:
            second = next(m for m in pool[(5 * i) % len(pool):] + pool if m.fn != first.fn)
            errs.append((second.fn, second.label))
        out[f"student{i:03d}"] = errs
    return out


def _env():
    return stocknbgrader.venv_env(drop=["RNNCOURSE_DB_URL"], PYTHONUNBUFFERED="1")


def make_course(dest, students, source_root=None, timeout=None):
    """A scratch course at ``dest`` with ``students`` submitted and the assignment in its gradebook.

    Parameters
    ----------
    dest : str or Path
    students : dict
        ``{student: kind}`` for :func:`rnncourse.authoring.sampleclass.write_class`.
    source_root : str or Path, optional
        Course to copy (default: this package's).
    timeout : int, optional
        Per-cell timeout written into the scratch course's ``nbgrader_config.py``.
    """
    extra = "" if timeout is None else f"\nc.ExecutePreprocessor.timeout = {int(timeout)}\n"
    dest = scratchcourse.copy_course(dest, ("source", "release"), source_root, extra)
    sampleclass.write_class(dest / "submitted", students)
    course = gradebook.load_course(dest)
    key = _source_key(dest, course.course_id)
    cached = _SEEDED.get(key)
    if cached and Path(cached).exists():  # the same assignment was recorded already in this process
        shutil.copy(cached, dest / "gradebook.db")
    else:
        gradebook.ensure_assignment(course)
        if gradebook.sqlite_path(course.db_url) == dest / "gradebook.db":
            store = Path(tempfile.mkdtemp(prefix="rnncourse-seed-"))
            atexit.register(shutil.rmtree, store, True)
            _SEEDED[key] = shutil.copy(dest / "gradebook.db", store / "gradebook.db")
    return dest


_SEEDED = {}


def _source_key(root, course_id):
    import hashlib

    h = hashlib.sha256(course_id.encode())
    for p in sorted((Path(root) / "source").rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def clone_course(src, dest):
    """Copy a scratch course (submissions and gradebook, not results)."""
    return scratchcourse.copy_course(dest, ("source", "release", "submitted"), src,
                                     files=("gradebook.db",))


def run_stock(root, extra=()):
    """Stock ``nbgrader autograde`` on the whole class; returns (seconds, completed process)."""
    t = time.monotonic()
    proc = stocknbgrader.run(["autograde", ASSIGNMENT, *extra], root, _env())
    return time.monotonic() - t, proc


def run_runner(root, workers=None, extra=()):
    """``python -m rnncourse.cli grade`` on the whole class; returns (seconds, completed process)."""
    cmd = [sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root), "--no-progress",
           "--timings", *extra]
    if workers:
        cmd += ["--workers", str(workers)]
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True)
    return time.monotonic() - t, proc


def differences(db_a, db_b, students):
    """Cells whose score differs between two gradebooks: ``[(student, grade_id, a, b)]``."""
    a = gradebook.grades(db_a, students=set(students))
    b = gradebook.grades(db_b, students=set(students))
    diffs = []
    for s in students:
        cells = sorted(set(a.get(s, {})) | set(b.get(s, {})))
        if not cells:
            diffs.append((s, "(no grades)", None, None))
        for c in cells:
            x, y = a.get(s, {}).get(c), b.get(s, {}).get(c)
            if x is None or y is None or abs(x - y) > 1e-9:
                diffs.append((s, c, x, y))
    return diffs


def _ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def cell_breakdown(autograded_root, students):
    """Mean seconds per submission in: imports cell, plot cells, hidden tests, the other cells."""
    import nbformat

    sums = {"imports cell": 0.0, "plot cells": 0.0, "hidden test cells": 0.0, "other cells": 0.0}
    n = 0
    for s in students:
        path = Path(autograded_root) / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(str(path), as_version=4)
        n += 1
        for cell in nb.cells:
            ex = cell.metadata.get("execution", {})
            if cell.cell_type != "code" or "shell.execute_reply" not in ex:
                continue
            dt = _ts(ex["shell.execute_reply"]) - _ts(ex["iopub.execute_input"])
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            key = ("imports cell" if gid == "imports" else "plot cells" if "plot" in gid
                   else "hidden test cells" if gid.endswith("_hidden") else "other cells")
            sums[key] += dt
    return {k: v / max(n, 1) for k, v in sums.items()}


def kernel_start_costs(repeat=3):
    """Median seconds of a bare kernel's start to ready, ``import numpy``, ``import matplotlib.pyplot``."""
    from jupyter_client import KernelManager

    rows = []
    for _ in range(repeat):
        km = KernelManager(kernel_name="python3")
        t = time.monotonic()
        # log_level: not ipykernel's warning that a kernel started this way listens on TCP (it
        # only listens on localhost, for the three imports timed here); errors still show.
        km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:",
                                         "--IPKernelApp.log_level=ERROR"])
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            t1 = time.monotonic()
            kc.execute_interactive("import numpy", timeout=120)
            t2 = time.monotonic()
            kc.execute_interactive("import matplotlib.pyplot", timeout=120)
            t3 = time.monotonic()
            rows.append((t1 - t, t2 - t1, t3 - t2))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    rows.sort()
    mid = rows[len(rows) // 2]
    return {"kernel start to ready": mid[0], "import numpy": mid[1], "import matplotlib.pyplot": mid[2]}


VARIANTS = (
    ("make grade", ()),
    ("make grade --no-figures", ("--no-figures",)),
)
"""The runner's modes timed against stock: as stock (figures drawn), and figures built but not drawn."""


def _timings(stdout):
    """The ``--timings`` line of the runner's output as a dict."""
    for line in stdout.splitlines():
        if line.startswith("mean per-submission timings (s): "):
            items = line.split(": ", 1)[1].split(", ")
            return {k: float(v) for k, v in (item.rsplit(" ", 1) for item in items)}
    return {}


def _print_breakdown(runs, stock_root, names, t_stock):
    """Where one submission's time goes, stock against each run of the runner (mean over the class)."""
    n = len(names)
    print()
    print("where one submission's time goes (seconds, mean over the class):")
    costs = kernel_start_costs()
    stock_cells = cell_breakdown(stock_root / "autograded", names)
    cells = [cell_breakdown(root / "autograded", names) for _, root, _, _, _ in runs]
    head = f"  {'':36s}{'stock':>8s}" + "".join(f"{'runner' if i == 0 else 'no-figs':>9s}"
                                               for i in range(len(runs)))
    print(head)
    for k, v in costs.items():
        print(f"  {k + ' (bare kernel)':36s}{v:8.2f}")
    for k in stock_cells:
        print(f"  {'cells: ' + k:36s}{stock_cells[k]:8.2f}" + "".join(f"{c[k]:9.2f}" for c in cells))
    rest = t_stock / n - sum(stock_cells.values()) - costs["kernel start to ready"]
    print(f"  {'nbgrader overhead (the rest)':36s}{rest:8.2f}")
    for key, text in (("kernel_cpu", "CPU: kernel (start, warm-up, cells)"),
                      ("worker_cpu", "CPU: worker (nbclient, judge)"),
                      ("recheck_cpu", "CPU: re-check process / launcher"),
                      ("forked_cpu", "CPU: fork server (re-checks)"),
                      ("coordinator_cpu", "CPU: coordinator")):
        print(f"  {text:36s}{'':8s}" + "".join(f"{r[3].get(key, float('nan')):9.2f}" for r in runs))
    print(f"  {'wall time per submission':36s}{t_stock / n:8.2f}" + "".join(
        f"{r[2] / n:9.2f}" for r in runs))


def _more_rounds(args, seed, base, first_ratio):
    """Rounds 2.. of ``--rounds``: stock and the runner alternately first; False when one failed."""
    ratios = [first_ratio]
    for i in range(1, args.rounds):
        times = {}
        for who in (("ours", "stock") if i % 2 else ("stock", "ours")):
            root = clone_course(seed, base / f"round{i}-{who}")
            if who == "stock":
                times[who], proc = run_stock(root)
            else:
                times[who], proc = run_runner(root, args.workers, args.runner_args.split())
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:])
                print(f"round {i + 1}: {who} failed")
                return False
            shutil.rmtree(root, ignore_errors=True)
        ratios.append(times["stock"] / times["ours"])
        print(f"round {i + 1}: stock {times['stock']:.1f} s, make grade {times['ours']:.1f} s, "
              f"ratio {ratios[-1]:.2f}x", flush=True)
    print(f"ratios over {args.rounds} rounds: " + ", ".join(f"{r:.2f}x" for r in sorted(ratios))
          + f"; median {statistics.median(ratios):.2f}x")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rnncourse bench", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=24, help="class size (default 24)")
    parser.add_argument("--workers", type=int, default=None, help="runner workers (default: cores)")
    parser.add_argument("--keep", metavar="DIR", help="build the scratch courses in DIR and keep them")
    parser.add_argument("--runner-args", default="", help="extra arguments for `rnncourse.cli grade`")
    parser.add_argument("--only-default", action="store_true", help="skip the --no-figures run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time stock and `make grade` this many times in all, alternating which "
                        "goes first, and print every ratio and their median (shared machines are noisy)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    students = synthetic_students(args.students)
    names = sorted(students)
    variants = VARIANTS[:1] if args.only_default else VARIANTS
    tmp = None
    if args.keep:
        base = Path(args.keep)
        if base.exists():
            shutil.rmtree(base)
    else:
        tmp = tempfile.mkdtemp(prefix="rnncourse-bench-")
        base = Path(tmp)
    try:
        print(f"building a synthetic class of {len(names)} ({sum(not v for v in students.values())} correct, "
              f"the others with typical mistakes) in {base}", flush=True)
        seed = make_course(base / "seed", students)
        stock_root = clone_course(seed, base / "stock")
        print("grading with stock `nbgrader autograde` ...", flush=True)
        t_stock, p_stock = run_stock(stock_root)
        if p_stock.returncode != 0:
            print(p_stock.stdout[-3000:], p_stock.stderr[-3000:])
            print("stock nbgrader failed")
            return 1
        print(f"  {t_stock:.1f} s", flush=True)
        stock_db = f"sqlite:///{stock_root / 'gradebook.db'}"
        runs = []
        for i, (label, extra) in enumerate(variants):
            root = clone_course(seed, base / f"runner{i}")
            print(f"grading with `{label}` (python -m rnncourse.cli grade {' '.join(extra)}) ...", flush=True)
            t, proc = run_runner(root, args.workers, [*extra, *args.runner_args.split()])
            print("  " + proc.stdout.rstrip().replace("\n", "\n  "))
            if proc.returncode != 0:
                print(proc.stderr[-3000:])
                print("the runner failed")
                return 1
            print(f"  {t:.1f} s", flush=True)
            runs.append((label, root, t, _timings(proc.stdout),
                         differences(stock_db, f"sqlite:///{root / 'gradebook.db'}", names)))

        n_cells = sum(len(v) for v in gradebook.grades(stock_db).values())
        n = len(names)
        _print_breakdown(runs, stock_root, names, t_stock)
        print()
        print(f"{'stock nbgrader autograde:':32s}{t_stock:7.1f} s  ({n / t_stock * 60:5.1f} submissions/min)")
        for label, _, t, _, _ in runs:
            print(f"{label + ':':32s}{t:7.1f} s  ({n / t * 60:5.1f} submissions/min)  "
                  f"ratio {t_stock / t:.2f}x")
        bad = False
        for label, _, _, _, diffs in runs:
            if diffs:
                bad = True
                print(f"SCORES DIFFER ({label}) in {len(diffs)} cells:")
                for d in diffs[:20]:
                    print("  ", d)
        if bad:
            return 1
        print(f"scores identical to stock: {n_cells} graded cells of {n} students, in every run")
        if args.rounds > 1 and not _more_rounds(args, seed, base, t_stock / runs[0][2]):
            return 1
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
