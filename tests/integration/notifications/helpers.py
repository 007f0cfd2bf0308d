"""Arranging families and waiting for deliveries in the notifications tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.core.db import transaction
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.services import emit
from backend.messaging.tables import DeviceToken, MessengerChat, NotificationPreference
from backend.schools.tables import Guardian, Student, StudentGuardian
from tests.conftest import Backend
from tests.support import TEST_PASSWORD, make_tenancy, make_user


@dataclass
class Family:
    school_id: int
    student_id: int
    guardian_id: int
    user_id: int
    token: str
    chat_id: int
    phone: str
    email: str
    login: str = ""  # the guardian's, for signing in (`tests.support.TEST_PASSWORD`)
    max_chat_id: int = 0  # the guardian's dialog with the MAX bot


async def make_family(
    world: Backend,
    *,
    school_id: int | None = None,
    channels: list[str] | None = None,
    n: int = 1,
    email: str | None = None,
    phone: str | None = None,
    prefs: dict[str, Any] | None = None,
    time_zone: str | None = None,
) -> Family:
    if school_id is None:
        school_id = (await make_tenancy(world))["school_a"]
    if time_zone is not None:
        from backend.schools.tables import School

        await School.update({School.time_zone: time_zone}).where(School.id == school_id)
    student = Student(
        school=school_id, last_name="Иванов", first_name=f"Пётр{n}" if n > 1 else "Пётр"
    )
    await student.save()
    user_id, login = await make_user(
        world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, student.id), name="Иванова Анна"
    )
    phone = phone or f"+7900{n:07d}"
    email = email or f"parent{n}@mail.ru"
    guardian = Guardian(
        last_name="Иванова", first_name="Анна", phone=phone, email=email, user_id=user_id
    )
    await guardian.save()
    await StudentGuardian(student=student.id, guardian=guardian.id).save()
    now = datetime.now(UTC)
    token = f"fcm-token-{n}-{world.unique('t')}"
    chat_id = 10_000 + n
    await DeviceToken(user_id=user_id, token=token, created_at=now, last_seen_at=now).save()
    max_chat_id = 30_000 + n
    for messenger, chat in (("telegram", chat_id), ("max", max_chat_id)):
        await MessengerChat(
            user_id=user_id, messenger=messenger, chat_id=chat, linked_at=now
        ).save()
    if channels is not None or prefs:
        await NotificationPreference(
            user_id=user_id,
            kind="*",
            student_id=0,
            channels=channels,
            updated_at=now,
            **(prefs or {}),
        ).save()
    return Family(
        school_id,
        student.id,
        guardian.id,
        user_id,
        token,
        chat_id,
        phone,
        email,
        login,
        max_chat_id=max_chat_id,
    )


async def emit_mark(
    family: Family, value: str = "5", subject: str = "Математика", **extra: Any
) -> int:
    async with transaction():
        return await emit(
            "mark.created",
            {
                "student_id": family.student_id,
                "school_id": family.school_id,
                "subject": subject,
                "value": value,
                "date": "2026-11-20",
                **extra,
            },
            school_id=family.school_id,
            student_id=family.student_id,
        )


async def sign_in_as(world: Backend, family: Family) -> dict[str, str]:
    """The guardian signed in: headers for the API."""
    response = await world.client.post(
        "/api/v1/auth/login", json={"identifier": family.login, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def wait_for(
    condition: Callable[[], Any], seconds: float = 15.0, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(interval)
