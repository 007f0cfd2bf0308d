"""Deleting old rows in chunks (the retention rules, `backend.ops.retention`): each chunk is
its own short transaction, so a purge of years of a region's journal never holds one huge
transaction or locks a table for long. A dry run only counts."""

from __future__ import annotations

from typing import Any

from piccolo.table import Table

from backend.core.db import transaction

CHUNK = 5_000


async def purge_rows(table: type[Table], where: Any, *, dry_run: bool) -> int:
    """Delete the rows of `table` matching `where` (or count them when `dry_run`)."""
    if dry_run:
        return int(await table.count().where(where))
    key = table._meta.primary_key
    total = 0
    while True:
        async with transaction():
            rows = await table.select(key).where(where).limit(CHUNK)
            ids = [row[key._meta.name] for row in rows]
            if not ids:
                return total
            await table.delete().where(key.is_in(ids))
        total += len(ids)
