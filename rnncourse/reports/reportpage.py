"""The class report as one self-contained HTML page (figures embedded, no network).

:func:`render` takes what :mod:`rnncourse.reports.classreport` collected and counted
and returns the page's HTML; :func:`figures` draws the score distributions with
matplotlib (Agg) into PNG bytes.
"""

import base64
import functools
import html
import io
import re

from rnncourse import FUNCTIONS
from rnncourse.client import testcases

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:72em;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ddd;padding:.25em .6em;
vertical-align:top;text-align:left}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666}.bad{color:#a00}.where{font-size:.9em}code{font-size:.9em;background:#f6f6f6;padding:0 .2em}
.kpi{display:inline-block;margin:0 1.5em .5em 0}.kpi b{font-size:1.5em;display:block}
img{max-width:100%}img.eq{max-width:28em;margin-top:.3em}img.inl{vertical-align:middle}details{margin:.5em 0}
"""


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def figures(results):
    """``{"totals": png, "functions": png}``: histograms of the total and of each function's score."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    graded = [r for r in results if r.state != "not submitted"]
    total_max = sum(testcases.POINTS.values())
    out = {}
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.hist([r.total for r in graded], bins=[i * total_max / 20 for i in range(21)],
            color="#4c72b0", edgecolor="white")
    ax.set_xlim(0, total_max)
    ax.set_xlabel(f"total score (of {total_max:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Total scores, {len(graded)} students graded", fontsize=10)
    out["totals"] = _png(fig)
    plt.close(fig)

    fig, axes = plt.subplots(2, 4, figsize=(11, 4.2), sharey=True)
    for ax, fn in zip(axes.flat, FUNCTIONS):
        pts = testcases.POINTS[fn]
        values = [r.scores.get(fn, 0.0) for r in graded]
        full = sum(v >= pts - 1e-9 for v in values)
        ax.hist(values, bins=[i * pts / 10 for i in range(11)], color="#55a868", edgecolor="white")
        ax.set_xlim(0, pts)
        ax.set_title(f"{fn}\n{full} of {len(values)} full marks", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("students", fontsize=9)
    fig.tight_layout()
    out["functions"] = _png(fig)
    plt.close(fig)
    return out


def _img(png, alt, cls=""):
    data = base64.b64encode(png).decode()
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _students(ids, limit=12):
    shown = ", ".join(html.escape(s) for s in ids[:limit])
    return shown + (f" <span class=muted>and {len(ids) - limit} more</span>" if len(ids) > limit else "")


@functools.lru_cache(maxsize=256)
def equation_png(latex):
    """The equation drawn with matplotlib's mathtext (PNG bytes), or None if it cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import mathtext

    buf = io.BytesIO()
    try:
        mathtext.math_to_image(f"${latex}$", buf, dpi=115, format="png")
    except Exception:  # a construct mathtext lacks: the LaTeX source is shown instead
        return None
    return buf.getvalue()


def _where(loc):
    if not loc or not loc.get("section"):
        return ""
    head = html.escape(f"§ {loc['section']}")
    text = loc.get("text") or ""
    if loc.get("equation"):
        head += f", equation {loc['equation']}"
        png = equation_png(text)
        if png is not None:
            return head + "<br>" + _img(png, text, "eq")
        return head + f"<br><code>{html.escape(text)}</code>"
    return head + (f"<br><span class=muted>“{_inline(text)}”</span>" if text else "")


def _inline(text):
    """Markdown text with inline ``$math$`` drawn as small images (the source if it cannot be)."""
    out = []
    for i, piece in enumerate(re.split(r"\$([^$]+)\$", text.replace("**", "").replace("`", ""))):
        if i % 2 == 0:
            out.append(html.escape(piece))
            continue
        png = equation_png(piece)
        out.append(_img(png, piece, "inl") if png is not None else f"<code>{html.escape(piece)}</code>")
    return "".join(out)


def render(results, counts, *, assignment, generated, figs, csv_name="mistakes.csv"):
    """The report page (a string of HTML)."""
    e = html.escape
    by_state = {}
    for r in results:
        by_state.setdefault(r.state, []).append(r)
    graded = [r for r in results if r.state != "not submitted"]
    flagged = [r for r in results if r.flags or r.error]
    total_max = sum(testcases.POINTS.values())
    mean = sum(r.total for r in graded) / len(graded) if graded else 0.0
    kpis = [("students", len(results)), ("graded", len(graded)),
            ("failed", len(by_state.get("failed", []))), ("flagged", len(flagged)),
            ("not submitted", len(by_state.get("not submitted", []))),
            ("mean total", f"{mean:.1f} / {total_max:g}")]
    out = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
           f"<title>{e(assignment)}: class report</title><style>{_STYLE}</style></head><body>",
           f"<h1>{e(assignment)}: what the class got wrong</h1>",
           f"<p class=muted>Generated {e(generated)} from the gradebook and what grading recorded "
           f"(no student code was run). Counts per function and mistake: "
           f"<a href='{e(csv_name)}'>{e(csv_name)}</a>.</p>",
           "<div>" + "".join(f"<span class=kpi><b>{e(str(v))}</b>{e(k)}</span>" for k, v in kpis)
           + "</div>"]
    recorded = sorted({r.recorded_by for r in graded if r.recorded_by})
    if recorded:
        out.append(f"<p class=muted>Verdicts read from: {e(', '.join(recorded))}.</p>")

    out.append("<h2>Scores</h2>")
    out.append(_img(figs["totals"], "histogram of total scores"))
    out.append(_img(figs["functions"], "histogram of each function's score"))

    out.append("<h2>Mistakes per function</h2>")
    out.append("<p>Each named mistake with the students whose outputs it explains, most frequent "
               "first, and where the notebook explains the point (to go over in class).</p>")
    for fn in FUNCTIONS:
        rows = [c for c in counts if c.function == fn]
        full = sum(r.scores.get(fn, 0.0) >= testcases.POINTS[fn] - 1e-9 for r in graded)
        out.append(f"<h3><code>{e(fn)}</code> <span class=muted>({testcases.POINTS[fn]} points; "
                   f"{full} of {len(graded)} students full marks)</span></h3>")
        shown = [c for c in rows if c.students]
        if not shown:
            out.append("<p class=muted>No mistakes recorded.</p>")
            continue
        out.append("<table><tr><th>mistake</th><th>students</th><th>who</th>"
                   "<th>explained in the notebook</th></tr>")
        for c in shown:
            special = c.mistake.startswith("(")
            name = (f"<i>{e(c.message)}</i>" if special
                    else f"{e(c.message)}<br><span class=muted><code>{e(c.mistake)}</code></span>")
            out.append(f"<tr><td>{name}</td><td class=n>{len(c.students)}</td>"
                       f"<td>{_students(c.students)}</td><td class=where>{_where(c.location)}</td></tr>")
        out.append("</table>")

    out.append("<h2>Students to look at</h2>")
    if not flagged:
        out.append("<p>No submission failed or was flagged.</p>")
    else:
        out.append("<table><tr><th>student</th><th>state</th><th>total</th><th>why</th></tr>")
        for r in flagged:
            why = ([f"<b>error:</b> {e(r.error)}"] if r.error else []) + [e(f) for f in r.flags]
            out.append(f"<tr><td>{e(r.student)}</td><td>{e(r.state)}</td><td class=n>{r.total:.4g}</td>"
                       f"<td>{'<br>'.join(why)}</td></tr>")
        out.append("</table>")

    out.append(f"<details><summary>Scores of every student ({len(results)})</summary><table><tr>"
               "<th>student</th><th>state</th>"
               + "".join(f"<th>{e(fn)}</th>" for fn in FUNCTIONS) + "<th>total</th></tr>")
    out.append("<tr class=muted><td>(max)</td><td></td>" + "".join(
        f"<td class=n>{testcases.POINTS[fn]}</td>" for fn in FUNCTIONS)
        + f"<td class=n>{total_max:g}</td></tr>")
    for r in results:
        cells = "".join(f"<td class=n>{r.scores.get(fn, 0.0):.4g}</td>" for fn in FUNCTIONS)
        out.append(f"<tr><td>{e(r.student)}</td><td>{e(r.state)}</td>{cells}"
                   f"<td class=n>{r.total:.4g}</td></tr>")
    out.append("</table></details></body></html>")
    return "\n".join(out)
