"""Indexes declared beside their tables, for both engines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Index:
    """A composite or unique index, declared next to its table (module-level `INDEXES`).

    Piccolo's `Unique` constraint is added with `ALTER TABLE ... ADD CONSTRAINT`, which SQLite
    lacks; `CREATE [UNIQUE] INDEX` works on both engines. Each index also needs a migration
    (copy `ddl` into a raw migration); a test checks the migrated schema has every one.
    """

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False

    @property
    def ddl(self) -> str:
        kind = "UNIQUE INDEX" if self.unique else "INDEX"
        cols = ", ".join(f'"{c}"' for c in self.columns)
        return f'CREATE {kind} IF NOT EXISTS "{self.name}" ON "{self.table}" ({cols})'


@dataclass(frozen=True, slots=True)
class Trigger:
    """A database trigger, declared next to its table (module-level `TRIGGERS`), with the
    statements that create it on each engine (the same must be in a raw migration; a test checks
    the migrated schema has it). `sqlite_names` are the SQLite triggers the statements make:
    the test suite drops and re-creates them around emptying the tables."""

    name: str
    table: str
    postgres: tuple[str, ...]
    sqlite: tuple[str, ...]
    sqlite_names: tuple[str, ...]
