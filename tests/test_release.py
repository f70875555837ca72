"""release/ is what stock nbgrader generates from source/ today, and it leaks nothing."""

import shutil

from rnncourse.authoring import release


def test_release_is_fresh():
    assert release.stale_files() == [], "release/ is stale: run `make release` and commit"


def test_release_leaks_nothing():
    assert release.leaks() == []


def test_leak_scan_catches_a_solution(tmp_path, root):
    shutil.copytree(root / "source" / "rnn_lstm", tmp_path / "rel")
    found = release.leaks(tmp_path / "rel")
    assert any("marker" in f for f in found)
    assert any("body other than the stub" in f for f in found)
    (tmp_path / "rel" / "answers.npz").write_bytes(b"x")
    assert any("data file" in f for f in release.leaks(tmp_path / "rel"))
