"""Command line of the course tooling: ``python -m rnncourse.cli COMMAND`` (or ``rnncourse``)."""

import argparse
import sys

import rnncourse.run.skip_slow_imports  # noqa: F401 (first: before anything imports nbformat)
from rnncourse import paths

# Each command imports what it uses: the parser itself imports neither nbformat, NumPy nor
# nbgrader, so `grade` starts its fork server before importing them (docs/speed.md).


def cmd_check_notebooks(args):
    from rnncourse.authoring import notebooks

    bad = {p: notebooks.problems(p) for p in notebooks.tracked_notebooks()}
    bad = {p: v for p, v in bad.items() if v}
    for p, v in bad.items():
        print(f"{p.relative_to(paths.course_root())}: {'; '.join(v[:5])}")
    if bad:
        print("Clear them with: python -m rnncourse.cli clean-notebooks")
        return 1
    print("notebooks clean")
    return 0


def cmd_clean_notebooks(args):
    from rnncourse.authoring import notebooks

    for p in notebooks.tracked_notebooks():
        if notebooks.problems(p):
            notebooks.clean(p)
            print(f"cleaned {p.relative_to(paths.course_root())}")
    return 0


def cmd_release(args):
    from rnncourse.authoring import release

    out = release.generate()
    print(f"generated {out.relative_to(paths.course_root())}")
    problems = release.leaks(out)
    for p in problems:
        print("LEAK:", p)
    return 1 if problems else 0


def cmd_check_release(args):
    from rnncourse.authoring import release

    stale = release.stale_files()
    problems = release.leaks()
    for s in stale:
        print(f"STALE: release/{s} differs from a fresh `nbgrader generate_assignment` (run `make release`)")
    for p in problems:
        print("LEAK:", p)
    if not stale and not problems:
        print("release fresh and leak-free")
    return 1 if stale or problems else 0


def cmd_refdata(args):
    from rnncourse.content import refdata

    print(f"wrote {refdata.write()}")
    return 0


def cmd_demo(args):
    from rnncourse.authoring import demo

    return demo.main(args)


def cmd_grade(args):
    from rnncourse.run import command

    return command.main(args)


def cmd_report(args):
    from rnncourse.reports import classreport

    return classreport.main(args)


def _add_report_parser(sub):
    from rnncourse.reports import classreport

    text = ("write reports/rnn_lstm/index.html and mistakes.csv: what the class got wrong, "
            "from what grading recorded")
    p = sub.add_parser("report", help=text, description=text)
    classreport.add_arguments(p)
    p.set_defaults(func=cmd_report)


def cmd_roster(args):
    from rnncourse.reports import roster

    return roster.main(args)


def _add_roster_parser(sub):
    from rnncourse.reports import roster

    text = "import students' LMS identities from a Canvas or Moodle roster CSV into the gradebook"
    p = sub.add_parser("roster", help=text, description=text)
    roster.add_arguments(p)
    p.set_defaults(func=cmd_roster)


def _add_grade_parsers(sub):
    from rnncourse.run import command

    text = "grade every submission in parallel (or on a Dask cluster) into the gradebook"
    p = sub.add_parser("grade", help=text, description=command.CLI_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_arguments(p)
    p.set_defaults(func=cmd_grade)
    text = "time stock nbgrader autograde against `grade` on a synthetic class; check equal scores"
    # Listed for --help only: main() hands `bench` its own arguments before this parser runs.
    sub.add_parser("bench", help=text, description=text, add_help=False)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rnncourse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, text in (
        ("check-notebooks", cmd_check_notebooks, "fail if a notebook has outputs or extra metadata"),
        ("clean-notebooks", cmd_clean_notebooks, "clear outputs and extra metadata in place"),
        ("release", cmd_release, "regenerate release/ with stock nbgrader, then scan it for leaks"),
        ("check-release", cmd_check_release, "fail if release/ is stale or leaks"),
        ("refdata", cmd_refdata, "regenerate the reference arrays"),
        ("demo", cmd_demo, "the course's main job: release, sample class, autograde, report"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=fn)
    _add_grade_parsers(sub)
    _add_report_parser(sub)
    _add_roster_parser(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # its own options (python -m rnncourse.cli bench --help)
        from rnncourse.authoring import bench

        return bench.main(argv[1:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
