"""What ``make grade`` prints after the run: the class's scores per student and function.

Up to :data:`FULL_TABLE_MAX` students, one line each; above, a compact summary
(per function: mean and how many got full marks; the totals' spread). Both end
with where ``grades.csv`` is and what to run next.
"""

import statistics

from rnncourse import FUNCTIONS
from rnncourse.client import testcases

FULL_TABLE_MAX = 40
COL = 13


def _short(fn):
    return fn.replace("_forward", "_fw").replace("_backward", "_bw")


def per_function(grades):
    """``{student: {fn: points}}`` from ``{student: {grade_id: score}}`` (hidden test cells)."""
    out = {}
    for student, cells in grades.items():
        out[student] = {fn: float(cells.get(f"{fn}_hidden") or 0.0) for fn in FUNCTIONS}
    return out


def text(grades, csv_path=None, limit=FULL_TABLE_MAX):
    """The scores as lines of text (``grades``: ``{student: {grade_id: score}}``)."""
    scores = per_function(grades)
    if not scores:
        return "no graded submissions in the gradebook yet"
    total_max = sum(testcases.POINTS.values())
    totals = {s: sum(v.values()) for s, v in scores.items()}
    width = max(12, max(len(s) for s in scores) + 2) if len(scores) <= limit else 12
    head = f"{'student':<{width}}" + "".join(f"{_short(f):>{COL}}" for f in FUNCTIONS) + f"{'total':>8}"
    lines = []
    if len(scores) <= limit:
        lines += [f"Scores per student and function ({len(scores)} students):", head, "-" * len(head),
                  f"{'(max)':<{width}}" + "".join(f"{testcases.POINTS[f]:>{COL}}" for f in FUNCTIONS)
                  + f"{total_max:>8}"]
        for student in sorted(scores):
            v = scores[student]
            lines.append(f"{student:<{width}}" + "".join(f"{v[f]:>{COL}.4g}" for f in FUNCTIONS)
                         + f"{totals[student]:>8.4g}")
    else:
        lines += [f"Scores per function ({len(scores)} students; one line per student in grades.csv):",
                  head, "-" * len(head)]
    n = len(scores)
    lines.append(f"{'mean':<{width}}" + "".join(
        f"{statistics.fmean(v[f] for v in scores.values()):>{COL}.3g}" for f in FUNCTIONS)
        + f"{statistics.fmean(totals.values()):>8.3g}")
    full = {f: sum(v[f] >= testcases.POINTS[f] - 1e-9 for v in scores.values()) for f in FUNCTIONS}
    lines.append(f"{'full marks':<{width}}" + "".join(f"{full[f]:>{COL - 3}}/{n:<2}" for f in FUNCTIONS)
        + f"{sum(t >= total_max - 1e-9 for t in totals.values()):>5}/{n}")
    t = sorted(totals.values())
    lines.append(f"totals: median {statistics.median(t):.4g}, lowest {t[0]:.4g}, highest {t[-1]:.4g} "
                 f"(of {total_max})")
    if csv_path:
        lines.append(f"grades.csv: {csv_path}")
    lines.append("next: make report (what the class got wrong), make export LMS=canvas|moodle|csv")
    return "\n".join(lines)
