"""The gateway's outbox: every pass an adapter read, kept on disk until the server has it.

SQLite with `synchronous=FULL`: a pass the adapter handed over survives a power cut. A pass is
keyed by its `device_event_id`, so an adapter that reads an overlapping window again adds
nothing twice. Passes leave in the order they were read; a batch is marked sent only after the
server acknowledged it, so a crash between sending and marking sends it again (the server
stores each pass once).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from gateway.events import ControllerEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device_event_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    rejected TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS pending_unsent ON pending (sent, seq);
CREATE TABLE IF NOT EXISTS cursor (adapter TEXT PRIMARY KEY, position TEXT NOT NULL);
"""


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, events: list[ControllerEvent], cursor: tuple[str, str] | None = None) -> int:
        """Keep new passes (and, in the same transaction, where the adapter got to)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO pending (device_event_id, event) VALUES (?, ?)",
                    [(e.device_event_id, json.dumps(e.as_json())) for e in events],
                )
                added = self._db.total_changes - before
                if cursor is not None:
                    self._db.execute(
                        "INSERT INTO cursor (adapter, position) VALUES (?, ?) "
                        "ON CONFLICT (adapter) DO UPDATE SET position = excluded.position",
                        cursor,
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def cursor(self, adapter: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM cursor WHERE adapter = ?", (adapter,)
            ).fetchone()
        return row[0] if row else None

    def next_batch(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event FROM pending WHERE sent = 0 AND rejected = '' "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [(seq, json.loads(event)) for seq, event in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        with self._lock:
            self._db.executemany("UPDATE pending SET sent = 1 WHERE seq = ?", [(s,) for s in seqs])

    def reject(self, seq: int, reason: str) -> None:
        """Set aside a pass the server refused as malformed (kept for the operator)."""
        with self._lock:
            self._db.execute("UPDATE pending SET rejected = ? WHERE seq = ?", (reason[:500], seq))

    def counts(self) -> dict[str, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT SUM(sent = 0 AND rejected = ''), SUM(sent = 1), SUM(rejected != '') "
                "FROM pending"
            ).fetchone()
        return {"pending": row[0] or 0, "sent": row[1] or 0, "rejected": row[2] or 0}
