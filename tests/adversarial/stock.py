"""What stock ``nbgrader autograde`` does with each adversarial case.

Each case is graded alone with a correct control student, in its own scratch
copy of the course, by ``nbgrader autograde`` (unconfined: only cases that are
safe for this machine; the memory case runs under an address-space limit).
"""

import json
import time
from pathlib import Path

from rnncourse import ASSIGNMENT

from . import cases as adv
from . import inject
from .course import (
    autograded_text,
    fingerprint,
    leaks,
    prepare_gradebook,
    run,
    scores,
    scratch_course,
    written_mib,
)

STOCK_TIMEOUT = 420
MEMORY_PREFIX = ("prlimit", f"--as={6 * 1024 ** 3}", "--")


def grade_case(case, workdir):
    """Grade ``case`` + control with stock nbgrader in ``workdir``; a plain dict of what happened."""
    course = scratch_course(Path(workdir) / "course")
    marker = Path(workdir) / "marker"
    ctx = adv.Context(course, course / "release" / ASSIGNMENT, token=case.name, marker=marker)
    prepare_gradebook(course)
    before = fingerprint(course)
    adv.write_class(ctx, course / "submitted", [case.name])
    prefix = MEMORY_PREFIX if case.name == "memory" else ()
    code, seconds, out = run(["nbgrader", "autograde", ASSIGNMENT], course, STOCK_TIMEOUT, prefix)
    if case.name == "lingering_child":
        time.sleep(adv.STRIKE_DELAY + 2)
    after = fingerprint(course)
    got = scores(course)
    student = f"adv_{case.name}"
    text = autograded_text(course, student) or ""
    return {
        "case": case.name,
        "returncode": code,
        "seconds": round(seconds, 1),
        "scores": None if got is None else got.get(student),
        "control": None if got is None else got.get(adv.CONTROL),
        "gradebook": got is not None,
        "changed": sorted(set(before) ^ set(after)
                          | {k for k in before if after.get(k, before[k]) != before[k]}),
        "marker": marker.exists(),
        "leaks": leaks(text, course),
        "written_mib": written_mib(text),
        "log_errors": [ln for ln in out.splitlines() if "[ERROR]" in ln or "Traceback" in ln][:5],
        "autograded_bytes": len(text.encode()),
        "active": inject.active_content(text) if case.inert else [],
        "feedback_active": _feedback_active(course, student) if case.inert else [],
    }


def _feedback_active(course, student):
    """Payload markers left in the student's feedback HTML after stock ``generate_feedback``."""
    code, _, out = run(["nbgrader", "generate_feedback", ASSIGNMENT, "--student", student], course, 300)
    page = Path(course) / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    if code != 0 or not page.exists():
        return [f"generate_feedback failed: {out[-200:]}"]
    return inject.active_html(page.read_text(errors="replace"))


def main(names, out_json, workroot, jobs=2):
    from concurrent.futures import ThreadPoolExecutor

    chosen = [adv.BY_NAME[n] for n in names] if names else adv.CASES
    results = {}
    with ThreadPoolExecutor(jobs) as pool:
        futs = {c.name: pool.submit(grade_case, c, Path(workroot) / c.name) for c in chosen}
        for name, fut in futs.items():
            try:
                results[name] = fut.result()
            except Exception as exc:  # record, keep going
                results[name] = {"case": name, "failure": f"{type(exc).__name__}: {exc}"}
            print(name, json.dumps(results[name])[:400], flush=True)
    Path(out_json).write_text(json.dumps(results, indent=1))
    return results
