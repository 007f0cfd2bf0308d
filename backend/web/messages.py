"""The staff web's messages (/admin/web/messages): an announcement to every family of the
school or of one class, the delivery statistics by channel and status, and the dead letters
with replay.

The same services as `/api/v1/messaging` (announce, school_statistics, dead_letters, replay):
`notify.school` at the school, the audit of the statistics read, the outbox. A refused form
comes back with the service's Russian message and nothing sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.errors import DomainError, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import t
from backend.messaging import schemas as ms
from backend.messaging import services as messaging
from backend.schools.timetable import services as timetable
from backend.web.kit import (
    AnyRequest,
    Staff,
    form_struct,
    form_writer,
    in_school,
    page,
    parse_date,
    parse_id,
    school_of,
    staff_page,
)
from backend.web.nav import MESSAGE_PERMISSIONS
from backend.web.year import years_of

BASE = "/admin/web/messages"
PAGE = 50
NOTIFY = (Permission.NOTIFY_SCHOOL,)
NO_ACCESS = "web.messages.no_access"
CHANNELS = ("push", "telegram", "max", "email", "sms")
STATUSES = ("queued", "sent", "delivered", "failed", "skipped")


class MessagesController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    async def _render(
        self,
        request: AnyRequest,
        staff: Staff,
        *,
        problem: str | None = None,
        status: int = 200,
        form: dict[str, Any] | None = None,
    ) -> Response[Any]:
        query = request.query_params

        async def build(staff: Staff, school_id: int) -> Response[Any]:
            since_day = parse_date(query.get("since"), "since")
            since_day = since_day or (datetime.now(UTC) - timedelta(days=7)).date()
            since = datetime.combine(since_day, time.min, tzinfo=UTC)
            offset = parse_id(query.get("offset") or "0", "offset")
            stats = await messaging.school_statistics(staff.actor, school_id, since)
            dead, total = await messaging.dead_letters(staff.actor, school_id, PAGE, offset)
            _, year = await years_of(staff, school_id, None)
            choices = await timetable.school_choices(
                staff.actor, school_id, year["id"] if year else None
            )
            done = str(query.get("done") or "")
            return page(
                request,
                "messages/messages.html",
                staff.principal,
                status=status,
                school_id=school_id,
                since=since_day,
                stats=stats,
                classes=choices["classes"],
                dead=dead,
                total=total,
                offset=offset,
                page_size=PAGE,
                problem=problem,
                form=form or {},
                done=t(f"web.messages.done.{done}") if done in ("announce", "replay") else "",
                channel_names={c: t(f"web.messages.channel.{c}") for c in CHANNELS},
                status_names={s: t(f"web.messages.status.{s}") for s in STATUSES},
            )

        return await in_school(request, staff, NOTIFY, build)

    @get("/")
    async def messages(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await staff_page(
            request, MESSAGE_PERMISSIONS, NO_ACCESS, lambda st: self._render(request, st)
        )

    @post("/", status_code=200)
    async def act(self, request: Request[Any, Any, Any]) -> Response[Any]:
        staff, form = await form_writer(request, Permission.NOTIFY_SCHOOL, NO_ACCESS)
        if isinstance(staff, Response):
            return staff
        what = str(form.get("what") or "")
        try:
            school_id = await school_of(request, staff, *NOTIFY)
            if what == "announce":
                data = form_struct(
                    ms.AnnouncementIn,
                    {
                        "school_id": school_id,
                        "title": form.get("title"),
                        "text": form.get("text"),
                        "urgent": bool(form.get("urgent")),
                        "class_id": form.get("class_id"),
                    },
                )
                await messaging.announce(
                    staff.actor, data.school_id, data.title, data.text, data.urgent, data.class_id
                )
            elif what == "replay":
                await messaging.replay(staff.actor, parse_id(form.get("delivery_id"), "delivery"))
            else:
                raise ValidationFailed(key="error.choice_field", field=t("web.field.what"))
        except DomainError as exc:
            return await self._render(
                request, staff, problem=exc.message, status=exc.status_code, form=form
            )
        query = urlencode({"school": school_id, "done": what})
        return Redirect(path=f"{BASE}?{query}", status_code=HTTP_303_SEE_OTHER)
