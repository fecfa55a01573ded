"""The house's layers: every import in ``src/qabot`` points down or sideways, never up, no cycles.

Each package's ``__init__`` docstring says what it owns and what it may import; this test
holds the code to that picture, lazy (function-level) imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import qabot

PACKAGE = Path(qabot.__file__).resolve().parent

# Bottom to top. A module may import its own layer and any layer below it.
LAYERS = (
    ("qabot.errors", "qabot.version", "qabot.atomic", "qabot.offline"),
    ("qabot.documents", "qabot.models"),
    ("qabot.index",),
    ("qabot.answering",),
    ("qabot.evaluation",),
    ("qabot.web",),
    ("qabot.cli", "qabot.__main__", "qabot"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every qabot module ``path`` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("qabot")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qabot"):
            for alias in node.names:  # `from qabot.cli import core` imports qabot.cli.core
                sub = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").is_file()
                found.add(sub if is_module else node.module)  # type: ignore[arg-type]
    return found


def layer_of(module: str) -> int:
    best = None
    for number, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > len(best[1])
            ):
                best = (number, name)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[0]


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer_and_imports_only_down_or_sideways():
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_the_checker_sees_an_upward_import():
    assert layer_of("qabot.index.store") < layer_of("qabot.answering.evidence")
    assert layer_of("qabot.documents.chunking") < layer_of("qabot.web.server")
    assert layer_of("qabot") == layer_of("qabot.cli.core")


def test_no_import_cycles_between_modules():
    edges = {m: {t for t in targets if t in graph_modules} for m, targets in GRAPH.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_every_package_says_what_it_owns_and_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "May import" in doc, (
            f"{init.parent.name}/__init__.py does not say what it may import"
        )


GRAPH = graph()
graph_modules = set(GRAPH)
