"""The audit log's retention: entries older than the configured term (`backend.ops.retention`).
The purge itself is written to the log afterwards, so the log always says what was removed."""

from __future__ import annotations

from datetime import datetime

from backend.audit.tables import AuditEntry
from backend.core.purge import purge_rows


async def purge(before: datetime, *, dry_run: bool) -> dict[str, int]:
    return {"audit_entry": await purge_rows(AuditEntry, AuditEntry.at < before, dry_run=dry_run)}
