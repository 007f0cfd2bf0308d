"""A school with a turnstile, a gateway and carded pupils, and a signed-batch sender."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend.access.ingest import sign
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import School, Student
from tests.conftest import Backend
from tests.support import SignedIn, make_tenancy, sign_in

BASE = "/api/v1/access"


@dataclass
class Turnstiles:
    world: Backend
    school_id: int
    other_school_id: int
    security: SignedIn
    gateway_id: int
    key: str
    point_in: int
    point_out: int
    students: list[int] = field(default_factory=list)
    cards: dict[int, str] = field(default_factory=dict)  # student -> "facility,number"
    counter: list[int] = field(default_factory=lambda: [0])

    def event(
        self,
        student: int | None,
        at: datetime,
        direction: str = "in",
        *,
        card: str | None = None,
        card_format: str = "wiegand26",
        device_event_id: str | None = None,
        result: str = "granted",
    ) -> dict[str, Any]:
        self.counter[0] += 1
        return {
            "device_event_id": device_event_id or f"ev-{self.counter[0]}",
            "card": card if card is not None else self.cards[student or 0],
            "card_format": card_format,
            "access_point_id": self.point_in if direction == "in" else self.point_out,
            "direction": direction,
            "result": result,
            "controller_time": at.isoformat(),
        }

    async def post(
        self,
        events: list[dict[str, Any]],
        *,
        sent_at: datetime | None = None,
        key: str | None = None,
        timestamp: int | None = None,
        gateway_id: int | None = None,
    ) -> Any:
        body: dict[str, Any] = {"events": events}
        if sent_at is not None:
            body["sent_at"] = sent_at.isoformat()
        raw = json.dumps(body).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "X-Parta-Gateway": str(gateway_id or self.gateway_id),
            "X-Parta-Timestamp": str(ts),
            "X-Parta-Signature": sign(key or self.key, ts, raw),
            "Content-Type": "application/json",
        }
        return await self.world.client.post(f"{BASE}/ingest", content=raw, headers=headers)


def noon_zone() -> str:
    """A fixed-offset time zone where it is now between 10:00 and 14:00."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # Etc/GMT-3 is UTC+3


async def turnstiles(
    world: Backend,
    pupils: int = 3,
    *,
    ids: dict[str, int] | None = None,
    existing: list[int] | None = None,
) -> Turnstiles:
    """A turnstile in school A; `pupils` new pupils with cards, or cards for `existing` ones
    (with `ids` of a tenancy already made)."""
    if ids is None:
        ids = await make_tenancy(world)
        # Around noon on the school's clock, so that "today" is the same day for every pass a
        # test makes in the last hours, whenever the test runs.
        await School.update({School.time_zone: noon_zone()}).where(School.id == ids["school_a"])
    school = ids["school_a"]
    security = await sign_in(world, Grant(Role.SECURITY, ScopeKind.SCHOOL, school))
    points = []
    for name, direction in (("Турникет 1, вход", "in"), ("Турникет 1, выход", "out")):
        made = await world.client.post(
            f"{BASE}/schools/{school}/points",
            json={"name": name, "direction": direction, "lane": 1},
            headers=security.headers,
        )
        assert made.status_code == 201, made.text
        points.append(made.json()["id"])
    gateway = await world.client.post(
        f"{BASE}/schools/{school}/gateways", json={"name": "Шлюз"}, headers=security.headers
    )
    assert gateway.status_code == 201, gateway.text
    t = Turnstiles(
        world,
        school,
        ids["school_c"],
        security,
        gateway.json()["id"],
        gateway.json()["signing_key"],
        points[0],
        points[1],
    )
    if existing is None:
        existing = []
        for n in range(pupils):
            student = Student(school=school, last_name=f"Ученик{n}", first_name="Иван", sex="м")
            await student.save()
            existing.append(int(student.id))
    for n, student_id in enumerate(existing):
        card = f"{10 + n},{1000 + n}"
        issued = await world.client.post(
            f"{BASE}/schools/{school}/cards",
            json={
                "raw_value": card,
                "card_format": "wiegand26",
                "holder_kind": "student",
                "holder_id": student_id,
            },
            headers=security.headers,
        )
        assert issued.status_code == 201, issued.text
        t.students.append(student_id)
        t.cards[student_id] = card
    return t
