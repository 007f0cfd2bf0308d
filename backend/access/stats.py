"""Figures of the turnstile ingest for the operators' metrics (`backend.ops.metrics`)."""

from __future__ import annotations

from datetime import datetime

from backend.access.tables import AccessEvent


async def passes_received_since(since: datetime) -> int:
    return int(await AccessEvent.count().where(AccessEvent.received_at >= since))
