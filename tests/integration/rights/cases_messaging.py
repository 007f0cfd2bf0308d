"""Rights cases of messaging: the apps' own devices, preferences and inbox; schools' reports."""

from __future__ import annotations

from backend.core.rights import Role
from tests.integration.rights import ALL_ROLES, FAMILY, Case, RightsWorld

NOTIFIERS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.SCHOOL_ADMIN})
BASE = "/api/v1/messaging"


def _device(world: RightsWorld) -> dict[str, object]:
    return {"token": f"matrix-token-{world.unique()}", "platform": "android"}


def _announcement(world: RightsWorld) -> dict[str, object]:
    return {"school_id": world.ids["school_a"], "title": "Собрание", "text": "В пятницу в 18:00."}


CASES = [
    Case(
        "POST",
        f"{BASE}/chat-links",
        f"{BASE}/chat-links",
        FAMILY,
        body={"messenger": "telegram"},
        note="staff link no chats to the family bot: refused with 403",
    ),
    Case("POST", f"{BASE}/devices", f"{BASE}/devices", ALL_ROLES, body=_device),
    Case("GET", f"{BASE}/devices", f"{BASE}/devices", ALL_ROLES),
    Case(
        "DELETE",
        f"{BASE}/devices/{{device_id:int}}",
        f"{BASE}/devices/999999",
        ALL_ROLES,
        ok=(404,),
        note="a device of nobody: everyone is told it does not exist; own devices in test_api",
    ),
    Case("GET", f"{BASE}/preferences", f"{BASE}/preferences", ALL_ROLES),
    Case(
        "PUT",
        f"{BASE}/preferences",
        f"{BASE}/preferences",
        ALL_ROLES,
        body={"kind": "*", "channels": ["push", "telegram"], "quiet_from": "22:00"},
    ),
    Case(
        "POST",
        f"{BASE}/push-receipts",
        f"{BASE}/push-receipts",
        ALL_ROLES,
        body={"delivery_id": 999999, "token": "matrix-token-none"},
        public=True,
        ok=(404,),
        note="the device token is the proof, not a sign-in; own pushes in test_delivery",
    ),
    Case("GET", f"{BASE}/inbox", f"{BASE}/inbox", ALL_ROLES),
    Case("POST", f"{BASE}/inbox/read", f"{BASE}/inbox/read", ALL_ROLES, body={"all": True}),
    Case("GET", f"{BASE}/inbox/stream", f"{BASE}/inbox/stream?seconds=0", ALL_ROLES),
    Case("POST", f"{BASE}/announcements", f"{BASE}/announcements", NOTIFIERS, body=_announcement),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/delivery-stats",
        f"{BASE}/schools/{{school_a}}/delivery-stats",
        NOTIFIERS,
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/dead-letters",
        f"{BASE}/schools/{{school_a}}/dead-letters",
        NOTIFIERS,
    ),
    Case(
        "POST",
        f"{BASE}/deliveries/{{delivery_id:int}}/replay",
        f"{BASE}/deliveries/999999/replay",
        NOTIFIERS,
        ok=(404,),
        note="no failed delivery in the rights world; replay and its scope are in test_api",
    ),
]
