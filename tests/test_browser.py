"""A real browser: headless Chromium drives JupyterLab as a self-learner would.

JupyterLab serves a work folder prepared exactly as ``make lab`` prepares
``lab/`` (:func:`rnncourse.selfstudy.lab.prepare`), on 127.0.0.1, a free port and a
token. The test opens the gate-activation notebook, runs all its cells, and
checks that the plots rendered and that no cell shows an error; then it opens
the student notebook and checks that every graded cell shows its
"YOUR CODE HERE" placeholder. Screenshots go to ``test-artifacts/browser/``.

Needs Debian's ``chromium`` (``make browser-deps`` installs it; ``make test``
and ``.ci/run`` run that first) and playwright from PyPI (pinned), which
drives the system Chromium: no browser download.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS, stop_group

from rnncourse import FUNCTIONS
from rnncourse.selfstudy import lab

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
GATES_NOTEBOOK = "notebooks/01_gate_activations.ipynb"
# JupyterLab settings for a quiet, deterministic page: every cell in the DOM
# (no virtual scrolling), no news or update checks (no network, no pop-ups).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
SERVER_START_S = 90
RUN_ALL_S = 240


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def _api(base, token, path, method="GET"):
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        return json.loads(body) if body else None


@pytest.fixture(scope="module")
def jupyterlab():
    """A JupyterLab server on a prepared work folder; always shut down afterwards."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (installs Debian's chromium)")
    tmp = Path(tempfile.mkdtemp(prefix="rnncourse-browser-"))
    work, _ = lab.prepare(tmp / "work")
    settings = tmp / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"))
    env = lab.lab_env(work, env)  # as `make lab` runs it: the lab's own configuration
    port = lab.free_port()
    token = secrets.token_hex(16)
    cmd = lab.lab_command(work, port, token, extra=[
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}"])
    log = open(tmp / "server.log", "w+b")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def server_log():
        log.flush()
        return (tmp / "server.log").read_text(errors="replace")[-4000:]

    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{server_log()}")
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{server_log()}")
            time.sleep(0.5)
        yield {"base": base, "token": token, "work": work, "log": server_log}
    finally:
        try:  # stop the kernels first, then the server
            for kernel in _api(base, token, "/api/kernels") or []:
                _api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        stop_group(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def page(jupyterlab):
    """A fresh headless Chromium (its own profile directory), closed afterwards."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="rnncourse-chromium-")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, timeout=60_000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def _open(page, jupyterlab, path):
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{jupyterlab['base']}/lab/tree/{path}?token={jupyterlab['token']}",
              wait_until="domcontentloaded")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    # The page may call the kernel idle before it is connected: wait until the server
    # has a session with an idle kernel for this notebook, then for the page to agree.
    deadline = time.monotonic() + 60
    while not any(s["path"].endswith(path) and s["kernel"]["execution_state"] == "idle"
                  for s in _api(jupyterlab["base"], jupyterlab["token"], "/api/sessions")):
        assert time.monotonic() < deadline, f"no idle kernel for {path} after 60 s"
        time.sleep(0.25)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    _wait_idle(page, 60_000)
    return panel


def _wait_idle(page, timeout_ms):
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const status = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
            return status && status.getAttribute('data-status') === 'idle';
        }""", timeout=timeout_ms)


def _menu(page, menu, item):
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-content .lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def test_gate_notebook_runs_in_the_browser(page, jupyterlab):
    n_code = sum(c.cell_type == "code" for c in nbformat.read(jupyterlab["work"] / GATES_NOTEBOOK, 4).cells)
    panel = _open(page, jupyterlab, GATES_NOTEBOOK)
    page.screenshot(path=str(ARTIFACTS / "01_opened.png"))

    _menu(page, "Run", "Run All Cells")
    # Done when every code cell shows an execution count ("[n]:", not "[*]:" or "[ ]:")
    # and the kernel is idle again.
    page.wait_for_function(
        """(n) => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => p.textContent.trim());
            return prompts.length === n && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
        }""", arg=n_code, timeout=RUN_ALL_S * 1000)
    _wait_idle(page, RUN_ALL_S * 1000)

    outputs = panel.locator(".jp-OutputArea-output")
    errors = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    images = panel.locator(".jp-OutputArea-output img")
    images.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "01_ran_top.png"))
    images.nth(2).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "01_ran_gates.png"))
    panel.locator(".jupyter-widgets").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "01_ran_sliders.png"))

    assert errors.count() == 0, "a cell shows an error:\n" + "\n---\n".join(errors.all_inner_texts())
    assert outputs.count() >= n_code - 2
    # Plots: one per figure the notebook draws (sequences, three explore() calls, memory, sliders).
    assert images.count() >= 6, f"only {images.count()} plots rendered"
    sizes = images.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert all(done and w > 200 and h > 100 for done, w, h in sizes), sizes
    # The sliders rendered as widgets, and their plot is inside the widget's output.
    assert panel.locator(".jupyter-widgets .widget-slider").count() == 3
    assert panel.locator(".jupyter-widgets .jp-OutputArea-output img").count() == 1
    # Figures drawn at twice their displayed size (sharp on high-resolution screens).
    assert all(w >= 2 * shown for (_, w, _), shown in zip(sizes, images.evaluate_all(
        "imgs => imgs.map(i => i.getBoundingClientRect().width)")) if shown > 0), sizes
    # Self-study has no exchange: nbgrader's Assignments and Courses parts are off, no errors.
    assert "Unwritable directory" not in jupyterlab["log"](), jupyterlab["log"]()


def test_student_notebook_shows_placeholders(page, jupyterlab):
    path = f"{lab.ASSIGNMENT}/{lab.ASSIGNMENT}.ipynb"
    nb = nbformat.read(jupyterlab["work"] / path, 4)
    graded = {i: c.metadata["nbgrader"]["grade_id"] for i, c in enumerate(nb.cells)
              if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    assert sorted(graded.values()) == sorted(FUNCTIONS)

    panel = _open(page, jupyterlab, path)
    page.wait_for_function(  # JupyterLab attaches the cells of a long notebook in batches
        """(n) => document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length === n""",
        arg=len(nb.cells), timeout=60_000)
    cells = panel.locator(".jp-Notebook .jp-Cell")
    for index, fn in graded.items():
        editor = cells.nth(index).locator(".jp-InputArea-editor")
        editor.scroll_into_view_if_needed()
        assert editor.locator(".cm-line").first.inner_text().startswith(f"def {fn}("), \
            f"cell {index} is not the solution cell of {fn}"
        # The editor draws only the lines near the viewport: bring the cell's end into view.
        editor.evaluate("e => e.scrollIntoView({block: 'end'})")
        placeholder = editor.locator(".cm-line", has_text="YOUR CODE HERE")
        placeholder.wait_for(state="visible", timeout=10_000)
        assert placeholder.count() == 1, f"{fn}: expected one 'YOUR CODE HERE' line"
        assert editor.locator(".cm-line", has_text="raise NotImplementedError").count() == 1
        assert editor.locator(".cm-line", has_text="SOLUTION").count() == 0
        if fn == "lstm_forward":
            page.screenshot(path=str(ARTIFACTS / "student_notebook.png"))


def test_a_hidden_test_record_shows_nothing_in_jupyterlab(page, jupyterlab):
    """A hidden test's record (its own MIME type, no renderer) leaves no visible trace in a cell."""
    from rnncourse.verdicts import diagnosis

    path = "record_check.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from rnncourse.client import feedback\n"
        "feedback.show_record({'fn': 'rnn_forward', 'v': 1, 'outputs': {'a': {'ok': True}}})\n"
        "print('the report')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, jupyterlab["work"] / path)
    panel = _open(page, jupyterlab, path)
    _menu(page, "Run", "Run All Cells")
    panel.locator(".jp-OutputArea-output", has_text="the report").wait_for(timeout=60_000)
    _wait_idle(page, 60_000)
    page.screenshot(path=str(ARTIFACTS / "record_hidden.png"))
    area = panel.locator(".jp-Cell .jp-OutputArea").first
    text = area.inner_text()
    assert "the report" in text
    assert "rnn_forward" not in text and "outputs" not in text and diagnosis.MIME not in text, text
    shown = area.locator(".jp-OutputArea-output").evaluate_all(
        "els => els.map(e => [e.getAttribute('data-mime-type'), e.textContent.trim()])")
    assert shown == [["application/vnd.jupyter.stdout", "the report"]], shown
    # The record did arrive: JupyterLab keeps it in the notebook, it only shows nothing for it.
    _menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + 30
    while True:
        try:
            saved = nbformat.read(jupyterlab["work"] / path, 4).cells[0].outputs
        except ValueError:  # read while JupyterLab is still writing it: not JSON yet
            saved = []
        if saved or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert [o.output_type for o in saved] == ["display_data", "stream"], saved
    assert diagnosis.from_cell({"outputs": saved}, "rnn_forward").correct
