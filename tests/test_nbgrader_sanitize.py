"""rnncourse.run.nbgrader_sanitize: nbgrader's preprocessors put a submission back in shape, as
``nbgrader autograde`` does, from a snapshot of the gradebook taken once per run."""

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import ValidationError

from rnncourse.authoring import bench
from rnncourse.run import gradebook
from rnncourse.run.nbgrader_sanitize import NbgraderSanitizer

TEST_ID = "rnn_cell_forward_hidden"


@pytest.fixture(scope="module")
def sanitize(tmp_path_factory):
    # A scratch course whose gradebook records the assignment (bench keeps one such gradebook per
    # test process, so nbgrader generate_assignment runs once for every file that needs it).
    root = bench.make_course(tmp_path_factory.mktemp("course") / "course", {})
    course = gradebook.load_course(root, f"sqlite:///{root / 'gradebook.db'}")
    return NbgraderSanitizer(course, gradebook.snapshot(course))


@pytest.fixture
def submitted(sanitize):
    return copy.deepcopy(sanitize.released)


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


HIDDEN = "from rnncourse.grading import check\n\ncheck('rnn_cell_forward', globals())"


def test_an_untouched_submission_gets_its_hidden_tests_back_and_nothing_else(sanitize, submitted):
    out = sanitize(copy.deepcopy(submitted), "alice")
    assert len(out.cells) == len(submitted.cells)
    changed = [(a.source, b.source) for a, b in zip(submitted.cells, out.cells) if a.source != b.source]
    assert changed and all("### BEGIN HIDDEN TESTS" in new and new.startswith(old) for old, new in changed)
    assert HIDDEN in _cell(out, TEST_ID).source


def test_outputs_are_cleared(sanitize, submitted):
    cell = next(c for c in submitted.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="forged 10 points\n")]
    cell.execution_count = 3
    out = sanitize(submitted, "alice")
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in out.cells if c.cell_type == "code")


def test_an_edited_hidden_test_is_put_back(sanitize, submitted):
    _cell(submitted, TEST_ID).source = "10"
    out = sanitize(submitted, "alice")
    assert HIDDEN in _cell(out, TEST_ID).source


def test_a_deleted_test_cell_is_put_back(sanitize, submitted):
    submitted.cells = [c for c in submitted.cells
                       if c.metadata.get("nbgrader", {}).get("grade_id") != TEST_ID]
    out = sanitize(submitted, "alice")
    assert HIDDEN in _cell(out, TEST_ID).source


def test_the_kernelspec_is_the_released_one(sanitize, submitted):
    submitted.metadata["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}
    out = sanitize(submitted, "alice")
    assert out.metadata["kernelspec"]["name"] != "evil"


def test_duplicate_cell_ids_are_made_unique(sanitize, submitted):
    code = [c for c in submitted.cells if c.cell_type == "code" and "nbgrader" not in c.metadata]
    if len(code) < 2:
        code = [c for c in submitted.cells if "nbgrader" not in c.metadata][:2]
    for c in code:
        c["id"] = "same-id"
    out = sanitize(submitted, "alice")
    ids = [c.get("id") for c in out.cells]
    assert len(ids) == len(set(ids))


def test_corrupt_nbgrader_metadata_is_refused_as_nbgrader_refuses_it():
    from nbgrader.nbgraderformat import MetadataValidator

    from rnncourse.run.nbgrader_sanitize import _validate_cell_metadata

    cell = nbformat.v4.new_code_cell("10")
    cell.metadata["nbgrader"] = {"grade": "yes", "grade_id": "extra", "points": "lots", "solution": False,
                                 "locked": False, "schema_version": 3}
    with pytest.raises(ValidationError):
        MetadataValidator().validate_cell(cell)
    with pytest.raises(Exception) as ours:  # noqa: B017 (the same error as nbgrader's, whatever its class)
        _validate_cell_metadata(cell)
    assert "yes" in str(ours.value) or "lots" in str(ours.value)


def test_a_forged_graded_cell_does_not_survive(sanitize, submitted):
    forged = nbformat.v4.new_code_cell("10")
    forged.metadata["nbgrader"] = {"grade": True, "grade_id": "extra", "points": 100, "solution": False,
                                   "locked": False, "schema_version": 3}
    submitted.cells.append(forged)
    out = sanitize(submitted, "alice")
    graded = [c.metadata["nbgrader"]["grade_id"] for c in out.cells
              if c.metadata.get("nbgrader", {}).get("grade")]
    assert "extra" not in graded
