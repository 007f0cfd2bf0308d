"""Requisitions (заявки на питание): at a meal day's cut-off, what each caterer cooks for the
school that day, frozen once: a line per meal set and class, the paid and benefit portions
counted apart with their money. Read through the API or as an XLSX/PDF file.

Frozen means a later change of the orders does not move it: after the cut-off orders are no
longer placed or cancelled (an illness after it keeps the order, decision 0802), so the frozen
requisition and the day's orders agree; the row is the record of what was asked of the caterer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

import anyio

from backend.core.context import Actor
from backend.core.errors import NotFound
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import accounts
from backend.meals import schemas as s
from backend.meals.ledger import rub
from backend.meals.tables import Caterer, MealOrder, MealRequisition, MealSet
from backend.reports.files import Sheet, to_pdf, to_xlsx
from backend.schools.structure import services as structure

P = Permission
READERS = (P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
FileFormat = Literal["xlsx", "pdf"]
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


async def freeze(school_id: int, day: date) -> int:
    """Freeze the day's requisitions of the school, one per caterer (again: nothing new)."""
    orders = await MealOrder.select().where(
        (MealOrder.school == school_id) & (MealOrder.date == day) & (MealOrder.live == 1)
    )
    if not orders:
        return 0
    set_ids = {o["meal_set"] for o in orders}
    sets = {r["id"]: r for r in await MealSet.select().where(MealSet.id.is_in(list(set_ids)))}
    classes = {c["id"]: c["name"] for c in await structure.list_classes(Actor.system(), school_id)}
    by_caterer: dict[int, dict[tuple[int, int | None], dict[str, Any]]] = {}
    for o in orders:
        key = (o["meal_set"], o["school_class"])
        line = by_caterer.setdefault(o["caterer"], {}).setdefault(
            key,
            {
                "meal_set_id": o["meal_set"],
                "meal_set_name": sets.get(o["meal_set"], {}).get("name", ""),
                "meal_kind": o["meal_kind"],
                "class_id": o["school_class"],
                "class_name": classes.get(o["school_class"], ""),
                "price": o["price"],
                "paid_count": 0,
                "benefit_count": 0,
                "family_amount": 0,
                "benefit_amount": 0,
            },
        )
        # A partial benefit is a benefit meal: the budget pays part of it.
        line["benefit_count" if o["benefit_amount"] else "paid_count"] += 1
        line["benefit_amount"] += o["benefit_amount"]
        line["family_amount"] += o["price"] - o["benefit_amount"]
    created = 0
    for caterer_id, lines in by_caterer.items():
        ordered = sorted(
            lines.values(), key=lambda x: (x["meal_kind"], x["class_name"], x["meal_set_name"])
        )
        for line in ordered:
            line["count"] = line["paid_count"] + line["benefit_count"]
        rows = (
            await MealRequisition.insert(
                MealRequisition(
                    school=school_id,
                    date=day,
                    caterer=caterer_id,
                    lines=ordered,
                    total_count=sum(x["count"] for x in ordered),
                    paid_count=sum(x["paid_count"] for x in ordered),
                    benefit_count=sum(x["benefit_count"] for x in ordered),
                    family_amount=sum(x["family_amount"] for x in ordered),
                    benefit_amount=sum(x["benefit_amount"] for x in ordered),
                    frozen_at=datetime.now(UTC),
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(MealRequisition.id)
        )
        created += len(rows)
    return created


async def _caterer_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Caterer.select(Caterer.id, Caterer.name).where(Caterer.id.is_in(list(ids)))
    return {r["id"]: r["name"] for r in rows}


def _out(row: dict[str, Any], caterer_name: str) -> s.RequisitionOut:
    return s.RequisitionOut(
        id=row["id"],
        school_id=row["school"],
        date=row["date"],
        caterer_id=row["caterer"],
        caterer_name=caterer_name,
        total_count=row["total_count"],
        paid_count=row["paid_count"],
        benefit_count=row["benefit_count"],
        family_amount=row["family_amount"],
        benefit_amount=row["benefit_amount"],
        frozen_at=row["frozen_at"],
        lines=[s.RequisitionLine(**line) for line in row["lines"]],
    )


async def list_for_school(actor: Actor, school_id: int, day: date) -> list[s.RequisitionOut]:
    await accounts.school_scope(actor, school_id, *READERS)
    rows = (
        await MealRequisition.select()
        .where((MealRequisition.school == school_id) & (MealRequisition.date == day))
        .order_by(MealRequisition.caterer)
        .output(load_json=True)
    )
    names = await _caterer_names({r["caterer"] for r in rows})
    return [_out(r, names.get(r["caterer"], "")) for r in rows]


async def requisition_file(
    actor: Actor, requisition_id: int, file_format: FileFormat
) -> tuple[bytes, str, str]:
    row = (
        await MealRequisition.select()
        .where(MealRequisition.id == requisition_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound()
    await accounts.school_scope(actor, row["school"], *READERS)
    out = _out(row, (await _caterer_names({row["caterer"]})).get(row["caterer"], ""))
    sheet = Sheet(
        name=t("meals.requisition.sheet"),
        title=t(
            "meals.requisition.title",
            caterer=out.caterer_name,
            date=out.date.strftime("%d.%m.%Y"),
            total=out.total_count,
            paid=out.paid_count,
            benefit=out.benefit_count,
        ),
        columns=[
            t("meals.requisition.kind"),
            t("meals.requisition.school_class"),
            t("meals.requisition.set"),
            t("meals.requisition.paid"),
            t("meals.requisition.benefit"),
            t("meals.requisition.count"),
            t("meals.requisition.family_amount"),
            t("meals.requisition.benefit_amount"),
        ],
        rows=[
            [
                t(f"meals.meal_kind.{line.meal_kind}"),
                line.class_name,
                line.meal_set_name,
                line.paid_count,
                line.benefit_count,
                line.count,
                rub(line.family_amount),
                rub(line.benefit_amount),
            ]
            for line in out.lines
        ],
    )
    render = to_xlsx if file_format == "xlsx" else to_pdf
    who = actor.principal.display_name if actor.principal else t("reports.by_system")
    content = await anyio.to_thread.run_sync(render, [sheet], who)
    name = f"requisition-{out.school_id}-{out.date.isoformat()}-{out.caterer_id}.{file_format}"
    return content, MEDIA[file_format], name


# ---- e-mail to the caterer (the worker sends; notifications/requisitions.py) ----------------


async def unsent(limit: int = 50) -> list[dict[str, Any]]:
    """Frozen requisitions not yet e-mailed whose caterer has an address: id, school, date,
    caterer's name and address."""
    rows = (
        await MealRequisition.select(
            MealRequisition.id,
            MealRequisition.school,
            MealRequisition.date,
            MealRequisition.caterer,
            MealRequisition.total_count,
        )
        .where(MealRequisition.sent_at.is_null())
        .order_by(MealRequisition.id)
        .limit(limit)
    )
    if not rows:
        return []
    caterers = {
        r["id"]: r
        for r in await Caterer.select(Caterer.id, Caterer.name, Caterer.email).where(
            Caterer.id.is_in(list({r["caterer"] for r in rows}))
        )
    }
    found = []
    for row in rows:
        caterer = caterers.get(row["caterer"])
        if caterer and caterer["email"]:
            found.append({**row, "caterer_name": caterer["name"], "email": caterer["email"]})
    return found


async def system_file(requisition_id: int) -> tuple[bytes, str, str]:
    """The requisition's XLSX, made by the system (for the e-mail)."""
    return await requisition_file(Actor.system(), requisition_id, "xlsx")


async def mark_sent(requisition_id: int, address: str) -> None:
    await MealRequisition.update(
        {MealRequisition.sent_at: datetime.now(UTC), MealRequisition.sent_to: address}
    ).where(MealRequisition.id == requisition_id)
