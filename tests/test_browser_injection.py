"""A real browser on the formgrader and the feedback of a class with a script-injecting submission.

The class of a scratch course is the ``inject`` case of the adversarial suite
(``tests/adversarial/inject.py``: scripts, event handlers, ``javascript:``
links, JavaScript, widget, SVG and Mermaid outputs, raw HTML in markdown and
raw cells; each payload marks the submission's grades full through the
formgrader's API and writes a file through the contents API). It is graded
twice: by stock ``nbgrader autograde`` with the course's ``nbgrader_config.py``,
then by ``make grade``; each time ``nbgrader generate_feedback`` follows, a
Jupyter server with the formgrader is started on 127.0.0.1 in the course root
(the instructor's session, logged in with its token), and headless Chromium
opens the submission view and the feedback page. No payload may run (no flag
set, no file written, the gradebook unchanged), and the honest output (text, a
plot, a table) must still show. Screenshots go to ``test-artifacts/browser/``.
"""

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from adversarial import cases as adv
from adversarial import inject
from adversarial.course import env_for, make, prepare_gradebook, run, scratch_course
from chromium import CHROMIUM, CHROMIUM_ARGS, stop_group

from rnncourse import ASSIGNMENT, sandbox
from rnncourse.selfstudy import lab

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.sandbox]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
STUDENT = f"adv_{inject.__name__.rsplit('.', 1)[-1]}"
GRADE_TIMEOUT = 600
SETTLE_MS = 1000
"""Time given to a page's scripts after it loaded (a payload's requests would be done by then)."""


def strip_course_safety(course):
    """Only to show that the test can fail: the course without its protections (not used by the tests)."""
    cfg = course / "nbgrader_config.py"
    cfg.write_text(cfg.read_text().split("# Nothing a submission outputs")[0])
    module = course / "rnncourse" / "safe_notebook.py"
    module.write_text(module.read_text() + "\n\ndef sanitize_json(text):\n    return text, []\n")


def gradebook_state(course):
    """Every grade and comment of every submission: ``{(student, name): (auto, manual, extra)}``."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for nb in gb.find_assignment(ASSIGNMENT).notebooks:
            for sub in nb.submissions:
                for g in sub.grades:
                    out[(sub.student.id, g.name)] = (g.auto_score, g.manual_score, g.extra_credit)
                for c in sub.comments:
                    out[(sub.student.id, "comment " + c.name)] = (c.auto_comment, c.manual_comment)
    return out


def submission_ids(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {STUDENT: gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT).id}


def grade(course, grader):
    """Grade the class with ``grader`` ("stock" or "make grade"), then generate the feedback."""
    if grader == "stock":
        cmd = ["nbgrader", "autograde", ASSIGNMENT, "--force"]
    else:
        cmd = make("grade", "WORKERS=2", "FORCE=1")
    code, seconds, out = run(cmd, course, GRADE_TIMEOUT)
    assert code == 0, f"{grader} failed:\n{out[-3000:]}"
    code, _, out = run(["nbgrader", "generate_feedback", ASSIGNMENT, "--force"], course, 300)
    assert code == 0, f"generate_feedback failed:\n{out[-3000:]}"


@contextlib.contextmanager
def formgrader(course, tmp):
    """A Jupyter server with the formgrader in ``course`` on 127.0.0.1; yields (base URL, token)."""
    port, token = lab.free_port(), secrets.token_hex(16)
    env = dict(env_for(course), JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"))
    log = open(tmp / f"server-{port}.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={course}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--ServerApp.open_browser=False", "--allow-root"],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("the server exited:\n" + (tmp / f"server-{port}.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.3)
        yield base, token
    finally:
        stop_group(proc)
        log.close()


def _look(page, url, shot):
    """Open ``url``; what ran, what shows."""
    page.goto(url, wait_until="load")
    page.wait_for_timeout(SETTLE_MS)
    table = page.locator("td", has_text=inject.TABLE_CELL)
    if table.count():
        table.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / shot), full_page=False)
    return {
        "ran": page.evaluate(f"() => (window.top.{inject.FLAG} || [])"),
        "text": inject.HONEST_TEXT in page.content(),
        "table": page.locator("td", has_text=inject.TABLE_CELL).count(),
        "plots": page.evaluate("() => [...document.images].filter(i => i.complete && i.naturalWidth > 100"
                               " && i.naturalHeight > 100).length"),
        "score_inputs": page.locator("input.score").count(),
    }


def views(course, tmp, label):
    """Open the formgrader's views and the feedback pages of both students; ``{view: _look(...)}``."""
    from playwright.sync_api import sync_playwright

    ids = submission_ids(course)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    profile = tempfile.mkdtemp(prefix="rnncourse-chromium-")
    try:
        with formgrader(course, tmp) as (base, token), sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1300, "height": 900}, timeout=60_000)
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{base}/formgrader?token={token}", wait_until="load")  # logs in (cookie)
                for student in ids:
                    url = f"{base}/formgrader/submissions/{ids[student]}/"
                    seen[f"formgrader {student}"] = _look(page, url, f"inject_{label}_fg_{student}.png")
                    feedback = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
                    shot = f"inject_{label}_fb_{student}.png"
                    seen[f"feedback {student}"] = _look(page, feedback.as_uri(), shot)
                time.sleep(0.5)  # a request sent at the last moment reaches the server
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return seen


def _write_student(ctx, course):
    """The hostile student alone (the adversarial suite grades it next to a control student)."""
    folder = course / "submitted" / STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, data in adv.BY_NAME["inject"].build(ctx).items():
        (folder / name).write_bytes(data)


def pwned_files(course):
    return sorted(str(p.relative_to(course)) for p in course.rglob(f"{inject.PWNED_FILE}*"))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("inject-browser")
    course = scratch_course(tmp / "course")
    prepare_gradebook(course)
    ctx = adv.Context(course, course / "release" / ASSIGNMENT, token="browser", marker=tmp / "marker")
    _write_student(ctx, course)
    return course, tmp


def _check(course, tmp, grader):
    grade(course, grader)
    before = gradebook_state(course)
    assert before[(STUDENT, "rnn_forward_hidden")][0] == 0.0, "the carrier cell earned points"
    seen = views(course, tmp, grader.replace(" ", "_"))
    assert {view: s["ran"] for view, s in seen.items()} == {view: [] for view in seen}, "a payload ran"
    assert pwned_files(course) == [], "a payload wrote a file"
    assert gradebook_state(course) == before, "the gradebook changed while the pages were open"
    for where in ("formgrader", "feedback"):
        s = seen[f"{where} {STUDENT}"]
        assert s["text"] and s["table"] == 1 and s["plots"] >= 1, f"honest output missing in the {where}: {s}"
    assert seen[f"formgrader {STUDENT}"]["score_inputs"] >= 8, "not the formgrader's grading page"


def test_stock_autograde_with_course_config(course):
    _check(*course, "stock")


def test_make_grade(course):
    ok, why = sandbox.available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"confinement unavailable in CI: {why}")
        pytest.skip(f"confinement unavailable: {why}")
    _check(*course, "make grade")


def main():
    """Show the test can fail: grade a copy of the course without its protections and report what ran.

    ``PYTHONPATH=tests .venv/bin/python tests/test_browser_injection.py [stock|"make grade"]...``
    """
    tmp = Path(tempfile.mkdtemp(prefix="rnncourse-inject-unsafe-"))
    course = scratch_course(tmp / "course")
    strip_course_safety(course)
    prepare_gradebook(course)
    ctx = adv.Context(course, course / "release" / ASSIGNMENT, token="browser", marker=tmp / "marker")
    _write_student(ctx, course)
    for grader in sys.argv[1:] or ["stock", "make grade"]:
        grade(course, grader)
        before = gradebook_state(course)
        seen = views(course, tmp, "unsafe_" + grader.replace(" ", "_"))
        changed = {k: (before.get(k), v) for k, v in gradebook_state(course).items() if before.get(k) != v}
        print(json.dumps({"grader": grader, "ran": {k: v["ran"] for k, v in seen.items()},
                          "files": pwned_files(course), "gradebook changes": len(changed)}, indent=1))
        for f in course.rglob(f"{inject.PWNED_FILE}*"):
            f.unlink()


if __name__ == "__main__":
    main()
