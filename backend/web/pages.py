"""The staff web's pages (/admin/web): the start page and the class-and-subject journal grid.

Each handler reads the person from the admin's cookie (`session.py`); a request without it goes
to the sign-in form. Rights are the services': the grid comes from `journal.grid` (404 outside
the reader's classes), and every cell is saved through `journal.sync.sync_lesson`, the teacher
app's path, so the window, the period lock, conflicts, history, audit and the outbox are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from backend.core.context import Actor
from backend.core.errors import DomainError, ValidationFailed
from backend.core.forms import ru_number
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import has, t
from backend.journal.grid import (
    journal_cell,
    journal_choices,
    journal_grid,
    journal_homework,
    journal_topic,
)
from backend.journal.schemas import OpResult, SyncOp, SyncRequest
from backend.journal.sync import sync_lesson
from backend.web.kit import (
    Staff,
    htmx_refusal,
    op_id,
    page,
    parse_date,
    parse_id,
    school_of,
    signed_form,
    staff_page,
)
from backend.web.nav import JOURNAL_PERMISSIONS
from backend.web.session import csrf_token

HERE = Path(__file__).parent
BASE = "/admin/web"
STATIC = f"{BASE}/static"
ATTENDANCE = ("present", "absent", "sick", "excused", "late")
ACTIONS = ("attendance", "mark", "mark_delete")


def _pairs(rows: list[dict[str, Any]], label: str, value: str) -> list[tuple[Any, Any]]:
    """Rows as (label, value) pairs: a chart's items (reports/_charts.html)."""
    return [(r[label], r[value]) for r in rows]


def _count_by(rows: list[dict[str, Any]], key: str) -> list[tuple[Any, int]]:
    """How many rows share each value of `key`, most first: a chart's items."""
    counts: dict[Any, int] = {}
    for r in rows:
        counts[r[key]] = counts.get(r[key], 0) + 1
    return sorted(counts.items(), key=lambda x: (-x[1], str(x[0])))


def _configure(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals.update(t=t, static=STATIC, base=BASE)
    engine.engine.filters.update(pairs=_pairs, count_by=_count_by, num=ru_number)
    engine.engine.trim_blocks = True
    engine.engine.lstrip_blocks = True


TEMPLATES = TemplateConfig(
    directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_configure
)
STATIC_ROUTER = create_static_files_router(
    path=STATIC, directories=[HERE / "static"], include_in_schema=False, opt=PUBLIC
)


class StaffWebController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            return page(request, "home.html", staff.principal)

        return await staff_page(request, (), "web.not_staff", show)

    @get("/journal")
    async def journal(self, request: Request[Any, Any, Any]) -> Response[Any]:
        query = request.query_params

        async def show(staff: Staff) -> Response[Any]:
            principal, actor = staff.principal, staff.actor
            if not query.get("class_id"):
                school_id = None
                if principal.is_system(Permission.JOURNAL_MANAGE):
                    school_id = await school_of(request, staff, Permission.JOURNAL_MANAGE)
                choices = await journal_choices(actor, school_id)
                return page(request, "journal_pick.html", principal, choices=choices)
            grid = await journal_grid(
                actor,
                parse_id(query.get("class_id"), "class_id"),
                parse_id(query.get("subject_id"), "subject_id"),
                parse_date(query.get("from"), "from"),
                parse_date(query.get("to"), "to"),
            )
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return page(request, "journal.html", principal, grid=grid, op_id=op_id, here_full=here)

        return await staff_page(request, JOURNAL_PERMISSIONS, "web.no_journal", show)

    @post("/journal/cell", status_code=200)
    async def save_cell(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """One keystroke in the grid: an absence, a mark or a mark's removal for one pupil on one
        lesson, saved as a one-operation sync of that lesson. Answers the cell as stored now."""

        def one(form: dict[str, Any]) -> SyncOp:
            return _operation(form, parse_id(form.get("student_id"), "student_id"))

        synced = await _sync_one(request, one)
        if isinstance(synced, Response):
            return synced
        actor, lesson_id, form, result = synced
        student_id = parse_id(form.get("student_id"), "student_id")  # read by `one` already
        cell = await journal_cell(actor, lesson_id, student_id)
        if result.status == "conflict":
            who = result.changed_by.name if result.changed_by else t("web.someone")
            message, error = t("web.conflict", who=who), True
        else:
            message, error = t("web.saved"), False
        return Template(
            template_name="cell_saved.html",
            context={
                "cell": cell,
                "lesson_id": lesson_id,
                "pupil_id": student_id,
                "lock": None,
                "conflict": result.status == "conflict",
                "message": message,
                "error": error,
            },
        )

    @post("/journal/topic", status_code=200)
    async def save_topic(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A lesson's topic, typed under the grid: a one-operation sync of that lesson."""

        def one(form: dict[str, Any]) -> SyncOp:
            parse_date(str(form.get("date") or ""), "date")
            op: dict[str, Any] = {
                "op_id": str(form.get("op_id", ""))[:64],
                "kind": "topic",
                "topic": str(form.get("topic", "")),
            }
            version = str(form.get("base_version", ""))
            if version:
                op["base_version"] = parse_id(version, "base_version")
            return _convert(op)

        synced = await _sync_one(request, one)
        if isinstance(synced, Response):
            return synced
        _, lesson_id, form, result = synced
        day = parse_date(str(form.get("date") or ""), "date")  # read by `one` already
        topic, topic_version = await journal_topic(lesson_id)
        conflict = result.status == "conflict"
        if conflict:
            who = result.changed_by.name if result.changed_by else t("web.someone")
            message = t("web.topic_conflict", who=who)
        else:
            message = t("web.saved")
        return Template(
            template_name="topic_saved.html",
            context={
                "lesson": {
                    "id": lesson_id,
                    "date": day,
                    "topic": topic,
                    "topic_version": topic_version,
                    "lock": None,
                },
                "op_id": op_id,
                "csrf": csrf_token(request),
                "conflict": conflict,
                "message": message,
                "error": conflict,
            },
        )

    @post("/journal/homework", status_code=200)
    async def save_homework(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A lesson's homework text (and due date), typed under the grid: a one-operation sync
        of that lesson; the lesson's first homework is edited, or one is created."""

        def one(form: dict[str, Any]) -> SyncOp:
            parse_date(str(form.get("date") or ""), "date")
            due = parse_date(str(form.get("due_date") or ""), "due_date")
            op: dict[str, Any] = {
                "op_id": str(form.get("op_id", ""))[:64],
                "kind": "homework",
                "text": str(form.get("text", "")),
            }
            if due is not None:
                op["due_date"] = due.isoformat()
            if form.get("homework_id"):
                op["homework_id"] = parse_id(form.get("homework_id"), "homework_id")
                op["base_version"] = parse_id(form.get("base_version"), "base_version")
            return _convert(op)

        synced = await _sync_one(request, one)
        if isinstance(synced, Response):
            return synced
        _, lesson_id, form, result = synced
        day = parse_date(str(form.get("date") or ""), "date")  # read by `one` already
        conflict = result.status == "conflict"
        if conflict:
            changed = result.changed_by
            message = t("web.homework_conflict", who=changed.name if changed else t("web.someone"))
        else:
            message = t("web.saved")
        return Template(
            template_name="homework_saved.html",
            context={
                "lesson": {
                    "id": lesson_id,
                    "date": day,
                    "homework": await journal_homework(lesson_id),
                    "lock": None,
                },
                "op_id": op_id,
                "csrf": csrf_token(request),
                "conflict": conflict,
                "message": message,
                "error": conflict,
                "back": _page_of(request),
            },
        )


async def _sync_one(
    request: Request[Any, Any, Any], one: Callable[[dict[str, Any]], SyncOp]
) -> tuple[Actor, int, dict[str, Any], OpResult] | Response[Any]:
    """One lesson's edit typed in the grid, saved as a one-operation sync of that lesson (the
    teacher app's path): the form's CSRF token, the sign-in, the lesson and the operation from
    `one(form)`. Answers the caller, the lesson, the form and the operation's result; a refusal
    (nothing was written: the grid stays as it was) is the message in the journal's status line.
    """
    try:
        actor, form = await signed_form(request)
        lesson_id = parse_id(form.get("lesson_id"), "lesson_id")
        op = one(form)
        answer = await sync_lesson(
            actor, lesson_id, SyncRequest(operations=[op]), request.app.state.diary_weeks
        )
    except DomainError as exc:
        return htmx_refusal(exc, "#journal-status")
    return actor, lesson_id, form, answer.results[0]


def _page_of(request: Request[Any, Any, Any]) -> str:
    """The journal page an HTMX request came from (its own address, never another site's), so
    a partial answered to it can offer the forms that return there."""
    url = urlsplit(request.headers.get("hx-current-url", ""))
    path = url.path + (f"?{url.query}" if url.query else "")
    return path if url.path == f"{BASE}/journal" else ""


def _convert(op: dict[str, Any]) -> SyncOp:
    try:
        return msgspec.convert(op, SyncOp)
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit("$.", 1)[-1].rstrip("`").split("`")[0] or "value"
        name = t(f"web.field.{field}") if has(f"web.field.{field}") else t("web.field.value")
        raise ValidationFailed(key="error.wrong_type", field=name) from exc


def _operation(form: dict[str, Any], student_id: int) -> SyncOp:
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        raise ValidationFailed(key="error.wrong_type", field=t("web.field.action"))
    op: dict[str, Any] = {
        "op_id": str(form.get("op_id", ""))[:64],
        "kind": action,
        "student_id": student_id,
    }
    version = str(form.get("base_version", ""))
    if version:
        op["base_version"] = parse_id(version, "base_version")
    if action == "attendance":
        status = str(form.get("value", ""))
        if status not in ATTENDANCE:
            raise ValidationFailed(key="error.wrong_type", field=t("web.field.status"))
        op["status"] = status
        if status == "late" and form.get("late_minutes"):
            op["late_minutes"] = parse_id(form.get("late_minutes"), "late_minutes")
    elif action == "mark":
        op["value"] = str(form.get("value", ""))
        op["work_kind"] = str(form.get("work_kind", "")) or "answer"
    else:
        op["mark_id"] = parse_id(form.get("mark_id"), "mark_id")
        del op["student_id"]
    return _convert(op)
