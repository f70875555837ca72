"""A real class on a real JupyterHub, in a real browser (pytest marker ``hub``).

The test builds the hub kit's environments (cached), creates three Linux users
(two students and an instructor), starts JupyterHub on 127.0.0.1 exactly as
``make hub`` does (``deploy/jupyterhub/hubkit.py``), and plays a class:

1. the instructor releases the assignment (nbgrader's commands, as that user);
2. each student logs in in headless Chromium, fetches the assignment from the
   Assignments tab, fills in some functions (through the Jupyter server's
   contents API, as that student), presses Validate and sees the unfinished
   functions named, and submits;
3. the instructor collects, grades with ``make grade`` (confined), generates
   and releases feedback; stock ``nbgrader autograde`` grades a copy of the
   course and must give the same scores;
4. each student fetches the feedback and sees a score per function and the
   diagnoses, and no instructor internals.

As a student user it then checks that the reference data, the master notebook,
the gradebook, the instructor environment, another student's home and
submissions are out of reach, that the course's exchange folder cannot be
renamed, and that the formgrader is not offered. Screenshots of every step go
to ``test-artifacts/hub/``. Needs root (useradd); outside CI it skips without.
"""

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

from rnncourse import FUNCTIONS
from rnncourse.authoring import sampleclass

pytestmark = [pytest.mark.slow, pytest.mark.hub, pytest.mark.browser, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "hub"
ASSIGNMENT = "rnn_lstm"
COURSE = "rnn-lstm"
NB_PATH = f"{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # a student's copy (path_includes_course)
# What each student writes: function -> mistake label (None: the reference solution).
WORK = {
    "a": {"rnn_cell_forward": None, "rnn_forward": None, "rnn_cell_backward": None,
          "rnn_backward": None},
    "b": {"rnn_cell_forward": "bias_forgotten", "rnn_forward": None},
}
INTERNALS = ["rnncourse/grading.py", "raise AssertionError(text)", "refdata.load()",
             "/opt/rnncourse", "rnncourse/verdicts/judge.py"]


def _hubkit():
    spec = importlib.util.spec_from_file_location("hubkit", ROOT / "deploy" / "jupyterhub" / "hubkit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hubkit = _hubkit()


def _can_create_users():
    return os.geteuid() == 0 and shutil.which("useradd") and shutil.which("runuser")


def as_user(dep, user, cmd, cwd=None, timeout=300, check=True):
    """Run ``cmd`` as ``user`` with the environment their hub server would have."""
    role = "instructor" if user in dep.instructors else "student"
    env = dep.to_dict()
    home = str(Path("~" + user).expanduser())
    envvars = {"HOME": home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
               "PATH": f"{env[role + '_env']}/bin:/usr/local/bin:/usr/bin:/bin",
               "JUPYTER_CONFIG_PATH": env[f"{role}_config_dir"], "NBGRADER_EXCHANGE": dep.exchange,
               "RNNCOURSE_COURSE_DIR": dep.course_dir if role == "instructor" else "",
               "VENV": env[f"{role}_env"]}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            envvars[key] = os.environ[key]
    proc = subprocess.run(["runuser", "-u", user, "--", "env", "-i",
                           *[f"{k}={v}" for k, v in envvars.items()], *cmd],
                          cwd=cwd or home, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        pytest.fail(f"{' '.join(cmd)} as {user} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                    f"{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def hub():
    """Users, course, exchange and a running hub; everything removed afterwards."""
    if not _can_create_users():
        if os.environ.get("CI") == "true":
            pytest.fail("the hub test must run in CI: it needs root, useradd and runuser")
        pytest.skip("needs root to create Linux users (runs in CI)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps`")
    tag = secrets.token_hex(3)
    students = {key: f"rnnt{tag}{key}" for key in WORK}
    instructor = f"rnnt{tag}i"
    base = Path(tempfile.gettempdir()) / f"rnncourse-hub-{tag}"
    dep = proc = None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "hub.log", "w+b")
    try:
        dep = hubkit.prepare(base, [instructor], list(students.values()))
        proc = hubkit.start(dep, log=log)
        hubkit.wait_ready(dep, proc, timeout=90)
        yield {"dep": dep, "students": students, "instructor": instructor, "log": log}
    finally:
        if dep is None:  # prepare failed half way: remove what it made
            for name in [instructor, *students.values()]:
                try:
                    hubkit.remove_user(name)
                except SystemExit:
                    pass
            shutil.rmtree(base, ignore_errors=True)
        else:
            hubkit.teardown(dep, proc)
        log.close()


@pytest.fixture(scope="module")
def browser(hub):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def _shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _login(browser, dep, *users):
    """Log the users in, each in a browser context of their own; their servers start at once."""
    pages = []
    for user in users:
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{dep.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", dep.password)
        page.click("#login_submit")
        pages.append(page)
    for user, page in zip(users, pages):
        page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=120_000)
        page.locator("#jp-MainMenu").wait_for(state="visible")
    return pages


def _nbgrader_menu(page, name):
    """The items of JupyterLab's Nbgrader menu (left open for a screenshot, then closed)."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    items = page.locator(".lm-Menu-content .lm-Menu-itemLabel")
    items.first.wait_for()
    _shot(page, name)
    labels = items.all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def _api(page, user, path, method="GET", body=None):
    """Call the user's Jupyter server from their logged-in page (cookie + XSRF token)."""
    return page.evaluate(
        """async ([url, method, body]) => {
            const xsrf = (document.cookie.split('; ').find(c => c.startsWith('_xsrf=')) || '=').split('=')[1];
            const r = await fetch(url, {method, headers: {'Content-Type': 'application/json',
                                        'X-XSRFToken': decodeURIComponent(xsrf)}, body});
            return {status: r.status, text: await r.text()};
        }""", [f"/user/{user}/api/{path}", method, body])


def _menu(page, menu, item):
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-content .lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def _assignments_tab(page):
    _menu(page, "Nbgrader", "Assignment List")
    panel = page.locator("#nbgrader-assignment-list, .nbgrader-assignment-list").first
    panel.wait_for(state="visible")
    return panel


def _fill(nb_json, key):
    """The student's notebook with their functions written (others left unfinished)."""
    nb = nbformat.from_dict(nb_json)
    errors = [(fn, label) for fn, label in WORK[key].items() if label]
    sources = sampleclass.student_sources(errors)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in WORK[key]:
            cell.source = sources[grade_id]
    return nb


def _scores(db_path, students):
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db_path}") as gb:
        for student in students:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            out[student] = {g.name: float(g.score or 0.0) for g in nb.grades}
    return out


def test_a_class_on_jupyterhub(hub, browser):
    dep, students, instructor = hub["dep"], hub["students"], hub["instructor"]
    course = Path(dep.course_dir)
    started = time.monotonic()
    steps = {}
    later = []  # failures that need not stop the flow, reported at the end

    # 1. The instructor releases the assignment.
    as_user(dep, instructor, ["nbgrader", "generate_assignment", ASSIGNMENT, "--force"], cwd=course)
    as_user(dep, instructor, ["nbgrader", "release_assignment", ASSIGNMENT], cwd=course)
    assert (Path(dep.exchange) / COURSE / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    page, *student_pages = _login(browser, dep, instructor, *students.values())
    assert "Formgrader" in _nbgrader_menu(page, "01_instructor_menu")
    page.goto(f"{dep.url}/user/{instructor}/formgrader/manage_assignments")
    page.get_by_text(ASSIGNMENT).first.wait_for()
    _shot(page, "01_instructor_formgrader")
    page.context.close()
    steps["release"] = time.monotonic() - started

    # 2. Each student fetches, works, validates, submits.
    pages = dict(zip(students, student_pages))
    for key, user in students.items():
        page = pages[key]
        offered = _nbgrader_menu(page, f"02_{key}_menu")
        assert "Assignment List" in offered
        instructor_tools = {"Formgrader", "Formgrader (local)", "Create assignment", "Course List"}
        assert not instructor_tools & set(offered), offered
        tab = _assignments_tab(page)
        tab.get_by_role("button", name="Fetch").first.click()
        tab.get_by_role("button", name="Submit").first.wait_for()
        _shot(page, f"02b_{key}_fetched")

        got = _api(page, user, f"contents/{NB_PATH}")
        assert got["status"] == 200, got
        nb = _fill(json.loads(got["text"])["content"], key)
        put = _api(page, user, f"contents/{NB_PATH}", "PUT",
                   json.dumps({"type": "notebook", "format": "json", "content": nb}))
        assert put["status"] == 200, put

        page.goto(f"{dep.url}/user/{user}/lab/tree/{NB_PATH}")
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible")
        page.get_by_role("button", name="Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(state="visible", timeout=180_000)
        dialog.get_by_text(re.compile("failed|error|not|Success", re.I)).first.wait_for(timeout=180_000)
        _shot(page, f"03_{key}_validated")
        report = dialog.inner_text()
        unfinished = [fn for fn in FUNCTIONS if fn not in WORK[key]]
        missing = [fn for fn in unfinished if fn not in report]
        if missing or "Success" in report:
            later.append(f"Validate of {user} does not name the unfinished {missing}:\n{report[:1500]}")
        dialog.get_by_role("button").last.click()

        tab = _assignments_tab(page)
        tab.get_by_role("button", name="Submit").first.click()
        tab.get_by_text(re.compile(r"\d{4}-\d\d-\d\d")).first.wait_for()
        _shot(page, f"04_{key}_submitted")
    steps["students work and submit"] = time.monotonic() - started

    # 3. The instructor collects, grades (make grade, confined), releases feedback;
    #    stock nbgrader autograde grades a copy of the course for comparison.
    as_user(dep, instructor, ["nbgrader", "collect", ASSIGNMENT], cwd=course)
    stock = course.parent / "stock-check"
    as_user(dep, instructor, ["cp", "-a", str(course), str(stock)])
    as_user(dep, instructor, ["nbgrader", "autograde", ASSIGNMENT], cwd=stock)
    graded = as_user(dep, instructor, ["make", "grade"], cwd=course)
    assert "graded 2, failed 0" in graded.stdout, graded.stdout + graded.stderr
    assert "unsafe" not in (graded.stdout + graded.stderr).lower()  # confined, not opted out
    as_user(dep, instructor, ["nbgrader", "generate_feedback", ASSIGNMENT], cwd=course)
    as_user(dep, instructor, ["nbgrader", "release_feedback", ASSIGNMENT], cwd=course)
    ours = _scores(course / "gradebook.db", students.values())
    theirs = _scores(stock / "gradebook.db", students.values())
    assert ours == theirs
    for key, user in students.items():
        for fn in FUNCTIONS:
            points = ours[user][f"{fn}_hidden"]
            if fn not in WORK[key]:
                assert points == 0, (user, fn)
            elif WORK[key][fn] is None:
                assert points > 0, (user, fn)
    assert ours[students["b"]]["rnn_cell_forward_hidden"] < ours[students["a"]]["rnn_cell_forward_hidden"]
    steps["collect, grade, feedback"] = time.monotonic() - started

    # 4. Each student fetches the feedback and reads it.
    for key, user in students.items():
        page = pages[key]
        page.goto(f"{dep.url}/user/{user}/lab")
        page.locator("#jp-MainMenu").wait_for(state="visible")
        tab = _assignments_tab(page)
        tab.get_by_role("button", name="Fetch Feedback").first.click()
        link = tab.get_by_text("view feedback")
        link.wait_for()
        link.click()  # the file browser goes to the feedback folder
        page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html").wait_for()
        _shot(page, f"05_{key}_feedback_fetched")
        folder = f"{COURSE}/{ASSIGNMENT}/feedback"
        stamps = json.loads(_api(page, user, f"contents/{folder}")["text"])["content"]
        assert len(stamps) == 1, stamps
        page.goto(f"{dep.url}/user/{user}/files/{folder}/{stamps[0]['name']}/{ASSIGNMENT}.html")
        page.get_by_text("rnn_cell_forward").first.wait_for()
        _shot(page, f"06_{key}_feedback")
        page.get_by_text("Test cell").first.click()  # the first hidden test: rnn_cell_forward
        _shot(page, f"07_{key}_feedback_rnn_cell_forward")
        text = page.inner_text("body")
        html = page.content()
        for fn in FUNCTIONS:
            assert f'check("{fn}"' in text or f"check('{fn}'" in text, fn
        total = sum(v for k, v in ours[user].items() if k.endswith("_hidden"))
        assert re.search(rf"Score:\s*{total:g}(\.0+)?\s*/\s*100", text), text[:2000]
        if key == "b" and "the bias b_a was forgotten" not in text:
            later.append(f"the feedback of {user} does not name the mistake in rnn_cell_forward")
        leaked = [s for s in INTERNALS + [dep.course_dir] if s in html]
        if leaked:
            later.append(f"feedback of {user} shows instructor internals: {leaked}")
        page.context.close()
    steps["feedback read"] = time.monotonic() - started

    # What a student can reach, as that Linux user with the student environment.
    a, b = students["a"], students["b"]
    probe = r"""
import json, os, sys
results = {}
def tries(name, fn):
    try:
        fn()
        results[name] = "reached"
    except (PermissionError, FileNotFoundError) as e:
        results[name] = type(e).__name__
course, exchange, other, ienv = sys.argv[1:5]
tries("reference data", lambda: open(os.path.join(course, "rnncourse/data/rnn_lstm_reference.npz"), "rb"))
tries("reference data dir", lambda: os.listdir(os.path.join(course, "rnncourse/data")))
tries("master notebook", lambda: open(os.path.join(course, "source/rnn_lstm/rnn_lstm.ipynb")))
tries("gradebook", lambda: open(os.path.join(course, "gradebook.db"), "rb"))
tries("instructor env", lambda: os.listdir(ienv))
tries("other home", lambda: os.listdir(other))
tries("other notebook", lambda: open(os.path.join(other, "rnn-lstm/rnn_lstm/rnn_lstm.ipynb")))
tries("inbound listing", lambda: os.listdir(os.path.join(exchange, "rnn-lstm/inbound")))
tries("feedback listing", lambda: os.listdir(os.path.join(exchange, "rnn-lstm/feedback")))
tries("rename course exchange", lambda: os.rename(os.path.join(exchange, "rnn-lstm"),
                                                   os.path.join(exchange, "taken")))
try:
    import rnncourse  # noqa: F401
    results["import rnncourse"] = "reached"
except ImportError:
    results["import rnncourse"] = "ImportError"
print(json.dumps(results))
"""
    for me, other in ((a, b), (b, a)):
        out = as_user(dep, me, ["python", "-c", probe, dep.course_dir, dep.exchange,
                                str(Path("~" + other).expanduser()), dep.instructor_env])
        results = json.loads(out.stdout)
        reached = [name for name, got in results.items() if got == "reached"]
        assert not reached, f"{me} reached {reached}: {results}"
    assert (Path(dep.exchange) / COURSE).is_dir()
    # A submission's folder name ends in a random string: without listing, none can be found.
    inbound = sorted(os.listdir(Path(dep.exchange) / COURSE / "inbound"))
    assert len(inbound) == 2 and all(re.search(r"\+[A-Za-z0-9_-]{12}$", n) for n in inbound), inbound
    # The formgrader is not served to students (the menu was checked above).
    page = _login(browser, dep, a)[0]
    got = _api(page, a, "../formgrader")
    assert got["status"] == 404, got["status"]
    page.context.close()
    steps["isolation checked"] = time.monotonic() - started
    print("hub flow, seconds since start:", {k: round(v, 1) for k, v in steps.items()})
    assert not later, "\n\n".join(later)
