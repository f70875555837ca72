"""What the grader hands a sandbox (``rnncourse.sandbox.contents``, ``rnncourse.confinement``).

The sandbox knows nothing of the course: it copies in whatever files it is given and
refuses binds that contain whatever paths it is told to protect. The course's own
contents (its client files, its instructor paths) are built on the grading side.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnncourse import client, confinement, sandbox
from rnncourse.sandbox import Contents

ROOT = Path(__file__).resolve().parent.parent


def test_contents_round_trip_and_reject_bad_paths(tmp_path):
    c = Contents(((str(tmp_path / "a.py"), "pkg/a.py"),), (str(tmp_path / "secret"),))
    assert Contents.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert Contents.from_dict(None) == Contents()
    for bad in [((str(tmp_path / "a.py"), "../a.py"),), (("a.py", "a.py"),), ((str(tmp_path), "/abs"),)]:
        with pytest.raises(ValueError, match="Contents.files"):
            Contents(bad)
    with pytest.raises(ValueError, match="absolute"):
        Contents((), ("relative",))
    with pytest.raises(ValueError, match="unknown"):
        Contents.from_dict({"files": [], "bind": []})


def test_exposes_names_a_protected_path_inside_a_bind(tmp_path):
    c = Contents((), (str(tmp_path / "course" / "source"),))
    assert c.exposes(str(tmp_path / "course")) == str((tmp_path / "course" / "source").resolve())
    assert c.exposes(str(tmp_path / "course" / "source")) is not None
    assert c.exposes(str(tmp_path / "course" / "source" / "sub")) is None
    assert c.exposes(str(tmp_path / "course" / "sourcefoo")) is None


def _import_in_fresh_process(directory, module, expr):
    code = (f"import sys; sys.path.insert(0, {str(directory)!r}); import {module} as m; "
            f"print({expr})")
    proc = subprocess.run([sys.executable, "-I", "-B", "-v", "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip(), proc.stderr


def test_copied_modules_come_with_bytecode_the_importer_uses(tmp_path):
    """Each copied .py file gets a hash-checked .pyc that a read-only copy's importer loads."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "helper.py").write_text("ANSWER = 42\n")
    (tmp_path / "src" / "broken.py").write_text("def (:\n")
    (tmp_path / "src" / "notes.txt").write_text("not python\n")
    Contents(((str(tmp_path / "src" / "helper.py"), "pkg/helper.py"),
              (str(tmp_path / "src" / "broken.py"), "pkg/broken.py"),
              (str(tmp_path / "src" / "notes.txt"), "pkg/notes.txt"))).copy_into(tmp_path / "in")
    assert sorted(os.listdir(tmp_path / "in" / "pkg" / "__pycache__")) == [
        f"helper.{sys.implementation.cache_tag}.pyc"]  # none for a file that does not compile
    cache = tmp_path / "in" / "pkg" / "__pycache__"
    pyc = (cache / f"helper.{sys.implementation.cache_tag}.pyc").read_bytes()
    assert str(tmp_path / "src").encode() not in pyc  # compiled under its path inside, not the host's
    out, log = _import_in_fresh_process(tmp_path / "in" / "pkg", "helper", "m.ANSWER")
    assert out == "42" and "helper.py" in log and "code object from" in log


def test_bytecode_that_does_not_match_the_copied_source_is_not_used(tmp_path):
    """The .pyc is checked against the source's hash: a changed copy is compiled afresh."""
    (tmp_path / "helper.py").write_text("ANSWER = 42\n")
    Contents(((str(tmp_path / "helper.py"), "helper.py"),)).copy_into(tmp_path / "in")
    (tmp_path / "in" / "helper.py").write_text("ANSWER = 43\n")
    out, _ = _import_in_fresh_process(tmp_path / "in", "helper", "m.ANSWER")
    assert out == "43"


def test_the_client_files_are_its_folder_and_the_hidden_cell_module():
    got = dict((inside, host) for host, inside in client.files())
    folder = ROOT / "rnncourse" / "client"
    expected = {f"rnncourse/client/{p.name}" for p in folder.glob("*.py")}
    assert expected <= set(got) and {"rnncourse/__init__.py", "rnncourse/grading.py"} <= set(got)
    assert set(got) == expected | {"rnncourse/__init__.py", "rnncourse/grading.py"}
    assert all(Path(host).is_file() for host in got.values())
    assert not any("content" in inside or "verdicts" in inside for inside in got)


def test_the_course_protects_its_package_and_instructor_files(monkeypatch, tmp_path):
    monkeypatch.delenv("RNNCOURSE_ROOT", raising=False)
    protected = confinement.course_contents().protected
    for p in ["rnncourse", "source", "release", "gradebook.db", "submitted", "autograded"]:
        assert str((ROOT / p).resolve()) in protected
    monkeypatch.setenv("RNNCOURSE_ROOT", str(tmp_path))
    assert str(tmp_path.resolve()) in confinement.course_contents().protected


def test_a_sandbox_refuses_to_bind_what_it_is_told_to_protect(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    # Without being told, the sandbox has no idea the directory matters ...
    sandbox.Sandbox(work, binds=[(tmp_path, "/mnt", False)]).close()
    # ... told, it refuses, whatever the path is.
    with pytest.raises(ValueError, match="refusing to expose .* it contains .*secret"):
        sandbox.Sandbox(work, binds=[(tmp_path, "/mnt", False)], contents=Contents((), (str(secret),)))
    # The course's instructor files, as the grader hands them in.
    with pytest.raises(ValueError, match="refusing to expose"):
        sandbox.Sandbox(work, binds=[(ROOT / "source", "/mnt", False)],
                        contents=confinement.course_contents())
    with pytest.raises(ValueError, match="refusing to expose"):
        sandbox.Sandbox(ROOT / "rnncourse", contents=confinement.course_contents())


ok, why = sandbox.available()


@pytest.mark.sandbox
@pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}")
def test_a_sandbox_given_other_files_imports_those_and_nothing_of_the_course(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("ANSWER = 42\n")
    work = tmp_path / "work"
    work.mkdir()
    code = ("import json, importlib.util as u, helper, os\n"
            "print(json.dumps([helper.ANSWER, helper.__file__, u.find_spec('rnncourse') is not None,"
            " sorted(os.listdir(os.environ['PYTHONPATH']))]))")
    contents = Contents(((str(tmp_path / "lib" / "helper.py"), "helper.py"),))
    with sandbox.Sandbox(work, contents=contents) as sb:
        proc = subprocess.run(sb.wrap([sys.executable, "-c", code]), capture_output=True, text=True,
                              timeout=60)
    assert proc.returncode == 0, proc.stderr
    answer, where, has_course, listed = json.loads(proc.stdout)
    assert answer == 42 and where == os.path.join(sandbox.CLIENT_DIR, "helper.py")
    assert has_course is False and listed == ["__pycache__", "helper.py"]
