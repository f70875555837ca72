"""A scratch course: a copy of the course's folders and configuration somewhere else.

Used by the release check, the demo, the benchmark and the tests, so that nothing they run
writes into the course itself.
"""

import shutil
from pathlib import Path

from rnncourse import paths

IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
"""Never copied: editor checkpoints and bytecode (nbgrader ignores them too)."""


def copy_course(dest, folders=("source",), src=None, config_extra="", files=()):
    """Copy ``folders`` and ``nbgrader_config.py`` of the course ``src`` into ``dest``.

    Parameters
    ----------
    dest : str or Path
        The scratch course (created if missing; the folders must not exist there yet).
    folders : tuple of str
        Folders of the course to copy (``source``, ``release``, ``submitted``...).
    src : str or Path, optional
        The course to copy (default: this package's, :func:`rnncourse.paths.course_root`).
    config_extra : str
        Lines appended to the copied ``nbgrader_config.py``.
    files : tuple of str
        Other files to copy as they are (a ``gradebook.db``).

    Returns
    -------
    Path
        ``dest``.
    """
    src = Path(src or paths.course_root())
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in folders:
        shutil.copytree(src / name, dest / name, ignore=IGNORED)
    config = (src / "nbgrader_config.py").read_text()
    (dest / "nbgrader_config.py").write_text(config + config_extra)
    for name in files:
        shutil.copy(src / name, dest / name)
    return dest
