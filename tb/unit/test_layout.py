"""The architecture stays visible: imports run one way (hdl ← analog_models ← sim ← flows, tb),
``sim/`` holds nothing that only ``flows/`` uses, and no source file outside the tests grows
past ~400 lines without its docstring saying why (DESIGN.md §2)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER = {"hdl": 0, "analog_models": 1, "sim": 2, "flows": 3, "tb": 3}
MAX_LINES = 400


def _sources():
    for top in LAYER:
        for f in sorted((REPO_ROOT / top).rglob("*.py")):
            yield top, f


def _imports(f: Path):
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_imports_run_one_way():
    wrong = []
    for top, f in _sources():
        for mod in _imports(f):
            other = mod.split(".")[0]
            if other in LAYER and other != top and (
                    LAYER[other] > LAYER[top] or (LAYER[other] == LAYER[top] == 3
                                                  and top == "flows" and other == "tb")):
                wrong.append(f"{f.relative_to(REPO_ROOT)} imports {mod}")
    assert not wrong, "\n".join(wrong)


def test_sim_holds_no_module_only_flows_uses():
    users: dict[str, set[str]] = defaultdict(set)
    for top, f in _sources():
        for mod in _imports(f):
            parts = mod.split(".")
            if parts[0] == "sim" and len(parts) > 1:
                users[parts[1]].add(top)
    only_flows = sorted(m for m, u in users.items() if u == {"flows"})
    assert not only_flows, f"sim modules used only by flows/: {only_flows} (move them there)"


def test_long_files_say_why():
    long = []
    for top, f in _sources():
        if top == "tb" and f.name.startswith("test_"):
            continue
        n = len(f.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(f.read_text())) or ""
        if n > MAX_LINES and "lines" not in doc:
            long.append(f"{f.relative_to(REPO_ROOT)}: {n} lines, no reason in its docstring")
    assert not long, "\n".join(long)
