"""What a sandbox gets of this course (trusted side): the client files to copy, the paths to protect.

:class:`rnncourse.sandbox.Sandbox` knows nothing of the course; the grading
run and the re-check hand it :func:`course_contents`.
"""

import os

from rnncourse import client, paths
from rnncourse.sandbox.contents import Contents

INSTRUCTOR_FILES = ("source", "release", "gradebook.db", "submitted", "autograded")
"""The course directory's instructor files, which no bind into a sandbox may contain."""


def protected_paths():
    """Paths no bind may contain: the package, its course's instructor files, the graded course.

    The graded course (``RNNCOURSE_ROOT``, set while a run grades another
    course) is protected whole: no bind may be it or a directory above it.
    """
    package = os.path.dirname(os.path.abspath(__file__))
    course = os.path.dirname(package)
    found = [package] + [os.path.join(course, name) for name in INSTRUCTOR_FILES]
    if os.environ.get("RNNCOURSE_ROOT"):
        found.append(os.fspath(paths.course_root()))
    return [os.path.realpath(p) for p in found]


def course_contents():
    """The :class:`~rnncourse.sandbox.contents.Contents` of every sandbox of this course."""
    return Contents(tuple(client.files()), tuple(protected_paths()))
