"""The layout stays what ARCHITECTURE.md says: no import cycles, serving code never imports ingest code,
no module of bot/ over 500 lines, and every module named on that page."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.knowledge import REPO

BOT = REPO / "bot"
SERVING = ("bot.answering", "bot.services", "bot.state", "bot.channels", "bot.records", "bot.evaluation")


def modules() -> dict[str, Path]:
    """bot.x.y -> its file, for every module of bot/."""
    out = {}
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of bot/ that ``path`` imports, at any depth of the file (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in known}


def test_no_import_cycles() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for other in sorted(graph[name]):
            if not other.startswith(name + "."):  # a package's __init__ importing its own modules is fine
                visit(other, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_serving_code_never_imports_ingest_code_and_nothing_the_bot_runs_imports_the_fakes() -> None:
    known = modules()
    for name, path in known.items():
        found = imports(path, known)
        if name.startswith(SERVING):
            assert not {m for m in found if m.startswith("bot.ingest")}, name
        if not name.startswith("bot.testing"):
            assert not {m for m in found if m.startswith("bot.testing")}, name


def test_no_module_of_bot_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n for p in BOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500
    }
    assert not long, long


def test_architecture_md_names_every_module() -> None:
    page = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [
        str(p.relative_to(REPO))
        for p in BOT.rglob("*.py")
        if p.name != "__init__.py" and str(p.relative_to(REPO)) not in page
    ]
    assert not missing, f"ARCHITECTURE.md does not name {missing}"
