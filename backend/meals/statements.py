"""The pupil's statement as a file (XLSX or PDF): every entry with the balance after it, the
three balances on top, times on the school's clock. The same rows as the JSON statement, so the
family's file and screen always agree; rendered with the reports' tools (decision 0302)."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

import anyio

from backend.core.context import Actor
from backend.i18n import t
from backend.meals import accounts
from backend.meals.ledger import rub
from backend.reports.files import Sheet, to_pdf, to_xlsx
from backend.schools.people import movement
from backend.schools.people.contacts import pupils
from backend.schools.structure import services as structure

FileFormat = Literal["xlsx", "pdf"]
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
MAX_ROWS = 100_000  # a pupil's whole school life fits many times over


async def _pupil_name(student_id: int) -> str:
    """The full name from the pupil's class list today, else the first name."""
    class_id = await movement.class_on(student_id, await movement.pupil_today(student_id))
    if class_id is not None:
        for ref in await movement.students_of_class(
            class_id, await movement.pupil_today(student_id)
        ):
            if ref.id == student_id:
                return ref.full_name
    pupil = (await pupils([student_id])).get(student_id)
    return pupil.first_name if pupil else ""


def _who(actor: Actor) -> str:
    principal = actor.principal
    if principal is None:
        return t("reports.by_system")
    return principal.display_name or t("reports.no_name", user_id=principal.user_id)


async def statement_file(
    actor: Actor, student_id: int, file_format: FileFormat
) -> tuple[bytes, str, str]:
    """(content, media type, file name). Rights and the staff-read audit are the JSON
    statement's (`accounts.statement`)."""
    out = await accounts.statement(actor, student_id, limit=MAX_ROWS, offset=0)
    school = await structure.get_settings(Actor.system(), out.account.school_id)
    zone = ZoneInfo(school.time_zone)
    name = await _pupil_name(student_id)
    balance = out.account
    rows: list[list[Any]] = [
        [
            entry.at.astimezone(zone).strftime("%d.%m.%Y %H:%M"),
            entry.kind_name,
            rub(entry.amount),
            t(f"meals.status.{entry.hold_state}") if entry.hold_state else entry.status_name,
            " — ".join(text for text in (entry.basis, entry.reason) if text),
            rub(entry.posted_after),
        ]
        for entry in out.items
    ]
    sheet = Sheet(
        name=t("meals.statement.sheet"),
        title=t(
            "meals.statement.title",
            pupil=name,
            posted=rub(balance.posted),
            held=rub(balance.held),
            available=rub(balance.available),
        ),
        columns=[
            t("meals.statement.at"),
            t("meals.statement.operation"),
            t("meals.statement.amount"),
            t("meals.statement.state"),
            t("meals.statement.basis"),
            t("meals.statement.posted_after"),
        ],
        rows=rows,
    )
    render = to_xlsx if file_format == "xlsx" else to_pdf
    # Rendering a long statement takes CPU time: in a worker thread, off the event loop.
    content = await anyio.to_thread.run_sync(render, [sheet], _who(actor))
    return content, MEDIA[file_format], f"statement-{student_id}.{file_format}"
