"""The hot path is a package of its own: outside ``gateway/`` only the app's composition
imports it (a module that needs routing state asks ``routing/``)."""

from __future__ import annotations

import ast
from pathlib import Path

import previewgate

ROOT = Path(previewgate.__file__).parent
COMPOSITION = {"app.py", "runtime.py", "cli/serve.py"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_the_composition_imports_the_gateway() -> None:
    offenders = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("gateway/") or relative in COMPOSITION:
            continue
        hot = {
            m
            for m in _imports(path)
            if m == "previewgate.gateway" or m.startswith("previewgate.gateway.")
        }
        if hot:
            offenders[relative] = sorted(hot)
    assert offenders == {}
    assert any("previewgate.gateway" in m for m in _imports(ROOT / "app.py"))
