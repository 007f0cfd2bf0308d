"""File storage behind one small interface: local disk under `settings.media_root` by default.

Another backend (an S3-compatible store) implements the same `Storage` protocol. Keys are
generated here, never taken from the uploader, so a file name cannot escape the storage root.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio


@runtime_checkable
class Storage(Protocol):
    async def save(self, data: bytes, *, suffix: str = "") -> str:
        """Store bytes; returns the key to read them back."""
        ...

    async def load(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key outside the storage root")
        return path

    async def save(self, data: bytes, *, suffix: str = "") -> str:
        clean = "".join(c for c in suffix.lower() if c.isalnum())[:10]
        key = f"{datetime.now(UTC):%Y/%m}/{secrets.token_hex(16)}{'.' + clean if clean else ''}"
        path = self._path(key)
        await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
        await anyio.Path(path).write_bytes(data)
        return key

    async def load(self, key: str) -> bytes:
        return await anyio.Path(self._path(key)).read_bytes()

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)
