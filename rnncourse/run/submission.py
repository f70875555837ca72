"""Reading one student's submission: its files and its notebook, refused with a clear reason."""

import json
import os
from pathlib import Path

MAX_NOTEBOOK_BYTES = 32 * 1024 ** 2
"""A submitted notebook larger than this is refused: the released one is well under 1 MiB, and
a notebook with its outputs cleared stays far below; the coordinator reads every one in memory."""

MAX_FILE_BYTES = 16 * 1024 ** 2
"""Other submitted files larger than this are left out (each is sent to a worker and written into
its sandbox; the course needs none but the notebook)."""


def read_files(folder, ignore, exclude_notebooks=True):
    """``{name: bytes}`` of the plain files in ``folder`` nbgrader would copy (ignore patterns applied)."""
    from nbgrader.utils import find_all_files

    out, skipped = {}, []
    patterns = list(ignore) + (["*.ipynb"] if exclude_notebooks else [])
    for path in sorted(find_all_files(str(folder), patterns)):
        rel = os.path.relpath(path, folder)
        if os.sep in rel or os.path.islink(path):
            skipped.append(rel)
            continue
        if os.path.getsize(path) > MAX_FILE_BYTES:
            skipped.append(rel)
            continue
        with open(path, "rb") as f:
            out[rel] = f.read()
    return out, skipped


def notebook_problem(folder, name):
    """A message when ``folder/name`` is missing (with the notebooks that are there instead)."""
    others = sorted(p.name for p in Path(folder).glob("*.ipynb")) if Path(folder).is_dir() else []
    msg = f"no {name} in submitted/{Path(folder).parent.name}/{Path(folder).name}/"
    if others:
        msg += f" (found {', '.join(others[:5])}: the notebook must keep its name {name})"
    return msg


def parse_notebook(raw, name):
    """Bytes of a submitted notebook -> NotebookNode (v4), or a SubmissionProblem saying what is wrong."""
    import nbformat

    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionProblem(f"{name} is {len(raw) / 1024 ** 2:.1f} MiB, more than the "
                                f"{MAX_NOTEBOOK_BYTES // 1024 ** 2} MiB allowed (clear its outputs)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionProblem(f"{name} is not UTF-8 text (bad byte at offset {exc.start}): "
                                "it was damaged or saved in another encoding") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionProblem(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg}): the file was damaged or edited by hand") from None
    except RecursionError:
        raise SubmissionProblem(f"{name} is nested too deeply to be a notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise SubmissionProblem(f"{name} is JSON but not a notebook (no list of cells)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise SubmissionProblem(f"{name} has notebook format {major!r}; only formats 3 and 4 "
                                "(Jupyter) can be graded")
    try:
        import logging

        logger = logging.getLogger("nbformat")
        level = logger.level
        logger.setLevel(logging.CRITICAL)
        try:
            return nbformat.reads(text, as_version=4)
        finally:
            logger.setLevel(level)
    except Exception as exc:
        raise SubmissionProblem(f"{name} could not be read as a notebook: {type(exc).__name__}: "
                                f"{str(exc)[:300]}") from None


class SubmissionProblem(Exception):
    """What is wrong with one student's submission (recorded for that student)."""
