"""Confinement and ``make grade`` when the venv, the course or Python is reached through links.

Three layouts, each built in a scratch directory around this checkout's venv
(no new install): a course whose ``.venv`` is a link to a venv elsewhere and
that is itself reached through a linked directory; a venv whose Python
installation is reached through a link (a hard-linked copy of this venv whose
``pyvenv.cfg`` and interpreter link name the installation by a linked path).
In each, the confinement probe passes, confined code imports numpy, sees no
more of the course than before and cannot touch the recreated links, and
``make grade`` gives the scores stock nbgrader gives, cell by cell.
Stock nbgrader's scores are those of the session's shared class (``tests/gradedclass.py``),
which holds the same two students.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnncourse.authoring import bench
from rnncourse.run import gradebook
from rnncourse.sandbox import hostlinks

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix).resolve()
BASE = Path(sys.base_prefix).resolve()
CLASS = {"correct": [], "two_mistakes": [("rnn_backward", "next_step_gradient_not_added"),
                                         ("lstm_cell_backward", "dc_next_ignored")]}


def test_symlinks_on_follows_relative_absolute_and_parent_links(tmp_path):
    real = tmp_path / "real"
    (real / "env" / "bin").mkdir(parents=True)
    (real / "env" / "bin" / "python3.11").touch()
    os.symlink("python3.11", real / "env" / "bin" / "python")     # relative, same directory
    os.symlink(str(real), tmp_path / "alias")                       # absolute
    (tmp_path / "course").mkdir()
    os.symlink("../alias/env", tmp_path / "course" / ".venv")      # relative, through ..
    links = hostlinks.symlinks_on(str(tmp_path / "course" / ".venv" / "bin" / "python"))
    real_tmp = os.path.realpath(tmp_path)
    assert links == [(f"{real_tmp}/course/.venv", "../alias/env"), (f"{real_tmp}/alias", str(real)),
                     (f"{real}/env/bin/python", "python3.11")]
    assert hostlinks.symlinks_on(str(real / "env")) == []
    os.symlink("loop", tmp_path / "loop")
    assert len(hostlinks.symlinks_on(str(tmp_path / "loop"), limit=5)) == 5


# ---------------------------------------------------------------- layouts
def _linked_venv_course(base):
    """``base/alias -> base/real``; ``base/real/course/.venv -> this venv``: the course path via the alias."""
    course = bench.make_course(base / "real" / "course", CLASS, timeout=10)
    os.symlink(VENV, course / ".venv")
    os.symlink(base / "real", base / "alias")
    return base / "alias" / "course", base / "alias" / "course" / ".venv"


def _linked_python_venv(base):
    """A hard-linked copy of this venv whose Python installation is named through ``base/python``."""
    course = bench.make_course(base / "course", CLASS, timeout=10)
    os.symlink(BASE, base / "python")
    venv = base / "venv"
    subprocess.run(["cp", "-al", str(VENV), str(venv)], check=True)
    cfg = (VENV / "pyvenv.cfg").read_text().replace(str(BASE), str(base / "python"))
    (venv / "pyvenv.cfg").unlink()  # a hard link to this venv's file: replace, never edit
    (venv / "pyvenv.cfg").write_text(cfg)
    exe = venv / "bin" / "python3"
    target = os.readlink(exe) if exe.is_symlink() else None
    assert target and os.path.realpath(exe).startswith(str(BASE)), \
        f"this venv's python3 is not a link into its installation ({target}): cannot build the layout"
    exe.unlink()
    os.symlink(str(base / "python" / os.path.relpath(os.path.realpath(exe.parent / target), BASE)), exe)
    return course, venv


LAYOUTS = {"linked venv and course": _linked_venv_course, "linked python install": _linked_python_venv}

INNER = """
import json, os, sys
import numpy
course = sys.argv[1]
seen = sorted(os.listdir(course)) if os.path.isdir(course) else None
tries = {}
for what, act in (("unlink", lambda: os.unlink(os.path.join(course, ".venv"))),
                  ("write", lambda: open(os.path.join(course, "x"), "w"))):
    try:
        act()
        tries[what] = "done"
    except OSError as exc:
        tries[what] = type(exc).__name__
print(json.dumps({"prefix": sys.prefix, "numpy": numpy.__file__, "seen": seen, "tries": tries}))
"""

OUTER = """
import json, subprocess, sys, tempfile
from rnncourse import sandbox
ok, how = sandbox.available()
out = None
if ok:
    with sandbox.Sandbox(tempfile.mkdtemp(prefix="rnncourse-links-")) as sb:
        proc = subprocess.run(sb.wrap([sys.executable, "-c", sys.argv[1], sys.argv[2]]),
                              capture_output=True, text=True, timeout=60)
        out = proc.stdout.strip() or proc.stderr.strip()
print(json.dumps({"ok": ok, "how": how, "out": out}))
"""


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("links")
    course, venv = LAYOUTS[request.param](base)
    # Left to pytest's rotation of temporary directories: removing the hard-linked venv
    # copy costs tens of seconds here, and it takes no disk space but inodes.
    return {"name": request.param, "course": course, "venv": venv}


def test_confined_code_runs_and_sees_no_more(layout):
    course, venv = layout["course"], layout["venv"]
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", OUTER, INNER, str(course)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    assert res["ok"], res["how"]
    inner = json.loads(res["out"])
    assert inner["prefix"] == str(venv)
    assert inner["numpy"].startswith(str(venv))
    # The course directory holds nothing but the link to the venv, when that is in it.
    assert inner["seen"] == ([".venv"] if (course / ".venv").exists() else None)
    assert inner["tries"]["unlink"] != "done" and inner["tries"]["write"] != "done", inner


@pytest.fixture(scope="module")
def stock(stock_graded):
    """Stock nbgrader's grades of these students: the shared class of ``tests/gradedclass.py``."""
    return gradebook.grades(f"sqlite:///{stock_graded.root / 'gradebook.db'}", students=set(CLASS))


def test_make_grade_through_links_scores_like_stock(layout, stock):
    course, venv = layout["course"], layout["venv"]
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, course / name)
    (course / ".stamp").touch()
    env = {k: v for k, v in os.environ.items() if k not in ("RNNCOURSE_DB_URL", "VIRTUAL_ENV")}
    proc = subprocess.run(["make", "grade", f"VENV={venv}", "STAMP=.stamp", f"RNNCOURSE_ROOT={course}",
                           "GRADE_ARGS=--no-progress"], cwd=course, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cannot be confined" not in proc.stdout + proc.stderr
    ours = gradebook.grades(f"sqlite:///{course / 'gradebook.db'}", students=set(CLASS))
    assert set(stock) == set(CLASS)
    assert ours == stock
    assert sum(stock["correct"].values()) > sum(stock["two_mistakes"].values()) > 0
