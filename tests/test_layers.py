"""The layering of the engine: no import cycles, and the map stage is pure (it imports neither the
store, the sources, the engines nor anything that writes)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "transformer"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The project modules `name` imports, at run time or for type checking alike."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {target for target in [base] + [f"{base}.{alias.name}" for alias in node.names] if target in MODULES}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
    return found - {name}


def test_no_module_imports_itself_back() -> None:
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in graph[name]:
            assert state.get(target) != "open", "import cycle: " + " -> ".join(path + [target])
            if target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])


def test_the_map_stage_is_pure() -> None:
    forbidden = ("transformer.store", "transformer.sources", "transformer.engines", "transformer.config",
                 "transformer.package", "transformer.pipeline", "transformer.report")
    for name in MODULES:
        if name.startswith("transformer.map"):
            assert not {t for t in imports(name) if t.startswith(forbidden)}, name
