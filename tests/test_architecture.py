"""The house rules a newcomer relies on: small files with docstrings, no import circles, argparse only
in the CLI, no private APIs. (The layer contract itself is import-linter's, run by `make lint`.)"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("mnist_core", "ui", "pages")
MAX_LINES = 400


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_source_file_is_small_and_says_what_it_is_for(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name}: split it along its seams"
    assert ast.get_docstring(ast.parse(text)), f"{path.name} opens with no docstring"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_core_has_no_import_cycles():
    sys.path.insert(0, str(ROOT))
    assert _cycles(grimp.build_graph("mnist_core")) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "circ"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circ import b\n")
    (pkg / "b.py").write_text("from circ import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("circ", cache_dir=None)) == [["circ.a", "circ.b"]]


def test_argparse_lives_only_in_the_cli():
    users = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "mnist_core").rglob("*.py")
        if re.search(r"^\s*(import argparse|from argparse)", p.read_text(), re.M)
    ]
    assert users and all(u.startswith("mnist_core/cli/") for u in users), users


PRIVATE = re.compile(
    r"torch\._[a-z]\w*\(|streamlit\.(runtime|delta_generator|web|elements)\b|get_script_run_ctx"
)


def test_no_private_apis():
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _sources() + sorted((ROOT / "app.py",))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert hits == []


def _runtime_imports(path: Path) -> set[str]:
    """Top-level packages a script imports when it runs (not those only under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_pages_are_thin_scripts_that_leave_tensors_to_the_core():
    pages = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
    heavy = {"torch", "torchvision"}  # pages hand Streamlit numbers and numpy arrays the core made
    users = {p.name: sorted(_runtime_imports(p) & heavy) for p in pages}
    assert {name: found for name, found in users.items() if found} == {}
