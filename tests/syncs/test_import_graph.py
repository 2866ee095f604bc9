"""syncs/ imports one way: no module reaches itself again through its imports, deferred ones included.
The one exception is the services↔tasks idiom: a task is sent from inside a function (``from .tasks import
run_sync``), and a task's body imports the service it calls."""

from __future__ import annotations

import ast
from pathlib import Path

SYNCS = Path(__file__).parents[2] / "syncs"


def module_name(path: Path) -> str:
    parts = path.relative_to(SYNCS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The syncs modules this file imports, at the top or inside a function."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # "from . import runs"
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_syncs_has_no_import_circle() -> None:
    files = [path for path in SYNCS.rglob("*.py") if "migrations" not in path.parts]
    modules = {module_name(path): path for path in files}
    graph = {
        name: {
            target
            for target in imports_of(path)
            if target in modules and target != name and target != "syncs.tasks"
        }
        for name, path in modules.items()
    }
    # A package's __init__ imports its parts; a part importing a sibling through the package is no circle.
    for name in graph:
        graph[name] = {
            t for t in graph[name] if not (modules[t].name == "__init__.py" and name.startswith(t))
        }

    circles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in trail:
                circles.append([*trail[trail.index(target) :], target])
            elif len(trail) < 20:
                visit(target, [*trail, target])

    for name in sorted(graph):
        visit(name, [name])
    assert not circles, circles[:5]
