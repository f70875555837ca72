"""``make grade`` with a PostgreSQL gradebook (``--db-url postgresql://...``).

The test starts a private PostgreSQL server from Debian's ``postgresql``
package (``.ci/run`` installs it): ``initdb`` and ``pg_ctl`` in a temporary
directory, as an unprivileged user, listening on 127.0.0.1 on a free port,
and stops it at the end. About 30 s.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from rnncourse.authoring import bench
from rnncourse.client import testcases
from rnncourse.run import gradebook

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.sandbox]

CLASS = {"correct": [], "mistake": [("rnn_forward", "a0_every_step")]}


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of our own; yields the URL of an empty database on it."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL server programs not found: install Debian's postgresql package "
                    "(apt-get install -y postgresql; .ci/run does this)")
    base = tempfile.mkdtemp(prefix="rnncourse-pg-")
    prefix = []
    if os.geteuid() == 0:  # the server refuses to run as root
        user = "postgres" if _has_user("postgres") else "nobody"
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    port = free_port()
    data, log = os.path.join(base, "data"), os.path.join(base, "server.log")
    subprocess.run([*prefix, initdb, "-D", data, "-A", "trust", "-U", "grader", "-E", "UTF8",
                    "--no-instructions"], check=True, capture_output=True, cwd=base)
    subprocess.run([*prefix, pg_ctl, "-D", data, "-l", log, "-w", "-t", "120", "-o",
                    f"-h 127.0.0.1 -p {port} -k {base}", "start"], check=True, capture_output=True,
                   cwd=base)
    try:
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("CREATE DATABASE gradebook")
        con.close()
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def grade(root, url):
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root),
                           "--db-url", url, "--workers", "2", "--no-progress"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_grading_into_postgresql(postgres, tmp_path):
    root = bench.make_course(tmp_path / "course", CLASS)
    (root / "gradebook.db").unlink()  # the SQLite gradebook of the scratch course is not used
    proc = grade(root, postgres)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.startswith("graded 2, failed 0, skipped as already graded 0 "), proc.stdout
    assert not (root / "gradebook.db").exists()
    grades = gradebook.grades(postgres)
    full = sum(testcases.POINTS.values())
    assert sum(grades["correct"].values()) == full
    assert grades["mistake"]["rnn_forward_hidden"] < testcases.POINTS["rnn_forward"]
    assert sum(grades["mistake"].values()) == full - testcases.POINTS["rnn_forward"] + grades["mistake"][
        "rnn_forward_hidden"]
    course = gradebook.load_course(root, postgres)
    with gradebook.Store(course) as store:
        status = store.statuses()
    assert {s: r["state"] for s, r in status.items()} == {"correct": "graded", "mistake": "graded"}
    assert "mistake" in (root / "grades.csv").read_text()
    again = grade(root, postgres)
    assert again.stdout.startswith("graded 0, failed 0, skipped as already graded 2 "), again.stdout
