"""Put a submitted notebook back into the released structure before grading.

A student's notebook contributes only the code of its solution cells and any
cells the student added. Everything else (instructions, visible and hidden
test cells, and every cell's nbgrader metadata) comes from the released
notebook, so that deleting, editing, duplicating or re-labelling a test or
read-only cell changes nothing. For an untouched notebook the result equals the
submission cell for cell, so grading it gives stock nbgrader's scores.
"""

import copy

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _student_cell(cell):
    """A cell the student added: its content kept, any nbgrader metadata dropped."""
    cell = copy.deepcopy(cell)
    cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k == "tags"}
    return cell


def restore(submitted, released):
    """The released notebook with the student's solutions and added cells put in.

    Parameters
    ----------
    submitted : NotebookNode (v4)
        The student's notebook, parsed.
    released : NotebookNode (v4)
        The notebook the students received (release/<assignment>/).

    Returns
    -------
    nb : NotebookNode
        Released cells in released order; each solution cell carries the source
        of the first submitted cell with its grade_id; a submitted cell whose
        grade_id is unknown, or that repeats a solution's grade_id, is kept as
        an added cell right after the released cell it followed.
    """
    by_id = {_grade_id(c): c for c in released.cells if _grade_id(c)}
    solutions = {}
    after = {}  # grade_id of the released cell an added cell follows (None: the start)
    anchor = None
    for cell in submitted.cells:
        gid = _grade_id(cell)
        known = by_id.get(gid)
        if known is not None and gid not in solutions and known.metadata["nbgrader"].get("solution"):
            if cell.get("cell_type") == known.cell_type:
                solutions[gid] = cell.get("source", "")
            anchor = gid
        elif known is not None and gid not in solutions:
            anchor = gid  # a released read-only cell: restored from the release below
        else:
            after.setdefault(anchor, []).append(_student_cell(cell))
    out = copy.deepcopy(released)
    cells = list(after.get(None, []))
    for cell in out.cells:
        gid = _grade_id(cell)
        if gid in solutions:
            cell.source = solutions[gid]
        cells.append(cell)
        cells.extend(after.get(gid, []))
    seen = set()
    for cell in cells:  # a copied cell repeats its id: give the copy a new one
        if cell.get("id") in seen:
            cell["id"] = random_cell_id()
        seen.add(cell.get("id"))
    out.cells = cells
    nbformat.validate(out)
    return out
