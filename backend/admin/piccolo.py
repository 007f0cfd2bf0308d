"""piccolo_admin at /admin/db: a read-only browser of school structure for system administrators.

piccolo_admin cannot filter rows per user (it is a CRUD over whole tables), so it cannot be
scoped to one school; it is therefore open only to system administrators, read-only, and shows
only structure and timetable tables (no personal data: pupils, guardians, staff files, consent,
accounts and audit stay out). Every write and every school-scoped task goes through the API or
the /admin/tasks pages. Nobody has a piccolo_admin password: a system administrator signed in
to /admin/tasks opens it, which keeps a mirror `BaseUser` (random, never-shown password) and
starts a piccolo session for it (audited). See docs/decisions/0101-web-admin.md.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import asgi
from litestar.types import Receive, Scope, Send
from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_api.session_auth.tables import SessionsBase

from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.http import PUBLIC
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    CurriculumItem,
    Holiday,
    Lesson,
    LessonPlan,
    Municipality,
    Region,
    Room,
    School,
    SchoolClass,
    StudyGroup,
    StudyPeriod,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)

MOUNT_PATH = "/admin/db"
SESSION_COOKIE = "id"  # piccolo_api's session cookie name
SESSION_LIFETIME = timedelta(hours=1)

BROWSABLE = (
    Region,
    Municipality,
    School,
    AcademicYear,
    StudyPeriod,
    Holiday,
    SchoolClass,
    StudyGroup,
    Subject,
    CurriculumItem,
    TeachingAssignment,
    Room,
    BellSchedule,
    TimetableEntry,
    LessonPlan,
    Lesson,
)


def build_piccolo_admin() -> Any:
    return create_admin(
        tables=[TableConfig(t) for t in BROWSABLE],
        auth_table=BaseUser,
        session_table=SessionsBase,
        session_expiry=SESSION_LIFETIME,
        max_session_expiry=SESSION_LIFETIME,
        read_only=True,
        auto_include_related=False,  # staff, pupils: personal data stays out
        production=False,
        site_name="Парта: структура школ (только чтение)",
        default_language_code="ru",
    )


def piccolo_admin_handler() -> Any:
    app = build_piccolo_admin()

    @asgi(MOUNT_PATH, is_mount=True, copy_scope=True, opt=PUBLIC, include_in_schema=False)
    async def piccolo_admin(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return piccolo_admin


async def open_session(actor: Actor) -> tuple[str, datetime]:
    """A piccolo session for the (system administrator) actor's mirror user."""
    assert actor.user_id is not None
    username = f"parta-{actor.user_id}"
    async with transaction():
        row = await BaseUser.select(BaseUser.id).where(BaseUser.username == username).first()
        if row is None:
            user = BaseUser(
                username=username,
                password=secrets.token_urlsafe(48),  # never shown: no password sign-in
                email=f"{username}@users.parta.invalid",
                first_name=(actor.principal.display_name if actor.principal else "")[:100],
                active=True,
                admin=True,
                superuser=False,
            )
            await user.save()
            user_id = int(user.id)
        else:
            user_id = int(row["id"])
            await BaseUser.update({BaseUser.active: True, BaseUser.admin: True}).where(
                BaseUser.id == user_id
            )
        expires = datetime.now(UTC) + SESSION_LIFETIME
        session = await SessionsBase.create_session(
            user_id,
            expiry_date=expires.replace(tzinfo=None),
            max_expiry_date=expires.replace(tzinfo=None),
        )
        await record(actor, "admin.open_tables", object_type="piccolo_admin", object_id=user_id)
    return str(session.token), expires
