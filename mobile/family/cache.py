"""What the family app read last, kept on the phone (SQLite): the offline copy of each
answer with the time it came, the ETags of the API client, and the person's choices.

The screens always draw from here (an answer is stored first, then shown), so a screen
reads the same without a network, marked with the time of its copy.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS reads (
    key TEXT PRIMARY KEY, body BLOB NOT NULL, fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS etags (key TEXT PRIMARY KEY, etag TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS choices (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Cache:
    """One small SQLite file; every call is a short statement (safe on the UI thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # offline copies
    def read(self, key: str) -> tuple[bytes, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body, fetched_at FROM reads WHERE key = ?", (key,)
            ).fetchone()
        return (bytes(row[0]), float(row[1])) if row else None

    def keep(self, key: str, body: bytes, fetched_at: float | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO reads (key, body, fetched_at) VALUES (?, ?, ?)",
                (key, body, fetched_at if fetched_at is not None else time.time()),
            )

    def forget_all(self) -> None:
        """Sign-out: nothing of the family stays on the phone."""
        with self._lock:
            self._db.execute("DELETE FROM reads")
            self._db.execute("DELETE FROM etags")
            self._db.execute("DELETE FROM choices")

    # the API client's ETag cache (survives restarts: a fresh start asks with If-None-Match)
    def get(self, key: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT etag, body FROM etags WHERE key = ?", (key,)).fetchone()
        return (str(row[0]), bytes(row[1])) if row else None

    def put(self, key: str, etag: str, body: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO etags (key, etag, body) VALUES (?, ?, ?)",
                (key, etag, body),
            )

    # the person's choices (the child shown)
    def choice(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM choices WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def choose(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO choices (key, value) VALUES (?, ?)", (key, value)
            )
