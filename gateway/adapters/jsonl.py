"""A JSON-lines spool: one pass per line, appended by a controller's export, a script, or the
turnstile simulator. The position is the byte offset after the last whole line read."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from gateway.events import ControllerEvent

MAX_READ = 1 << 20  # bytes read per call: a day's backlog is taken in steps


class JsonLinesAdapter:
    def __init__(self, path: str | Path, name: str = "jsonl") -> None:
        self.path, self.name = Path(path), name

    async def read(self, position: str | None) -> tuple[list[ControllerEvent], str | None]:
        offset = int(position or 0)
        if not self.path.exists():
            return [], position
        with self.path.open("rb") as spool:
            spool.seek(offset)
            chunk = spool.read(MAX_READ)
        end = chunk.rfind(b"\n")
        if end < 0:
            return [], position  # no whole line yet
        events = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            data = json.loads(line)
            events.append(
                ControllerEvent(
                    device_event_id=f"{self.name}:{data['id']}",
                    card=str(data["card"]),
                    card_format=str(data["card_format"]),
                    access_point_id=int(data["access_point_id"]),
                    direction=str(data["direction"]),
                    result=str(data.get("result", "granted")),
                    controller_time=datetime.fromisoformat(data["time"]),
                )
            )
        return events, str(offset + end + 1)
