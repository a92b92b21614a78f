"""The package's shape, checked: the rules a newcomer relies on when reading the tree.

- only ``logstream.cluster`` talks to a search engine's client library;
- one job per file: no module over 450 lines, no class over 200;
- handlers are thin and never import a sibling function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "layers" / "common" / "logstream"
FUNCTIONS = REPO / "functions"
SEARCH_CLIENT_LIBRARIES = ("opensearchpy", "elasticsearch", "elastic_transport")
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 200
MAX_HANDLER_LINES = 40

MODULES = sorted(PACKAGE.rglob("*.py"))


def _imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_the_package_is_where_the_tests_look() -> None:
    assert len(MODULES) > 20, f"only {len(MODULES)} modules found under {PACKAGE}"


@pytest.mark.parametrize("module", MODULES, ids=_relative)
def test_only_the_cluster_package_imports_a_search_client_library(module: Path) -> None:
    if (PACKAGE / "cluster") in module.parents:
        return
    imported = _imported_modules(ast.parse(module.read_text()))
    offending = sorted(name for name in imported if name.split(".")[0] in SEARCH_CLIENT_LIBRARIES)
    assert not offending, f"{_relative(module)} imports {offending}; go through logstream.cluster"


@pytest.mark.parametrize("module", MODULES, ids=_relative)
def test_no_module_is_over_450_lines(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_relative(module)} has {lines} lines"


@pytest.mark.parametrize("module", MODULES, ids=_relative)
def test_no_class_is_over_200_lines(module: Path) -> None:
    tree = ast.parse(module.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_CLASS_LINES, (
                f"{_relative(module)}: class {node.name} has {length} lines"
            )


HANDLERS = sorted(FUNCTIONS.glob("*/app.py"))


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handlers_are_thin_and_self_contained(handler: Path) -> None:
    source = handler.read_text()
    assert len(source.splitlines()) <= MAX_HANDLER_LINES
    imported = _imported_modules(ast.parse(source))
    assert not [name for name in imported if name.startswith("functions")], imported
    handlers = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
    ]
    assert len(handlers) == 1
    # Decorators plus one service call: the body is a single statement.
    body = [s for s in handlers[0].body if not isinstance(s, ast.Expr | ast.Pass)]
    assert len(body) <= 2, f"{handler}: lambda_handler has {len(body)} statements"
