"""The school's meal report for a day or a month: meals by kind (paid and benefit apart, with
their money, and how many the counter marked served) from the orders past their cut-off, and
the money that came in and went out of the pupils' accounts (top-ups by source, refunds,
buffet), from the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.core.context import Actor
from backend.core.errors import ValidationFailed
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import accounts
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, Status
from backend.meals.tables import LedgerAccount, LedgerTransfer, MealOrder, MealServing
from backend.schools.structure import services as structure

P = Permission
MAX_DAYS = 31


async def meal_report(
    actor: Actor, school_id: int, date_from: date, date_to: date
) -> s.MealReportOut:
    await accounts.school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    if date_to < date_from:
        raise ValidationFailed(key="meals.dates_order", details={"field": "date_to"})
    if (date_to - date_from).days >= MAX_DAYS:
        raise ValidationFailed(
            key="meals.report_too_long", details={"field": "date_to"}, days=MAX_DAYS
        )
    orders = await MealOrder.select(
        MealOrder.id, MealOrder.meal_kind, MealOrder.price, MealOrder.benefit_amount
    ).where(
        (MealOrder.school == school_id)
        & (MealOrder.date >= date_from)
        & (MealOrder.date <= date_to)
        & (MealOrder.status == "posted")
    )
    served = {
        r["order_id"]
        for r in await MealServing.select(MealServing.order_id).where(
            (MealServing.school == school_id)
            & (MealServing.date >= date_from)
            & (MealServing.date <= date_to)
        )
    }
    kinds: dict[str, dict[str, int]] = {}
    for o in orders:
        line = kinds.setdefault(
            o["meal_kind"],
            {
                "paid_count": 0,
                "benefit_count": 0,
                "family_amount": 0,
                "benefit_amount": 0,
                "served_count": 0,
            },
        )
        line["served_count"] += o["id"] in served
        line["benefit_count" if o["benefit_amount"] else "paid_count"] += 1
        line["family_amount"] += o["price"] - o["benefit_amount"]
        line["benefit_amount"] += o["benefit_amount"]
    zone = ZoneInfo((await structure.get_settings(Actor.system(), school_id)).time_zone)
    start = datetime.combine(date_from, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    money = await _money(school_id, start, end)
    return s.MealReportOut(
        school_id=school_id,
        date_from=date_from,
        date_to=date_to,
        meals=[
            s.MealReportLine(
                meal_kind=kind,
                meal_kind_name=t(f"meals.meal_kind.{kind}"),
                count=v["paid_count"] + v["benefit_count"],
                **v,
            )
            for kind, v in sorted(kinds.items())
        ],
        **money,
    )


async def _money(school_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Posted kopecks of the period: top-ups by where they came from, refunds, buffet."""
    sources = {
        r["id"]: r["kind"]
        for r in await LedgerAccount.select(LedgerAccount.id, LedgerAccount.kind).where(
            LedgerAccount.school == school_id
        )
    }
    rows = await LedgerTransfer.select(
        LedgerTransfer.kind,
        LedgerTransfer.amount,
        LedgerTransfer.debit_account,
        LedgerTransfer.status,
        LedgerTransfer.pending_id,
    ).where(
        (LedgerTransfer.school == school_id)
        & (LedgerTransfer.created_at >= start)
        & (LedgerTransfer.created_at < end)
    )
    out = {"top_ups_cash": 0, "top_ups_card": 0, "refunds": 0, "buffet": 0}
    for r in rows:
        if r["status"] != Status.POSTED.value:
            continue
        kind = r["kind"]
        if kind == "top_up":
            source = sources.get(r["debit_account"])
            out["top_ups_card" if source == AccountKind.PROVIDER_CLEARING else "top_ups_cash"] += r[
                "amount"
            ]
        elif kind == "refund":
            out["refunds"] += r["amount"]
        elif kind == "buffet":
            out["buffet"] += r["amount"]
    return out
