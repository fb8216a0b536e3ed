"""The package's import graph has no cycle (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import switchvae

ROOT = Path(switchvae.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["switchvae", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected group of modules, if any."""
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_graph_sees_the_package():
    graph = _import_graph()
    assert "switchvae.cli.app" in graph and "switchvae.cli.prepare" in graph["switchvae.cli.app"]


def test_no_import_cycle():
    cycles = _cycles(_import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_every_module_imports():
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(switchvae.__path__, "switchvae."):
        if not info.name.endswith("__main__"):  # that one runs the command line
            importlib.import_module(info.name)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path):
    import pytest

    from switchvae.atomic import atomic_write, write_text_atomic

    target = tmp_path / "notes.txt"
    (tmp_path / "notes.txt.tmp").write_text("a user's file")  # never touched
    write_text_atomic(target, "first")
    with pytest.raises(RuntimeError), atomic_write(target) as temp:
        temp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "notes.txt.tmp"]
    assert (tmp_path / "notes.txt.tmp").read_text() == "a user's file"
