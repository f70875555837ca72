"""rnncourse.run.fingerprint: what makes a later run grade a submission again, and what does not."""

import datetime

import pytest

from rnncourse.run import fingerprint as fp

SOURCE = {"rnn_utils.py": b"def f(): pass\n"}
SETUP_ARGS = dict(assignment_fingerprint="assign-fp", confined=True, figures=True,
                  limits={"cell_timeout": 30.0}, execute={"timeout": 30}, source_files=SOURCE,
                  reference_digest="digest")
NB, EXTRA, STAMP = b'{"cells": []}', {"data.txt": b"x"}, "2026-01-01 10:00:00 UTC"


def _key(**change):
    return fp.setup_key(**{**SETUP_ARGS, **change})


def test_the_fingerprint_of_a_known_submission_is_stable():
    """Fingerprints recorded by earlier runs stay valid: same inputs, same digest as before."""
    assert fp.fingerprint(NB, EXTRA, STAMP, _key()) == \
        "7a07754f27bcddcfb4d488a3e16b863eff3fc05bc239ab3ab47c498faffe3924"


def test_the_order_of_the_files_does_not_matter():
    two = {"a.txt": b"1", "b.txt": b"2"}
    assert fp.fingerprint(NB, two, STAMP, _key()) == \
        fp.fingerprint(NB, dict(reversed(list(two.items()))), STAMP, _key())


@pytest.mark.parametrize("change", [
    dict(raw_nb=b'{"cells": [1]}'), dict(raw_nb=None), dict(extra_files={"data.txt": b"y"}),
    dict(extra_files={"other.txt": b"x"}), dict(extra_files={}), dict(timestamp_text="2026-01-02"),
    dict(timestamp_text=None)], ids=lambda c: next(iter(c)))
def test_any_change_to_the_submission_changes_it(change):
    base = dict(raw_nb=NB, extra_files=EXTRA, timestamp_text=STAMP, setup=_key())
    assert fp.fingerprint(**{**base, **change}) != fp.fingerprint(**base)


@pytest.mark.parametrize("change", [
    dict(assignment_fingerprint="other"), dict(confined=False), dict(figures=False),
    dict(limits={"cell_timeout": 10.0}), dict(execute={"timeout": 10}),
    dict(source_files={"rnn_utils.py": b"changed"}), dict(reference_digest=None)],
    ids=lambda c: next(iter(c)))
def test_any_change_to_the_setup_regrades_everyone(change):
    assert _key(**change) != _key()
    assert fp.fingerprint(NB, EXTRA, STAMP, _key(**change)) != fp.fingerprint(NB, EXTRA, STAMP, _key())


def test_a_new_grader_version_regrades_everyone(monkeypatch):
    before = _key()
    monkeypatch.setattr(fp, "GRADER_VERSION", fp.GRADER_VERSION + "-next")
    assert _key() != before


def test_timestamps_are_read_as_nbgrader_reads_them(tmp_path):
    assert fp.read_timestamp(tmp_path) == (None, None)
    (tmp_path / "timestamp.txt").write_text("  \n")
    assert fp.read_timestamp(tmp_path) == (None, "")
    (tmp_path / "timestamp.txt").write_text("not a date")
    assert fp.read_timestamp(tmp_path) == (None, "not a date")
    (tmp_path / "timestamp.txt").write_text("2026-01-01 10:00:00.000000 UTC\n")
    when, text = fp.read_timestamp(tmp_path)
    assert text == "2026-01-01 10:00:00.000000 UTC"
    assert when.replace(tzinfo=None) == datetime.datetime(2026, 1, 1, 10, 0)
