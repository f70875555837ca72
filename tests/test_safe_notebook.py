"""Outputs and markdown made inert (rnncourse.sanitize: safe_html, safe_notebook, safe_outputs),
honest content kept."""

import copy
import glob
import json
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncourse.sanitize import safe_html
from rnncourse.sanitize.safe_notebook import sanitize
from rnncourse.sanitize.safe_outputs import SafeOutputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adversarial import inject  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TABLE = ('<div>\n<style scoped>\n .dataframe tbody tr th { vertical-align: top; }\n</style>\n'
         '<table border="1" class="dataframe">\n<thead><tr style="text-align: right;"><th></th><th>a</th>'
         '</tr></thead>\n<tbody><tr><th>0</th><td>1.5</td></tr></tbody>\n</table>\n</div>')


def _hostile_notebook():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x")
    ns = {}
    exec("def display(data, metadata, raw):\n    out.append((data, metadata))\n\n\nout = []\n", ns)
    exec(inject.carrier_code().replace("from IPython.display import display", ""), ns)
    code.outputs = [nbformat.v4.new_output("display_data", data=d, metadata=m) for d, m in ns["out"]]
    code.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": "7.5"},
                                               execution_count=4))
    code.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="<script>warn</script>"))
    nb.cells = [code, nbformat.v4.new_markdown_cell(inject.MARKDOWN), nbformat.v4.new_raw_cell(inject.RAW)]
    nb.cells[2].metadata["format"] = "text/html"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_hostile_outputs_markdown_and_metadata_are_made_inert():
    nb = _hostile_notebook()
    assert inject.active_content(nbformat.writes(nb)), "the fixture carries no payload"
    notes = sanitize(nb)
    text = nbformat.writes(nb)
    assert inject.active_content(text) == []
    assert "widgets" not in nb.metadata
    kinds = {m for o in nb.cells[0].outputs for m in o.get("data", {})}
    assert not kinds & {"application/javascript", "text/vnd.mermaid",
                        "application/vnd.jupyter.widget-view+json"}
    assert any("application/javascript" in n for n in notes) and any("markdown" in n for n in notes)
    # What could not be shown says so; the image with bad metadata keeps the image, not the size.
    assert any(o.get("data", {}).get("text/plain", "").startswith("output javascript")
               for o in nb.cells[0].outputs)
    png = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(png) == 1 and png[0].metadata == {}
    # Scores read streams, errors and text/plain: all kept as they were.
    assert nb.cells[0].outputs[-2].data == {"text/plain": "7.5"}
    stderr = nb.cells[0].outputs[-1]
    assert stderr.text == "<script>warn</script>" and stderr.name == "stderr"
    # Honest markdown next to the payload survives.
    assert "<strong>bold</strong>" in nb.cells[1].source and "https://numpy.org" in nb.cells[1].source


def test_rendered_by_nbconvert_no_payload_remains():
    from nbconvert import HTMLExporter

    nb = _hostile_notebook()
    sanitize(nb)
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert inject.active_html(page) == []
    assert inject.FLAG not in page


def test_unsanitized_render_keeps_payloads():
    """The check above can fail: nbconvert alone keeps the payloads."""
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(_hostile_notebook())
    assert "<script> payload" in inject.active_html(page)
    assert "event handler payload" in inject.active_html(page)


def test_honest_content_is_kept_as_is():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("df")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="loss 0.25\n"),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                               metadata={"image/png": {"width": 400, "height": 300}}),
        nbformat.v4.new_output("execute_result", data={"text/html": TABLE, "text/plain": "   a\n0  1.5"},
                               execution_count=1),
        nbformat.v4.new_output("display_data", data={"text/latex": "$x^2$", "text/plain": "x**2"}),
    ]
    md = nbformat.v4.new_markdown_cell("# Title\n\n**bold** $a<b$ [numpy](https://numpy.org)\n\n"
                                       "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\nx = 1\n```\n")
    nb.cells = [code, md]
    before = copy.deepcopy(nb)
    assert sanitize(nb) == []
    assert nb.cells[1].source == before.cells[1].source
    assert nb.cells[0].outputs[1] == before.cells[0].outputs[1]
    html = nb.cells[0].outputs[2].data["text/html"]
    assert '<table border="1" class="dataframe">' in html and "<td>1.5</td>" in html and "<style" not in html


@pytest.mark.parametrize("path", ["source/rnn_lstm/rnn_lstm.ipynb", *sorted(glob.glob("notebooks/*.ipynb",
                                                                                     root_dir=ROOT))])
def test_course_notebooks_unchanged(path):
    nb = nbformat.read(ROOT / path, 4)
    before = copy.deepcopy(nb)
    assert sanitize(nb) == []
    assert [c.source for c in nb.cells] == [c.source for c in before.cells]


def test_idempotent():
    nb = _hostile_notebook()
    sanitize(nb)
    once = json.loads(nbformat.writes(nb))
    assert sanitize(nb) == [] or json.loads(nbformat.writes(nb))["cells"] == once["cells"]


def test_preprocessor_is_enabled_by_default():
    nb = _hostile_notebook()
    nb, _ = SafeOutputs()(nb, {})
    assert inject.active_content(nbformat.writes(nb)) == []


PIECES = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:alert(1)'>a</a>",
          "<svg onload=alert(1)>", "<iframe src=javascript:alert(1)>", "<style>*{}</style>", "<b>", "</b>",
          "<table><tr><td>", "text", "<", ">", '"', "'", "&", "<!--", "-->", "<math><mi>", "<p onclick=x>",
          "<details ontoggle=alert(1) open>", "<a href=' java\tscript:x'>", "<img src='data:text/html,x'>",
          "<form><button formaction=javascript:x>", "<object data=x>", "<base href=//evil>",
          "<meta http-equiv>", "<span style='background:url(x)'>", "<div style='position:fixed'>", "`", "$",
          "\n\n", "[l](javascript:x)"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_cleaned_html_and_markdown_are_always_clean(pieces):
    text = "".join(pieces)
    cleaned = safe_html.clean_html(text)
    assert safe_html.is_clean(cleaned)
    for bad in ("<script", " onerror", " onload", " ontoggle", " onclick", '="javascript:', "<iframe",
                "<svg", "<object", "<base", "<meta", "<form", "url("):
        assert bad not in cleaned.lower().replace("&lt;", "")
    rendered = safe_html.render_markdown(safe_html.safe_markdown(text))
    assert rendered is not None and safe_html.is_clean(rendered)


def test_execution_counts_only_integers():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.execution_count = "<img src=x onerror=alert(1)>"
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=None)]
    cell.outputs[0]["execution_count"] = "<script>1</script>"
    nb.cells = [cell, nbformat.v4.new_code_cell("y", execution_count=3)]
    sanitize(nb)
    assert nb.cells[0].execution_count is None and nb.cells[0].outputs[0].execution_count is None
    assert nb.cells[1].execution_count == 3


def test_execution_timestamps_are_kept_and_nothing_else_of_them():
    """nbclient's timing of each cell survives (make bench reads it); any other value there does not."""
    times = {"iopub.status.busy": "2026-12-02T12:00:00.123456Z",
             "iopub.execute_input": "2026-12-02T12:00:00.124Z",
             "shell.execute_reply": "2026-12-02T12:00:01.5+01:00", "iopub.status.idle": "2026-12-02T12:00:02"}
    nb = nbformat.v4.new_notebook()
    honest, hostile, junk = (nbformat.v4.new_code_cell(s) for s in "xyz")
    honest.metadata["execution"] = dict(times)
    hostile.metadata["execution"] = {"iopub.status.busy": "<script>alert(1)</script>",
                                     "shell.execute_reply": "2026-12-02T12:00:01Z\n<b>x</b>",
                                     "iopub.execute_input": 5, "onload": "2026-12-02T12:00:00Z",
                                     "iopub.status.idle": "2026-12-02T12:00:02Z"}
    junk.metadata["execution"] = "<img src=x onerror=alert(1)>"
    nb.cells = [honest, hostile, junk]
    sanitize(nb)
    assert nb.cells[0].metadata["execution"] == times
    assert nb.cells[1].metadata["execution"] == {"iopub.status.idle": "2026-12-02T12:00:02Z"}
    assert "execution" not in nb.cells[2].metadata


def test_the_hidden_test_record_is_kept_as_json_data():
    from rnncourse.verdicts import diagnosis

    record = {"fn": "rnn_forward", "v": 1, "outputs": {"a": {"ok": False, "mistakes": ["a0_every_step"]}}}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("check('rnn_forward', globals())")
    cell.outputs = [nbformat.v4.new_output("display_data", data={diagnosis.MIME: record}),
                    nbformat.v4.new_output("display_data", data={diagnosis.MIME: "<script>x</script>"}),
                    nbformat.v4.new_output("display_data", data={diagnosis.MIME: {"pad": "x" * 70_000}}),
                    nbformat.v4.new_output("stream", name="stdout", text="rnn_forward: 2 of 3\n")]
    nb.cells = [cell]
    nb2 = nbformat.reads(sanitize_json_text(nb), as_version=4)
    outs = nb2.cells[0].outputs
    assert outs[0].data == {diagnosis.MIME: record}
    assert diagnosis.MIME not in outs[1].data and diagnosis.MIME not in outs[2].data
    assert diagnosis.from_cell(nb2.cells[0], "rnn_forward").outputs["a"].mistakes == ["a0_every_step"]


def sanitize_json_text(nb):
    from rnncourse.sanitize.safe_notebook import sanitize_json

    return sanitize_json(nbformat.writes(nb))[0]


def test_html_exports_leave_the_records_out_and_keep_everything_else():
    from nbconvert import HTMLExporter

    from rnncourse.sanitize.hide_records import HideRecords
    from rnncourse.verdicts import diagnosis

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("check('rnn_forward', globals())")
    record = {"fn": "rnn_forward", "v": 1, "outputs": {"a": {"ok": True}}}
    cell.outputs = [nbformat.v4.new_output("display_data", data={diagnosis.MIME: record}),
                    nbformat.v4.new_output("display_data", data={diagnosis.MIME: record,
                                                                 "text/plain": "kept"}),
                    nbformat.v4.new_output("stream", name="stdout", text="rnn_forward: 3 of 3\n")]
    nb.cells = [cell]
    shown, _ = HideRecords().preprocess(copy.deepcopy(nb), {})
    assert [dict(o.get("data", {})) for o in shown.cells[0].outputs] == [{"text/plain": "kept"}, {}]
    exporter = HTMLExporter()
    exporter.register_preprocessor(HideRecords(), enabled=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbconvert warns of a type it cannot show
        page, _ = exporter.from_notebook_node(nb)
    assert "rnn_forward: 3 of 3" in page and "kept" in page
    assert diagnosis.MIME not in page and '"fn"' not in page and "&quot;fn&quot;" not in page
    assert diagnosis.from_cell(nb.cells[0], "rnn_forward").correct  # the notebook keeps its record

