"""Multi-row INSERTs written directly, for the journal's hot paths and the demo fill.

Building Piccolo row objects and Piccolo's own bulk INSERT statement costs about 1 ms per
statement plus tens of microseconds per row; a lesson save writes ~100 rows in 4 statements.
Values are passed as parameters; JSON values are encoded here (both engines take JSON text).
"""

from __future__ import annotations

import json
from typing import Any

from piccolo.table import Table

_COLUMNS: dict[type[Table], tuple[list[str], dict[str, Any]]] = {}


def _columns(table: type[Table]) -> tuple[list[str], dict[str, Any]]:
    if table not in _COLUMNS:
        columns = [c for c in table._meta.columns if not c._meta.primary_key]
        names = [c._meta.db_column_name for c in columns]
        defaults = {c._meta.db_column_name: c.get_default_value() for c in columns}
        _COLUMNS[table] = (names, defaults)
    return _COLUMNS[table]


async def insert_rows(
    table: type[Table],
    rows: list[dict[str, Any]],
    returning: tuple[str, ...] = (),
    chunk: int = 200,
) -> list[dict[str, Any]]:
    """Insert `rows` (column name -> value; missing columns take their default)."""
    if not rows:
        return []
    names, defaults = _columns(table)
    column_sql = ", ".join(f'"{n}"' for n in names)
    placeholders = "(" + ", ".join("{}" for _ in names) + ")"
    tail = (" RETURNING " + ", ".join(f'"{r}"' for r in returning)) if returning else ""
    out: list[dict[str, Any]] = []
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        args: list[Any] = []
        for row in part:
            for name in names:
                value = row[name] if name in row else defaults[name]
                if hasattr(value, "python"):  # Piccolo's DateNow / TimestamptzNow defaults
                    value = value.python()
                args.append(json.dumps(value) if isinstance(value, list | dict) else value)
        sql = (
            f'INSERT INTO "{table._meta.tablename}" ({column_sql}) VALUES '  # noqa: S608
            + ", ".join(placeholders for _ in part)
            + tail
        )
        result = await table.raw(sql, *args)
        if returning:
            out.extend(result)
    return out
