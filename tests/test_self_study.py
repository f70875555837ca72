"""What a self-learner sees: figure titles, sharp figures, a lab without exchange errors."""

import io
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request

import matplotlib
import numpy as np

from rnncourse.content import reference
from rnncourse.selfstudy import lab

matplotlib.use("Agg")


def lstm_inputs():
    rng = np.random.default_rng(0)
    n_x, n_a, n_y, m, t_x = 2, 4, 2, 1, 6
    p = {}
    for gate in "fico":
        p["W" + gate] = rng.standard_normal((n_a, n_a + n_x))
        p["b" + gate] = np.zeros((n_a, 1))
    p["Wy"], p["by"] = rng.standard_normal((n_y, n_a)), np.zeros((n_y, 1))
    return rng.standard_normal((n_x, m, t_x)), np.zeros((n_a, m)), p


def test_gate_plot_takes_its_title():
    helper, ref = reference.helper_module(), reference.load()
    fig = helper.plot_lstm_gates(ref.lstm_forward, *lstm_inputs(), title="forget bias +4.0")
    assert fig.get_suptitle() == "forget bias +4.0"
    fig = helper.plot_lstm_gates(ref.lstm_forward, *lstm_inputs())
    assert fig.get_suptitle() == "LSTM activations over time, example (0)"


def test_gate_notebook_titles_each_figure_with_its_biases(root):
    import nbformat

    nb = nbformat.read(str(root / "notebooks" / "01_gate_activations.ipynb"), 4)
    explore = next(c.source for c in nb.cells if "def explore(" in c.source)
    # the title goes to the helper, which shows the figure: set afterwards it would be lost
    assert "title=title" in explore and "suptitle" not in explore


def test_helper_figures_are_drawn_at_twice_the_resolution(monkeypatch):
    from IPython import display as ipd
    from PIL import Image as PILImage

    helper, ref = reference.helper_module(), reference.load()
    shown = []
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    monkeypatch.setattr(ipd, "display", shown.append)
    fig = helper.plot_lstm_gates(ref.lstm_forward, *lstm_inputs())
    (image,) = shown
    width, height = PILImage.open(io.BytesIO(image.data)).size
    assert image.retina and image.width == width // 2  # shown at the figure's size
    assert width == round(2 * fig.dpi * fig.get_figwidth())


def test_self_study_notebooks_ask_for_retina_figures(root):
    import nbformat

    for path in sorted((root / "notebooks").glob("*.ipynb")):
        first = next(c.source for c in nbformat.read(str(path), 4).cells if c.cell_type == "code")
        assert 'InlineBackend.figure_formats = ["retina"]' in first, path.name


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_lab_starts_without_nbgrader_exchange_extensions(tmp_path):
    work, _ = lab.prepare(tmp_path / "work")
    env = lab.lab_env(work, dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
                                 JUPYTER_DATA_DIR=str(tmp_path / "data"),
                                 JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")))
    port, token = lab.free_port(), secrets.token_hex(16)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(lab.lab_command(work, port, token), cwd=work, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while _get_status(f"{base}/api/status?token={token}") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        # what JupyterLab's Assignments and Courses panels ask for: not served, so no exchange
        assert _get(f"{base}/assignments?course_id=&token={token}")[0] == 404
        assert _get(f"{base}/courses?token={token}")[0] == 404
        assert _get(f"{base}/formgrader?token={token}")[0] == 404
        page = _get(f"{base}/lab?token={token}")[1]
        config = json.loads(page.split('id="jupyter-config-data" type="application/json">', 1)[1]
                            .split("</script>", 1)[0])
        disabled = config["disabledExtensions"]
        assert "@jupyter/nbgrader:assignment-list" in disabled
        assert "@jupyter/nbgrader:validate-assignment" not in disabled  # Validate stays
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "Unwritable directory" not in text and "contact your instructor" not in text, text


def _get_status(url):
    try:
        return _get(url)[0]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
