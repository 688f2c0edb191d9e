"""The package layout stays importable piece by piece and keeps its import discipline.

``make lint`` runs import-linter (layers + no cycles among siblings); these tests catch what a static
graph does not: a cycle that only shows at run time through a package ``__init__``, and imports
deferred into functions to dodge one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import facevoice

PACKAGE = Path(facevoice.__file__).parent

IMPORT_EACH = """
import importlib, pkgutil, sys
import facevoice
names = sorted(m.name for m in pkgutil.walk_packages(facevoice.__path__, "facevoice."))
failed = []
for name in names:
    for key in [k for k in sys.modules if k == "facevoice" or k.startswith("facevoice.")]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
"""


def test_every_module_imports_on_its_own():
    """Each module imported first in a clean interpreter state: a run-time cycle shows up as an ImportError."""
    out = subprocess.run([sys.executable, "-c", IMPORT_EACH], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    count, *failed = out.stdout.strip().split("\n")
    assert int(count) > 100
    assert not [f for f in failed if f], failed


def _is_facevoice_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").startswith("facevoice")
    return isinstance(node, ast.Import) and any(a.name.startswith("facevoice") for a in node.names)


def _deferred_facevoice_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(root)}:{sub.lineno} {ast.unparse(sub)}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for sub in ast.walk(node)
        if _is_facevoice_import(sub)
    ]


def test_no_facevoice_import_deferred_into_a_function():
    """Only the CLI defers its imports (so ``facevoice --help`` loads no torch); the library imports at the top."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "cli":
            continue
        offenders += _deferred_facevoice_imports(path)
    assert offenders == []


def test_a_deferred_import_is_detected(tmp_path):
    """The check above is not vacuous: a function-level import is reported, a module-level one is not."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from facevoice.core import log\n\n\ndef f():\n    from facevoice.core.config import load_config\n"
    )
    assert _deferred_facevoice_imports(probe, tmp_path) == ["probe.py:5 from facevoice.core.config import load_config"]
