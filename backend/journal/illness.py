"""Illness reports: a parent tells the school the child is ill (from the family app).

The report is kept, audited and announced as an outbox event (`illness.reported`, for the
notifications to route to the class teacher; they skip kinds they do not know yet); the
attendance stays the school's to record («б» on the lessons). Only a guardian of the
child reports; everyone who reads the child's diary sees the reports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Forbidden, ValidationFailed
from backend.core.rights import Role
from backend.events.services import emit
from backend.i18n import t
from backend.journal.diary import check_diary_reader
from backend.journal.tables import IllnessReport
from backend.schools.people import movement

MAX_DAYS = 31  # a longer illness is a doctor's certificate for the office, not a report
ILLNESS_REPORTED = "illness.reported"


def _refuse(field: str, key: str, **params: Any) -> None:
    message = t(key, **params)
    raise ValidationFailed(message, details=[{"field": field, "message": message}])


def _row(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": report["id"],
        "student_id": report["student"],
        "date_from": report["date_from"],
        "date_to": report["date_to"],
        "comment": report["comment"],
        "created_at": report["created_at"],
    }


async def report_illness(
    actor: Actor, student_id: int, date_from: date, date_to: date, comment: str
) -> dict[str, Any]:
    await check_diary_reader(actor, student_id)
    principal = actor.principal
    if principal is None or not any(
        g.role is Role.GUARDIAN and g.scope_id == student_id for g in principal.live_grants()
    ):
        raise Forbidden(key="journal.illness_only_guardian")
    if date_to < date_from:
        _refuse("date_to", "journal.illness_dates")
    if date_to - date_from > timedelta(days=MAX_DAYS - 1):
        _refuse("date_to", "journal.illness_too_long", days=MAX_DAYS)
    today = await movement.pupil_today(student_id)
    if date_from < today - timedelta(days=7) or date_from > today + timedelta(days=30):
        _refuse("date_from", "journal.illness_from")
    target = await movement.student_target(student_id)
    async with transaction():
        rows = await IllnessReport.insert(
            IllnessReport(
                student=student_id,
                school=target.school_id,
                date_from=date_from,
                date_to=date_to,
                comment=comment.strip(),
                reported_by=actor.user_id,
                created_at=datetime.now(UTC),
            )
        ).returning(*IllnessReport.all_columns())
        report = _row(rows[0])
        await record(
            actor,
            AuditAction.CREATE,
            object_type="illness_report",
            object_id=report["id"],
            school_id=target.school_id,
            student_id=student_id,
            details={"date_from": str(date_from), "date_to": str(date_to)},
        )
        await emit(
            ILLNESS_REPORTED,
            {
                "report_id": report["id"],
                "date_from": str(date_from),
                "date_to": str(date_to),
                "comment": report["comment"],
            },
            school_id=target.school_id,
            student_id=student_id,
        )
    return report


async def illness_reports(actor: Actor, student_id: int) -> list[dict[str, Any]]:
    """The child's reports, newest first (the last year's)."""
    await check_diary_reader(actor, student_id)
    rows = (
        await IllnessReport.select(*IllnessReport.all_columns())
        .where(
            (IllnessReport.student == student_id)
            & (IllnessReport.date_from >= datetime.now(UTC).date() - timedelta(days=366))
        )
        .order_by(IllnessReport.date_from, ascending=False)
        .limit(100)
    )
    return [_row(r) for r in rows]
