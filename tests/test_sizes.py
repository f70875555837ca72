"""Every module of the package is small enough to read at once, and so is every function.

The limits are the developers' guide's "no module over about 600 lines, no function over about
100"; a part that outgrows them is split along a seam that explains itself (see
docs/architecture.md) rather than the limit raised.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rnncourse"

MODULE_LINES = 600
"""About 600 lines (rnncourse/run/gradebook.py, 538 today, is the largest)."""

FUNCTION_LINES = 100
"""Lines from ``def`` to the function's last line, docstring included."""


def sizes(package):
    """``({module: lines}, {"module:line name": lines})`` of every ``.py`` file under ``package``."""
    modules, functions = {}, {}
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(package.parent))
        modules[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text, filename=name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[f"{name}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    return modules, functions


def test_no_module_and_no_function_too_long_to_read_at_once():
    modules, functions = sizes(PACKAGE)
    assert len(modules) > 50 and len(functions) > 500  # the whole package was read
    long_modules = {k: v for k, v in modules.items() if v > MODULE_LINES}
    long_functions = {k: v for k, v in functions.items() if v > FUNCTION_LINES}
    assert not long_modules, f"split these modules (lines): {long_modules}"
    assert not long_functions, f"split these functions into named steps (lines): {long_functions}"


def test_the_measure_finds_a_long_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    lines = ["class A:", "    def method(self):"] + [f"        x{i} = {i}" for i in range(FUNCTION_LINES)]
    (pkg / "long.py").write_text("\n".join(lines) + "\n")
    modules, functions = sizes(pkg)
    assert modules["pkg/long.py"] == FUNCTION_LINES + 2
    assert functions["pkg/long.py:2 method"] == FUNCTION_LINES + 1 > FUNCTION_LINES
