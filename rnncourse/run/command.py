"""The ``grade`` subcommand: its options, and the summary and scores it prints."""

import os
import sys

from rnncourse.run import gradebook
from rnncourse.run.gradebook import CourseError
from rnncourse.run.runlock import GradingRefused

CLI_DESCRIPTION = """\
Grade every submission under submitted/<student>/rnn_lstm/ into the course
gradebook, write autograded/<student>/rnn_lstm/ as `nbgrader autograde` does,
and export grades.csv. Scores equal stock `nbgrader autograde` cell by cell;
student code runs confined (docs/isolation.md), each submission in
a fresh kernel.

Runs are resumable: kill one at any point and run it again; submissions
already graded and unchanged are skipped (--force regrades them).

examples:
  python -m rnncourse.cli grade                      # all cores of this machine
  python -m rnncourse.cli grade --workers 8
  python -m rnncourse.cli grade --scheduler tcp://10.0.0.5:8786   # a Dask cluster
  python -m rnncourse.cli grade --force --student alice --student bob
  make grade WORKERS=4 | make grade SCHEDULER=tcp://host:8786 | make grade FORCE=1
"""


def add_arguments(p):
    """The ``grade`` subcommand's options."""
    p.add_argument("--root", help="course directory (default: RNNCOURSE_ROOT, else this package's course)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: number of cores; 0 = in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask distributed scheduler, e.g. tcp://host:8786: each submission is a task there")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's, sqlite:///gradebook.db); "
                   "e.g. postgresql://user@host/db (password in ~/.pgpass or PGPASSWORD)")
    p.add_argument("--cell-timeout", type=float, help="seconds per cell (default: the course's "
                   "ExecutePreprocessor.timeout, 30)")
    p.add_argument("--total-timeout", type=float, help="seconds per submission in all (default 600)")
    p.add_argument("--memory", type=float, help="memory limit per process, GiB (default 2)")
    p.add_argument("--cpus", type=float, help="CPU cores all processes of one submission may use "
                   "together (default 1; a CPU cgroup, where the grader can create one)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   default=os.environ.get("UNSAFE_NO_SANDBOX", "") not in ("", "0"),
                   help="run student code UNCONFINED with your rights (trusted submissions only; "
                   "also UNSAFE_NO_SANDBOX=1)")
    p.add_argument("--no-prestart", action="store_true",
                   help="do not start each worker's next kernel ahead (slower; for measurements)")
    p.add_argument("--no-warm", action="store_true",
                   help="do not pre-import numpy/matplotlib in kernels (slower; for measurements)")
    p.add_argument("--no-fork-server", action="store_true",
                   help="exec every confined kernel and re-check anew instead of forking them from a "
                   "process that imported their modules once (slower; for measurements)")
    p.add_argument("--no-figures", action="store_true",
                   help="build the notebook's figures without drawing them (same scores; autograded "
                   "notebooks then show <Figure ...> instead of images; no faster since the course's "
                   "helper draws nothing while grading, see docs/speed.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-scores", action="store_true",
                   help="do not print the class's scores per student and function after the run")
    p.add_argument("--no-export", action="store_true", help="do not write grades.csv")
    p.add_argument("--timings", action="store_true", help="print mean per-submission timings of the workers")


def scores_text(root, db_url, export=True):
    """The class's scores per student and function, as ``make grade`` prints them after a run."""
    from rnncourse.run import gradetable

    course = gradebook.load_course(root, db_url)
    csv_path = course.root / "grades.csv" if export else None
    return gradetable.text(gradebook.grades(course.db_url, course.assignment), csv_path)


def main(args):
    """Run the ``grade`` subcommand; exit status 0 when every submission has a recorded result."""
    # Imported here, not at the top: building the CLI's parser must not import nbgrader (half a
    # second), which the run imports only once its fork server is importing beside it.
    from rnncourse.run.runner import grade_class

    limits = {}
    if args.cell_timeout:
        limits["cell_timeout"] = args.cell_timeout
    if args.total_timeout:
        limits["total_timeout"] = args.total_timeout
    if args.memory:
        limits["memory"] = int(args.memory * 1024 ** 3)
    if args.cpus:
        limits["cpus"] = args.cpus
    try:
        summary = grade_class(
            args.root, students=args.student, workers=args.workers, scheduler=args.scheduler,
            force=args.force, db_url=args.db_url, limits=limits or None,
            unsafe_no_sandbox=args.unsafe_no_sandbox, progress=not args.no_progress,
            export=not args.no_export, prestart=not args.no_prestart, warm=not args.no_warm,
            figures=not args.no_figures, fork_server=not args.no_fork_server)
    except (GradingRefused, CourseError, ValueError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted; everything recorded so far is kept. Run it again to finish.",
              file=sys.stderr)
        return 130
    print(summary.text())
    if not args.no_scores:
        print()
        print(scores_text(args.root, args.db_url, export=not args.no_export))
    if args.timings and summary.timings:
        print("mean per-submission timings (s): " + ", ".join(
            f"{k} {v:.3g}" for k, v in sorted(summary.timings.items())))
    return 0 if summary.ok else 1
