"""The README's tree of the `logstream` package names exactly the modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "layers" / "common" / "logstream"
TREE_LINE = re.compile(r"^( *)(\S+)")


def _modules_in_readme() -> set[str]:
    text = (REPO / "README.md").read_text()
    lines = text[text.index("  logstream/\n") :].splitlines()
    root_indent = len(lines[0]) - len(lines[0].lstrip())
    stack: list[tuple[int, str]] = []
    found: set[str] = set()
    for line in lines[1:]:
        match = TREE_LINE.match(line)
        if match is None or len(match[1]) <= root_indent:
            break
        indent, name = len(match[1]), match[2]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if name.endswith("/"):
            stack.append((indent, name.rstrip("/")))
        elif name.endswith(".py"):
            found.add("/".join([part for _, part in stack] + [name]))
    return found


def test_the_readme_tree_lists_every_module_and_no_other() -> None:
    actual = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name not in {"__init__.py", "__main__.py"}
    }
    listed = _modules_in_readme()
    assert listed, "no logstream tree found in README.md"
    assert sorted(actual - listed) == [], "modules missing from the README tree"
    assert sorted(listed - actual) == [], "README tree lists modules that do not exist"
