"""Benefits: what each benefit category gives at a school (full or partial cover of some meal
kinds, for a period, on a legal basis), which pupils hold it on a day (their personal files,
through the schools context; grades 1-4 by law), the day's default set for a benefit pupil
whose family chose nothing, and days the family refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import ValidationFailed
from backend.core.rights import Permission
from backend.meals import accounts
from backend.meals import schemas as s
from backend.meals.tables import BenefitCover, BenefitRefusal
from backend.schools.services import benefit_codes_on

P = Permission
PRIMARY_FREE_MEALS = "primary_free_meals"  # 47-FZ art. 37: grades 1-4 eat a hot meal free
PRIMARY_GRADES = range(1, 5)


@dataclass(frozen=True, slots=True)
class Cover:
    """What the budget pays for one meal: `amount` kopecks of a `price`."""

    category: str
    amount: int


def _cover_out(row: dict[str, Any]) -> s.BenefitCoverOut:
    return s.BenefitCoverOut(
        id=row["id"],
        school_id=row["school"],
        category=row["category"],
        cover=row["cover"],
        amount=row["amount"],
        kinds=row["kinds"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        document=row["document"],
    )


async def add_cover(actor: Actor, school_id: int, data: s.BenefitCoverCreate) -> s.BenefitCoverOut:
    await accounts.school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise ValidationFailed(key="meals.dates_order", details={"field": "valid_to"})
    if data.cover == "partial" and data.amount == 0:
        raise ValidationFailed(key="meals.partial_amount", details={"field": "amount"})
    async with transaction():
        rows = await BenefitCover.insert(
            BenefitCover(
                school=school_id,
                category=data.category,
                cover=data.cover,
                amount=data.amount if data.cover == "partial" else 0,
                kinds=sorted(set(data.kinds)),
                valid_from=data.valid_from,
                valid_to=data.valid_to,
                document=data.document,
                created_at=datetime.now(UTC),
            )
        ).returning(BenefitCover.id)
        await accounts.bump_menu_version(school_id)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="benefit_cover",
            object_id=rows[0]["id"],
            school_id=school_id,
            details={"category": data.category, "cover": data.cover, "amount": data.amount},
        )
    row = (
        await BenefitCover.select()
        .where(BenefitCover.id == rows[0]["id"])
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return _cover_out(row)


async def list_covers(actor: Actor, school_id: int) -> list[s.BenefitCoverOut]:
    await accounts.school_scope(actor, school_id, P.MEALS_ACCOUNTS, P.MEALS_MANAGE)
    rows = (
        await BenefitCover.select()
        .where(BenefitCover.school == school_id)
        .order_by(BenefitCover.id)
        .output(load_json=True)
    )
    return [_cover_out(r) for r in rows]


async def covers_on(school_id: int, day: date) -> list[dict[str, Any]]:
    rows = (
        await BenefitCover.select()
        .where((BenefitCover.school == school_id) & (BenefitCover.valid_from <= day))
        .output(load_json=True)
    )
    return [r for r in rows if r["valid_to"] is None or r["valid_to"] >= day]


async def cover_for(
    student_id: int, school_id: int, grade: int | None, day: date, kind: str, price: int
) -> Cover | None:
    """The best cover the pupil's benefits give for one meal (a full cover wins)."""
    return await best_cover(await covers_on(school_id, day), student_id, grade, day, kind, price)


async def best_cover(
    school_covers: list[dict[str, Any]],
    student_id: int,
    grade: int | None,
    day: date,
    kind: str,
    price: int,
) -> Cover | None:
    """`cover_for` over the school's covers valid on `day` (read by the caller). The pupil's
    personal file is not read when it cannot change the answer: no cover of this kind, or the
    first cover (in order) that pays the whole price is one the grade alone gives."""
    covers = [c for c in school_covers if kind in c["kinds"]]
    if not covers:
        return None
    by_grade = {PRIMARY_FREE_MEALS} if grade in PRIMARY_GRADES else set()
    whole = next((c for c in covers if _amount(c, price) == price), None)
    if whole is not None and whole["category"] in by_grade:
        return Cover(whole["category"], price)
    held = (await benefit_codes_on([student_id], day)).get(student_id, set()) | by_grade
    best: Cover | None = None
    for c in covers:
        if c["category"] not in held:
            continue
        amount = _amount(c, price)
        if best is None or amount > best.amount:
            best = Cover(c["category"], amount)
    return best


def _amount(cover: dict[str, Any], price: int) -> int:
    return price if cover["cover"] == "full" else min(cover["amount"], price)


async def refused_on(student_id: int, day: date, kind: str) -> bool:
    row = (
        await BenefitRefusal.select(BenefitRefusal.id)
        .where(
            (BenefitRefusal.student == student_id)
            & (BenefitRefusal.date == day)
            & (BenefitRefusal.meal_kind == kind)
        )
        .first()
    )
    return row is not None


async def record_refusal(
    actor: Actor, school_id: int | None, student_id: int, data: s.BenefitRefusalCreate
) -> None:
    """Write a family's refusal of a day's benefit meal (inside the caller's transaction:
    `backend.meals.orders.refuse_day` checks the cut-off and cancels the day's order)."""
    await BenefitRefusal.insert(
        BenefitRefusal(
            student=student_id,
            date=data.date,
            meal_kind=data.meal_kind,
            reason=data.reason,
            created_by=actor.user_id,
            created_at=datetime.now(UTC),
        )
    )
    await record(
        actor,
        AuditAction.CREATE,
        object_type="benefit_refusal",
        object_id=student_id,
        school_id=school_id,
        student_id=student_id,
        details={"date": data.date.isoformat(), "kind": data.meal_kind, "reason": data.reason},
    )
