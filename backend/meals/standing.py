"""Standing orders ("lunch every school day") and the scheduled cut-off.

A standing order is turned into ordinary orders a week ahead (`DAYS_AHEAD`), each before that
day's cut-off: the family sees each day's order, can cancel one day, and an illness cancels it
like any other. Each school day is tried once (`StandingOrderDay`): the order placed, or why none
was (not enough money, nothing allowed on the menu, the family already chose or refused the
benefit meal). The preferred set is taken when the day's menu offers it to the pupil without
the pupil's allergens, else the first set of the meal kind that is allowed.

`run_schedule(now)` is the worker's minute job: for each school with meals, it places the
standing orders, then runs the cut-off (`orders.run_cutoff`: default sets for full-benefit
pupils, holds posted) once per meal day whose cut-off has passed, on the school's clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.core.rights import Permission, ScopeKind
from backend.i18n import t
from backend.meals import accounts, benefits, menus, orders, requisitions
from backend.meals import schemas as s
from backend.meals.tables import (
    MealCutoffRun,
    MealOrder,
    MealSet,
    StandingOrder,
    StandingOrderDay,
)
from backend.schools.services import scope_target

P = Permission
log = structlog.get_logger("parta.meals.standing")
DAYS_AHEAD = 7  # how far ahead a standing order books days (the money of a week, not more)


def _now() -> datetime:
    return datetime.now(UTC)


async def _standing_row(standing_id: int) -> dict[str, Any]:
    row = (
        await StandingOrder.select()
        .where(StandingOrder.id == standing_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def _out(row: dict[str, Any]) -> s.StandingOrderOut:
    days = (
        await StandingOrderDay.select()
        .where(StandingOrderDay.standing_order == row["id"])
        .order_by(StandingOrderDay.date, ascending=False)
        .limit(30)
    )
    return s.StandingOrderOut(
        id=row["id"],
        student_id=row["student"],
        meal_kind=row["meal_kind"],
        meal_set_id=row["meal_set"],
        weekdays=row["weekdays"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        active=row["live"] == 1,
        days=[
            s.StandingOrderDayOut(
                date=d["date"],
                outcome=d["outcome"],
                outcome_name=t(f"meals.standing.outcome.{d['outcome']}"),
                order_id=d["order_id"],
                message=d["message"],
            )
            for d in days
        ],
    )


async def create(actor: Actor, student_id: int, data: s.StandingOrderCreate) -> s.StandingOrderOut:
    target = await accounts.student_scope(actor, student_id, P.MEALS_ORDER)
    assert target.school_id is not None
    today = await orders.school_today(target.school_id)
    valid_from = data.valid_from or today
    if valid_from < today:
        raise ValidationFailed(key="meals.order_past", details={"field": "valid_from"})
    if data.valid_to is not None and data.valid_to < valid_from:
        raise ValidationFailed(key="meals.dates_order", details={"field": "valid_to"})
    if data.meal_set_id is not None:
        meal_set = await MealSet.select().where(MealSet.id == data.meal_set_id).first()
        if meal_set is None or meal_set["school"] != target.school_id:
            raise ValidationFailed(
                key="meals.meal_set_unknown",
                details={"field": "meal_set_id"},
                ids=data.meal_set_id,
            )
        if meal_set["kind"] != data.meal_kind:
            raise ValidationFailed(key="meals.standing.set_kind", details={"field": "meal_set_id"})
    async with transaction():
        existing = (
            await StandingOrder.select(StandingOrder.id)
            .where(
                (StandingOrder.student == student_id)
                & (StandingOrder.meal_kind == data.meal_kind)
                & (StandingOrder.live == 1)
            )
            .first()
        )
        if existing is not None:
            raise Conflict(
                key="meals.standing.exists", kind=t(f"meals.meal_kind.{data.meal_kind}").lower()
            )
        rows = await StandingOrder.insert(
            StandingOrder(
                student=student_id,
                school=target.school_id,
                meal_kind=data.meal_kind,
                meal_set=data.meal_set_id,
                weekdays=sorted(set(data.weekdays)),
                valid_from=valid_from,
                valid_to=data.valid_to,
                live=1,
                created_by=actor.user_id,
                created_at=_now(),
            )
        ).returning(StandingOrder.id)
        standing_id = int(rows[0]["id"])
        await record(
            actor,
            AuditAction.CREATE,
            object_type="standing_order",
            object_id=standing_id,
            school_id=target.school_id,
            student_id=student_id,
            details={"meal_kind": data.meal_kind, "weekdays": sorted(set(data.weekdays))},
        )
    row = await _standing_row(standing_id)
    await place_days(row)
    return await _out(row)


async def list_for(actor: Actor, student_id: int) -> list[s.StandingOrderOut]:
    await accounts.student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_ACCOUNTS)
    rows = (
        await StandingOrder.select()
        .where(StandingOrder.student == student_id)
        .order_by(StandingOrder.id, ascending=False)
        .output(load_json=True)
    )
    return [await _out(r) for r in rows]


async def cancel(actor: Actor, standing_id: int) -> s.StandingOrderOut:
    """Stop a standing order; the days it booked whose cut-off has not passed are cancelled
    and their money released (the others the caterer is cooking)."""
    row = await _standing_row(standing_id)
    await accounts.student_scope(actor, row["student"], P.MEALS_ORDER)
    if row["live"] != 1:
        raise Conflict(key="meals.standing.not_active")
    async with transaction():
        await StandingOrder.update(
            {
                StandingOrder.live: None,
                StandingOrder.cancelled_at: _now(),
                StandingOrder.cancelled_by: actor.user_id,
            }
        ).where(StandingOrder.id == standing_id)
        booked = await StandingOrderDay.select(StandingOrderDay.order_id).where(
            (StandingOrderDay.standing_order == standing_id)
            & StandingOrderDay.order_id.is_not_null()
        )
        ids = [b["order_id"] for b in booked]
        live = (
            await MealOrder.select()
            .where(MealOrder.id.is_in(ids) & (MealOrder.status == orders.ORDERED))
            .output(load_json=True)
            if ids
            else []
        )
        for order in live:
            if _now() < (await orders.cutoff_of(order["school"], order["date"])).at:
                await orders.cancel_row(actor, order, "standing_stopped")
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="standing_order",
            object_id=standing_id,
            school_id=row["school"],
            student_id=row["student"],
            details={"live": False},
        )
    return await _out(await _standing_row(standing_id))


# ---- booking the days ------------------------------------------------------------------------


async def place_days(
    row: dict[str, Any], now: datetime | None = None, tried: set[date] | None = None
) -> int:
    """Book every day of the next week this standing order covers and has not tried yet
    (`tried`: those days, when the caller read them for many standing orders at once)."""
    now = now or _now()
    school_id = row["school"]
    today = await orders.school_today(school_id)
    if tried is None:
        tried = {
            d["date"]
            for d in await StandingOrderDay.select(StandingOrderDay.date).where(
                (StandingOrderDay.standing_order == row["id"]) & (StandingOrderDay.date >= today)
            )
        }
    placed = 0
    for ahead in range(DAYS_AHEAD + 1):
        day = today + timedelta(days=ahead)
        if day in tried or day < row["valid_from"]:
            continue
        if row["valid_to"] is not None and day > row["valid_to"]:
            break
        if day.isoweekday() not in row["weekdays"]:
            continue
        if now >= (await orders.cutoff_of(school_id, day)).at:
            continue  # too late for that day: never booked behind the family's back
        outcome, order_id, message = await _book(row, day)
        if outcome is None:
            continue  # not a school day: nothing to remember
        await StandingOrderDay.insert(
            StandingOrderDay(
                standing_order=row["id"],
                date=day,
                order_id=order_id,
                outcome=outcome,
                message=message[:300],
                created_at=_now(),
            )
        ).on_conflict(action="DO NOTHING")
        placed += outcome == "ordered"
    return placed


async def _book(row: dict[str, Any], day: date) -> tuple[str | None, int | None, str]:
    student_id, kind = row["student"], row["meal_kind"]
    target = await scope_target(ScopeKind.STUDENT, student_id)
    if target.school_id != row["school"]:
        return "left_school", None, ""
    place = await menus.pupil_place(target, day)
    if not (await menus.school_day(row["school"], day, place.grade)).is_school_day:
        return None, None, ""
    if await orders.has_live_order(student_id, day, kind):
        return "chosen", None, ""
    if await benefits.refused_on(student_id, day, kind):
        return "refused", None, ""
    allergens = set((await menus.pupil_diet_row(student_id))["allergens"])
    allowed = []
    for candidate in await menus.pupil_menu_rows(place, day):
        if candidate["kind"] != kind:
            continue
        meal_set = await menus.meal_set_out(candidate)
        if not set(meal_set.allergens) & allergens:
            allowed.append(meal_set)
    if not allowed:
        return "no_set", None, ""
    chosen = next((m for m in allowed if m.id == row["meal_set"]), allowed[0])
    creator = Actor.system()
    try:
        order_id = await orders.create_order(creator, student_id, place, chosen, day)
    except Conflict as exc:  # a family's order got there first, or the money is short
        if await orders.has_live_order(student_id, day, kind):
            return "chosen", None, ""
        return "insufficient_funds", None, exc.message
    except DomainError as exc:
        return "refused_by_rules", None, exc.message
    return "ordered", order_id, ""


# ---- the minute job --------------------------------------------------------------------------


async def schools_with_meals() -> list[int]:
    """Schools where something may be due: an active standing order or meal set."""
    found = {
        r["school"]
        for r in await StandingOrder.select(StandingOrder.school).where(StandingOrder.live == 1)
    }
    found |= {
        r["school"]
        for r in await MealSet.select(MealSet.school).where(MealSet.is_active == True)  # noqa: E712
    }
    return sorted(found)


async def run_school(school_id: int, now: datetime) -> dict[str, int]:
    """One school's due work: book standing orders, then the cut-off of each meal day whose
    cut-off has passed and has not run (once per day)."""
    rows = (
        await StandingOrder.select()
        .where((StandingOrder.school == school_id) & (StandingOrder.live == 1))
        .output(load_json=True)
    )
    today = await orders.school_today(school_id)
    tried: dict[int, set[date]] = {r["id"]: set() for r in rows}
    if rows:
        # One read of the days already tried for the whole school, not one per standing order.
        for d in await StandingOrderDay.select(
            StandingOrderDay.standing_order, StandingOrderDay.date
        ).where(
            StandingOrderDay.standing_order.is_in(list(tried)) & (StandingOrderDay.date >= today)
        ):
            tried[d["standing_order"]].add(d["date"])
    booked = 0
    for row in rows:
        booked += await place_days(row, now, tried[row["id"]])
    done = {
        r["date"]
        for r in await MealCutoffRun.select(MealCutoffRun.date).where(
            (MealCutoffRun.school == school_id) & (MealCutoffRun.date >= today)
        )
    }
    due = []
    for ahead in range(orders.CUTOFF_DAYS_AHEAD):
        day = today + timedelta(days=ahead)
        if day not in done and now >= (await orders.cutoff_of(school_id, day)).at:
            due.append(day)
    posted = defaults = 0
    if due:
        result = await orders.run_cutoff(Actor.system(), school_id)
        posted, defaults = result.posted, result.default_sets
        for day in due:
            await requisitions.freeze(school_id, day)
            await MealCutoffRun.insert(
                MealCutoffRun(
                    school=school_id,
                    date=day,
                    posted=posted,
                    default_sets=defaults,
                    ran_at=_now(),
                )
            ).on_conflict(action="DO NOTHING")
    return {"booked": booked, "cutoffs": len(due), "posted": posted, "default_sets": defaults}


async def run_schedule(now: datetime | None = None) -> dict[str, int]:
    """Every school's due meal work (the worker calls this every minute)."""
    now = now or _now()
    totals = {"booked": 0, "cutoffs": 0, "posted": 0, "default_sets": 0}
    for school_id in await schools_with_meals():
        try:
            result = await run_school(school_id, now)
        except Exception:  # one school's failure must not stop the others' cut-offs
            log.exception("meal schedule failed", school=school_id)
            continue
        for key, value in result.items():
            totals[key] += value
    return totals
