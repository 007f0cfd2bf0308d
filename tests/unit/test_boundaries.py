"""What import-linter cannot see: the tables other contexts join through a `reads` module are
read there, never written (backend/schools/reads.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.journal import reads as journal_reads
from backend.schools import reads as schools_reads

BACKEND = Path(__file__).resolve().parents[2] / "backend"
WRITES = {"insert", "update", "delete", "save", "remove", "create_table", "alter"}


def _readers() -> list[Path]:
    """Modules of other contexts that import a reads module."""
    found = []
    for path in BACKEND.rglob("*.py"):
        if "piccolo_migrations" in path.parts or path.name == "reads.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "schools.reads import" in text or "journal.reads import" in text:
            found.append(path)
    return found


@pytest.mark.parametrize("path", _readers(), ids=lambda p: str(p.relative_to(BACKEND)))
def test_tables_named_in_a_reads_module_are_not_written_through_it(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in (
            "backend.schools.reads",
            "backend.journal.reads",
        ):
            names.update(a.asname or a.name for a in node.names)
    writes = [
        f"{node.value.id}.{node.attr} (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in names
        and node.attr in WRITES
    ]
    assert names, "imports a reads module but names nothing from it"
    assert writes == [], f"{path.name} writes through a reads module: {writes}"


def test_the_readers_are_found() -> None:
    readers = {p.relative_to(BACKEND).as_posix() for p in _readers()}
    assert {"journal/diary.py", "journal/sync.py", "reports/services.py"} <= readers
    assert set(schools_reads.__all__) and set(journal_reads.__all__)
