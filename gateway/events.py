"""A pass as the gateway carries it: what the ingest API takes (docs/access.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ControllerEvent:
    device_event_id: str  # unique per gateway: the controller's own id, prefixed by the adapter
    card: str
    card_format: str
    access_point_id: int
    direction: str  # in | out
    result: str  # granted | denied
    controller_time: datetime

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["controller_time"] = self.controller_time.isoformat()
        return data
