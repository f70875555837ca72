"""Put a submitted notebook back into the released structure before grading.

A student's notebook contributes only the code of its solution cells and any
cells the student added. Everything else (instructions, visible and hidden
test cells, and every cell's nbgrader metadata) comes from the released
notebook, so that deleting, editing, duplicating or re-labelling a test or
read-only cell changes nothing. For an untouched notebook the result equals the
submission cell for cell, so grading it gives stock nbgrader's scores.

Where the student rearranged the notebook, the submitted cells are first
aligned with the released ones (the longest run of released cells found in
released order), so a moved markdown cell or a pasted copy of a test cell does
not drag the student's cells that follow it elsewhere: an added cell stays
after the released cell it follows in that alignment, never past a test that
needs it. A solution cell the student deleted is restored empty, so the
released stub cannot shadow a definition the student typed in a cell of their
own; empty cells the student added are left out (they run nothing).
"""

import copy

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id

MAX_ALIGNED = 5000
"""Cells with a released grade_id beyond which the alignment falls back to first occurrences."""


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src if isinstance(src, str) else ""


def _student_cell(cell):
    """A cell the student added: its content kept, any nbgrader metadata dropped."""
    cell = copy.deepcopy(cell)
    cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k == "tags"}
    return cell


def align(submitted_ids, released_ids):
    """Positions in ``submitted_ids`` matched to ``released_ids``, in order, as many as possible.

    Parameters
    ----------
    submitted_ids : list of str or None
        grade_id of each submitted cell (None: none).
    released_ids : list of str
        grade_ids of the released cells, in released order (each once).

    Returns
    -------
    set of int
        Submitted positions of a longest common subsequence; among equally long
        ones, the earliest submitted copy of a cell is taken.
    """
    where = {g: j for j, g in enumerate(released_ids)}
    known = [i for i, g in enumerate(submitted_ids) if g in where]
    if len(known) > MAX_ALIGNED:  # hostile size: first occurrences only
        first = {}
        for i in known:
            first.setdefault(submitted_ids[i], i)
        return set(first.values())
    seq = [where[submitted_ids[i]] for i in known]
    n, m = len(seq), len(released_ids)
    # suffix[k][j]: longest common subsequence of seq[k:] and released[j:]
    suffix = [[0] * (m + 1) for _ in range(n + 1)]
    for k in range(n - 1, -1, -1):
        row, below = suffix[k], suffix[k + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if seq[k] == j else max(below[j], row[j + 1])
    matched, k, j = set(), 0, 0
    while k < n and j < m:
        if seq[k] == j and suffix[k][j] == suffix[k + 1][j + 1] + 1:
            matched.add(known[k])
            k, j = k + 1, j + 1
        elif suffix[k][j] == suffix[k][j + 1]:
            j += 1
        else:
            k += 1
    return matched


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
        Released cells in released order. Each solution cell carries the
        source of the submitted cell with its grade_id (the aligned one when
        there are several; empty when the student deleted it). Read-only cells
        come from the release. A submitted cell whose grade_id is unknown, or
        that repeats a solution's grade_id, is kept as an added cell right after
        the released cell it follows in the alignment (or the solution cell
        the student moved it with); a moved or copied read-only cell is dropped,
        its released original is in place.
    """
    by_id = {_grade_id(c): c for c in released.cells if _grade_id(c)}
    cells_in = list(submitted.cells)
    ids = [_grade_id(c) for c in cells_in]
    matched = align(ids, [_grade_id(c) for c in released.cells if _grade_id(c)])
    aligned_ids = {ids[i] for i in matched}
    solutions = {}
    after = {}  # grade_id of the released cell an added cell follows (None: the start)
    anchor = None
    for i, cell in enumerate(cells_in):
        gid = ids[i]
        known = by_id.get(gid)
        is_solution = known is not None and known.metadata["nbgrader"].get("solution")
        if known is not None and (i in matched or (is_solution and gid not in aligned_ids
                                                   and gid not in solutions)):
            # Aligned, or a solution cell the student moved: its code fills the solution.
            if is_solution and cell.get("cell_type") == known.cell_type:
                solutions[gid] = cell.get("source", "")
            anchor = gid
        elif known is not None and not is_solution:
            continue  # a moved or copied read-only cell: the release's own is restored in place
        elif not _source(cell).strip():
            continue  # an empty cell of the student's: nothing to run or read
        else:
            after.setdefault(anchor, []).append(_student_cell(cell))
    out = copy.deepcopy(released)
    cells = list(after.get(None, []))
    for cell in out.cells:
        gid = _grade_id(cell)
        if gid in solutions:
            cell.source = solutions[gid]
        elif gid in by_id and cell.metadata["nbgrader"].get("solution"):
            cell.source = ""  # deleted by the student: no stub to shadow their own definition
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
