"""The layout reads ui/ (faces) -> kb/ (core) <- ingest/ (pipeline): no arrow back, and no
import loop inside kb/, not even a type-only one."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from tests.conftest import ROOT


def _imports(package: str) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in the file, type-only included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[module] = {m for m in found if m.split(".")[0] in ("kb", "ingest", "ui")}
    return graph


def test_the_core_imports_neither_the_pipeline_nor_the_faces() -> None:
    for module, imported in _imports("kb").items():
        assert all(m.startswith("kb") for m in imported), (module, imported)


def test_the_pipeline_does_not_import_the_faces() -> None:
    for module, imported in _imports("ingest").items():
        assert not any(m.startswith("ui") for m in imported), (module, imported)


def test_the_core_has_no_import_loops() -> None:
    graph = {m: {i for i in imported if i != m} for m, imported in _imports("kb").items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:  # pragma: no cover - the message names the loop
        raise AssertionError(f"import loop in kb/: {e.args[1]}") from e
    assert order.index("kb.store") < order.index("kb.library") < order.index("kb.search")
    assert order.index("kb.search") < order.index("kb.answer")


def test_the_contracts_need_no_web_framework() -> None:
    heavy = ("fastapi", "gradio", "starlette", "llama_index", "chromadb")
    source = (ROOT / "ui" / "contracts.py").read_text(encoding="utf-8")
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name.startswith(heavy) for name in imported)
