"""The journal's other pages (/admin/web/journal/...): final marks of a class in a subject for a
study period or the year, a pupil's card with all subjects, and homework files.

Final marks are the API's: the sheet is `journal.services.final_mark_sheet` (its readers are
decision 0355's: the subject's teachers of the class, the class teacher, the coordinator) and a
mark is set by `journal.services.set_final_mark` (decision 0351: the coordinator, or a teacher of
the subject in the class; a closed period is locked; a stale version is a conflict). The card is
`journal.card.pupil_card` (its readers are the journal's, decision 0352). A homework file is
stored by `journal.services.upload_attachment` (the kinds of file by their first bytes, decision
0011) and tied to the homework by the lesson sync, as the teacher app does; it is read back by
`journal.services.download_attachment`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.bounds import PathId
from backend.core.errors import DomainError, ValidationFailed
from backend.core.http import PUBLIC
from backend.i18n import t
from backend.journal import services
from backend.journal.card import class_and_subject, class_periods, current_period, pupil_card
from backend.journal.file_types import file_type
from backend.journal.grid import journal_homework
from backend.journal.schemas import FinalMarkIn, SyncOp, SyncRequest
from backend.journal.services import MAX_ATTACHMENT_BYTES
from backend.journal.sync import sync_lesson
from backend.web.kit import (
    Staff,
    field,
    htmx_refusal,
    op_id,
    optional_id,
    page,
    parse_date,
    parse_id,
    signed_form,
    staff_page,
)
from backend.web.nav import JOURNAL_PERMISSIONS
from backend.web.session import check_csrf, csrf_token

BASE = "/admin/web/journal"
KINDS = ("period", "year")


def _kind(value: Any) -> str:
    kind = str(value or "period")
    if kind not in KINDS:
        raise ValidationFailed(key="error.wrong_type", field=field("final_kind"))
    return kind


def _back(value: Any) -> str:
    """Where a plain form returns to: a page of the journal only (never another site)."""
    text = str(value or "")
    return text if text.startswith(BASE) and "//" not in text else BASE


class JournalMoreController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/final")
    async def final_marks(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Period or year marks of a class in a subject: each pupil's weighted average, the
        proposed mark and the one set, with a field to confirm or change it."""

        async def show(staff: Staff) -> Response[Any]:
            query = request.query_params
            class_id = parse_id(query.get("class_id"), "class_id")
            subject_id = parse_id(query.get("subject_id"), "subject_id")
            kind = _kind(query.get("kind"))
            periods = await class_periods(class_id)
            period_id = optional_id(query.get("period_id"), "period_id")
            if kind == "period" and period_id is None:
                period_id = await current_period(class_id, periods)
            sheet = await services.final_mark_sheet(
                staff.actor, class_id, subject_id, kind, period_id if kind == "period" else None
            )
            names = await class_and_subject(class_id, subject_id)
            period = next((p for p in periods if p.id == period_id), None)
            return page(
                request,
                "journal/final.html",
                staff.principal,
                sheet=sheet,
                class_name=names[0],
                subject_name=names[1],
                periods=periods,
                period=period if kind == "period" else None,
                locked=bool(kind == "period" and period and period.closed),
            )

        return await staff_page(request, JOURNAL_PERMISSIONS, "web.no_journal", show)

    @post("/final", status_code=200)
    async def set_final(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """One pupil's final mark confirmed or changed (HTMX): answers the row as stored."""
        try:
            actor, form = await signed_form(request)
            class_id = parse_id(form.get("class_id"), "class_id")
            value = str(form.get("value", "")).strip()
            if not value:
                raise ValidationFailed(key="error.missing_field", field=field("value"))
            data: dict[str, Any] = {
                "student_id": parse_id(form.get("student_id"), "student_id"),
                "subject_id": parse_id(form.get("subject_id"), "subject_id"),
                "kind": _kind(form.get("kind")),
                "value": value,
            }
            period_id = optional_id(form.get("period_id"), "period_id")
            if period_id is not None:
                data["study_period_id"] = period_id
            if form.get("base_version"):
                data["base_version"] = parse_id(form.get("base_version"), "base_version")
            try:
                final = msgspec.convert(data, FinalMarkIn)
            except msgspec.ValidationError as exc:
                raise ValidationFailed(key="error.wrong_type", field=field("value")) from exc
            saved = await services.set_final_mark(
                actor, class_id, final, request.app.state.diary_weeks
            )
        except DomainError as exc:
            return htmx_refusal(exc, "#journal-status")
        return Template(
            template_name="journal/final_saved.html",
            context={
                "row": {
                    "student_id": saved.student_id,
                    "name": str(form.get("name", ""))[:200],
                    "weighted_average": saved.weighted_average,
                    "proposed": saved.proposed,
                    "value": saved.value,
                    "version": saved.version,
                },
                "sheet": {"class_id": class_id, "subject_id": saved.subject_id, "kind": saved.kind},
                "period_id": saved.study_period_id,
                "csrf": csrf_token(request),
                "locked": False,
                "message": t("web.saved"),
            },
        )

    @get("/pupils/{student_id:int}")
    async def card(self, request: Request[Any, Any, Any], student_id: PathId) -> Response[Any]:
        """A pupil's card: every subject's marks, averages and final marks, and the attendance
        (lessons missed by kind) for a study period or a span of dates."""

        async def show(staff: Staff) -> Response[Any]:
            query = request.query_params
            found = await pupil_card(
                staff.actor,
                student_id,
                optional_id(query.get("period_id"), "period_id"),
                parse_date(query.get("from"), "from"),
                parse_date(query.get("to"), "to"),
            )
            return page(request, "journal/card.html", staff.principal, card=found)

        return await staff_page(request, JOURNAL_PERMISSIONS, "web.no_journal", show)

    @post(
        "/homework/files", status_code=303, request_max_body_size=MAX_ATTACHMENT_BYTES + 64 * 1024
    )
    async def upload(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A file added to a lesson's homework (a plain form): stored by the journal's file
        service, then named in a homework operation of the lesson sync (a new homework when the
        lesson has none yet). Back to the grid; a refusal is a page with the service's words."""

        async def show(staff: Staff) -> Response[Any]:
            form = dict((await request.form()).items())
            check_csrf(request, form)
            lesson_id = parse_id(form.get("lesson_id"), "lesson_id")
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed(key="error.missing_field", field=field("file"))
            content = await upload.read()
            stored = await services.upload_attachment(
                staff.actor,
                lesson_id,
                upload.filename or "file",
                content,
                request.app.state.storage,
            )
            homework = await journal_homework(lesson_id)
            op: dict[str, Any] = {"op_id": op_id(), "kind": "homework"}
            if homework is None or homework.id is None:
                op |= {"text": "", "attachment_ids": [stored.id]}
            else:
                op |= {
                    "homework_id": homework.id,
                    "base_version": homework.version,
                    "text": homework.text,
                    "attachment_ids": [*(f["id"] for f in homework.files), stored.id],
                }
                if homework.due_date is not None:
                    op["due_date"] = homework.due_date.isoformat()
            answer = await sync_lesson(
                staff.actor,
                lesson_id,
                SyncRequest(operations=[msgspec.convert(op, SyncOp)]),
                request.app.state.diary_weeks,
            )
            if answer.results[0].status == "conflict":
                raise ValidationFailed(key="web.homework_changed")
            back = _back(form.get("back"))
            return Redirect(path=f"{back}#homework-{lesson_id}", status_code=HTTP_303_SEE_OTHER)

        return await staff_page(request, JOURNAL_PERMISSIONS, "web.no_journal", show)

    @get("/files/{attachment_id:int}")
    async def download(
        self, request: Request[Any, Any, Any], attachment_id: PathId
    ) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            row, content = await services.download_attachment(
                staff.actor, attachment_id, request.app.state.storage
            )
            name = quote(row["file_name"])
            return Response(
                content,
                media_type=file_type(row["file_name"]) or "application/octet-stream",
                headers={
                    "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return await staff_page(request, JOURNAL_PERMISSIONS, "web.no_journal", show)
