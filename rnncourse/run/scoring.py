"""Scores of an executed notebook with nbgrader's own rule, and the trusted verdicts' share."""


from rnncourse import FUNCTIONS
from rnncourse.client import testcases


def _diagnosis_of(fn, cell, info, judge, recheck, confined):
    """The recorded verdict of ``fn``: from the check whose points were kept (trusted records
    when confined: the judge's, or the re-check's when it scored lower or alone), else from
    what the notebook's hidden test cell printed."""
    from rnncourse.verdicts import diagnosis

    if confined:
        rechecked, judged = info.get("recheck"), info.get("judge")
        use_recheck = rechecked is not None and (not info["ran"] or judged is None
                                                 or rechecked < judged - 1e-9)
        got = ((recheck if use_recheck else judge) or {}).get(fn) or {}
        found = diagnosis.from_dict(got["diagnosis"]) if got.get("diagnosis") else None
        return found if found is not None and found.fn == fn else None
    return diagnosis.from_cell(cell, fn)


def function_of(grade_id):
    """The graded function a test cell belongs to: the longest function name its grade_id starts with."""
    found = [fn for fn in FUNCTIONS if grade_id.startswith(fn)]
    return max(found, key=len) if found else None


def score_notebook(nb_json, confined, judge, recheck):
    """Scores, comments, flags and details of an executed notebook.

    Parameters
    ----------
    nb_json : str
        The executed notebook.
    confined : bool
        Whether the judge and re-check verdicts apply (the default grading).
    judge, recheck : dict or None
        ``{fn: {"points", "report", "diagnosis"}}`` from the worker (the judge's also
        ``"mistakes"``: the labels named, kept per test cell in ``details[grade_id]["mistakes"]``;
        ``"diagnosis"``: the record kept in ``details[grade_id]["diagnosis"]``).

    Returns
    -------
    scores, comments, flags, details
        ``{grade_id: score}``, ``{grade_id: comment}``, ``[str]``,
        ``{grade_id: {...}}``. The in-kernel score of a cell is exactly
        ``nbgrader.utils.determine_grade``'s; a test cell that never ran scores 0
        there. With ``confined``, the final score is the lowest of the in-kernel,
        judge and re-check verdicts; for a test cell that never ran (the kernel
        died or time ran out before it) it is the re-check's (or a judge record the
        student's own code caused there, if lower).
    """
    import logging

    import nbformat
    from nbgrader import utils

    nb = nbformat.v4.reads(nb_json)
    log = logging.getLogger("rnncourse.grade")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    scores, comments, flags, details = {}, {}, [], {}
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata:
            continue
        gid = cell.metadata.nbgrader.get("grade_id")
        if utils.is_grade(cell):
            try:
                auto, max_points = utils.determine_grade(cell, log)
            except ValueError as exc:  # partial credit above the maximum
                auto, max_points = 0.0, float(cell.metadata.nbgrader["points"])
                flags.append(f"{gid}: {exc}")
            not_run = cell.cell_type == "code" and cell.get("execution_count") is None
            if not_run and not utils.is_solution(cell):
                auto = 0.0
            final = auto
            info = {"notebook": auto, "max": max_points, "ran": not not_run}
            fn = function_of(gid) if cell.cell_type == "code" and not utils.is_solution(cell) else None
            if confined and fn is not None and auto is not None:
                scale = max_points / testcases.POINTS[fn]
                got_judge = (judge or {}).get(fn)
                judged = round(float(got_judge["points"]) * scale, 4) if got_judge else 0.0
                rechecked = None
                if recheck is not None and fn in recheck:
                    rechecked = round(float(recheck[fn]["points"]) * scale, 4)
                    info["recheck_report"] = recheck[fn]["report"][:4000]
                info["judge"] = judged
                info["mistakes"] = list(got_judge.get("mistakes", [])) if got_judge else []
                info["recheck"] = rechecked
                if not_run and rechecked is not None:
                    # The kernel never reached this cell (it died, or the notebook ran out of
                    # time): there is no in-notebook verdict to compare, and the re-check ran
                    # the same check outside the student's reach. Honest work still counts.
                    # A judge record for a cell that never ran comes from the student's own code
                    # (it began the check itself): it can only lower the score.
                    final = min(rechecked, judged) if got_judge else rechecked
                    info["scored_by"] = "re-check (the cell never ran in the notebook)"
                else:
                    final = min(x for x in (auto, judged, rechecked) if x is not None)
                if auto > judged + 1e-9 and not_run is False:
                    flags.append(f"possible tampering in {gid}: the notebook shows {auto:g} points, "
                                 f"but the judge recorded {judged:g} for the check of {fn}")
                elif rechecked is not None and auto > rechecked + 1e-9:
                    flags.append(f"possible tampering in {gid}: the notebook shows {auto:g} points, "
                                 f"the re-check outside the notebook gives {rechecked:g}")
            if fn is not None:
                found = _diagnosis_of(fn, cell, info, judge, recheck, confined)
                if found is not None:
                    info["diagnosis"] = found.to_dict()
            info["final"] = final
            scores[gid] = final
            details[gid] = info
        if utils.is_solution(cell) or utils.is_task(cell):
            if (cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
                    and not utils.is_task(cell)):
                comments[gid] = "No response."
            else:
                comments[gid] = None
    return scores, comments, flags, details
