"""Rights cases of access control: school staff with access rights manage the registry and read
the school's log; families read their own children's entries; gateways sign their batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.access.tables import AccessGateway, AccessPoint
from backend.core.rights import Role
from tests.conftest import Backend
from tests.integration.rights import ALL_ROLES, Case, RightsWorld

BASE = "/api/v1/access"
MANAGERS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_ADMIN, Role.SECURITY})
FAMILY_READERS = frozenset({Role.GUARDIAN, Role.DELEGATE})


async def SETUP(world: Backend, rw: RightsWorld) -> None:
    """A turnstile and a gateway in school A."""
    now = datetime.now(UTC)
    school = rw.ids["school_a"]
    point = AccessPoint(school_id=school, name="Турникет", direction="both", created_at=now)
    await point.save()
    gateway = AccessGateway(school_id=school, name="Шлюз", signing_key="k" * 43, created_at=now)
    await gateway.save()
    rw.ids.update(access_point=point.id, access_gateway=gateway.id)


def _card(world: RightsWorld) -> dict[str, object]:
    n = world.unique()
    return {
        "raw_value": f"{n % 256},{n}",
        "card_format": "wiegand26",
        "holder_kind": "student",
        "holder_id": world.ids["student_a"],
    }


def _entries_url() -> str:
    today = datetime.now(UTC).date()
    return (
        f"{BASE}/students/{{student_a}}/entries?date_from={(today - timedelta(days=1)).isoformat()}"
        f"&date_to={today.isoformat()}"
    )


SCHOOL = f"{BASE}/schools/{{school_id:int}}"
SCHOOL_A = f"{BASE}/schools/{{school_a}}"

CASES = [
    Case("POST", f"{SCHOOL}/points", f"{SCHOOL_A}/points", MANAGERS, body={"name": "Вход 2"}),
    Case("GET", f"{SCHOOL}/points", f"{SCHOOL_A}/points", MANAGERS),
    Case(
        "PATCH",
        f"{BASE}/points/{{point_id:int}}",
        f"{BASE}/points/{{access_point}}",
        MANAGERS,
        body={"lane": 2},
    ),
    Case("POST", f"{SCHOOL}/cards", f"{SCHOOL_A}/cards", MANAGERS, body=_card),
    Case("GET", f"{SCHOOL}/cards", f"{SCHOOL_A}/cards", MANAGERS),
    Case(
        "POST",
        f"{BASE}/cards/{{card_id:int}}/block",
        f"{BASE}/cards/999999/block",
        MANAGERS,
        body={"reason": "lost"},
        ok=(404,),
        note="no card of nobody's; blocking one's own school's cards in test_registry",
    ),
    Case(
        "POST",
        f"{BASE}/cards/{{card_id:int}}/replace",
        f"{BASE}/cards/999999/replace",
        MANAGERS,
        body={"raw_value": "1,1", "card_format": "wiegand26"},
        ok=(404,),
        note="replacing in test_registry",
    ),
    Case("POST", f"{SCHOOL}/gateways", f"{SCHOOL_A}/gateways", MANAGERS, body={"name": "Шлюз 2"}),
    Case("GET", f"{SCHOOL}/gateways", f"{SCHOOL_A}/gateways", MANAGERS),
    Case(
        "POST",
        f"{BASE}/gateways/{{gateway_id:int}}/rotate-key",
        f"{BASE}/gateways/{{access_gateway}}/rotate-key",
        MANAGERS,
    ),
    Case("GET", f"{SCHOOL}/settings", f"{SCHOOL_A}/settings", MANAGERS),
    Case(
        "PUT",
        f"{SCHOOL}/settings",
        f"{SCHOOL_A}/settings",
        MANAGERS,
        body={"not_arrived_margin_minutes": 20},
    ),
    Case(
        "POST",
        f"{BASE}/ingest",
        f"{BASE}/ingest",
        ALL_ROLES,
        body={"events": []},
        public=True,
        ok=(401,),
        note="a gateway's HMAC signature is the proof, never a person's sign-in (test_ingest)",
    ),
    Case("GET", f"{SCHOOL}/presence", f"{SCHOOL_A}/presence", MANAGERS),
    Case("GET", f"{SCHOOL}/log", f"{SCHOOL_A}/log", MANAGERS),
    Case(
        "GET",
        f"{BASE}/students/{{student_id:int}}/entries",
        _entries_url(),
        MANAGERS | FAMILY_READERS,
    ),
    Case(
        "GET",
        f"{BASE}/classes/{{class_id:int}}/absent-inside",
        f"{BASE}/classes/{{class_a}}/absent-inside",
        MANAGERS | {Role.CLASS_TEACHER, Role.SCHOOL_COORDINATOR},
        note="the class's class teacher and school staff (decision 0702)",
    ),
]
