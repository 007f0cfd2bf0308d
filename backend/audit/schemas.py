"""API shapes of the audit context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class AuditEntryOut(msgspec.Struct):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_name: str
    actor_ip: str
    request_id: str
    action: str
    object_type: str
    object_id: str
    school_id: int | None
    student_id: int | None
    details: dict[str, Any]


class PersonalDataReadOut(msgspec.Struct):
    at: datetime
    who: str
    action: str
    what: str
