"""The canteen counter: who was served today's meal, marked from a class list or by the pupil's
card (the turnstiles' cards, read through the access context) or number.

Serving an order writes one `MealServing` row (unique per order: a second serving of the same
order is answered "already served", never served or posted twice) and, when the order's cut-off
has not been run yet, posts its holds (the issue: "the cut-off or serving posts it"); both in
one transaction, audited. A pupil without a standing order of that meal today is refused with
the reason. Today is the school's date; the meal kind is the counter's (breakfast, lunch,
snack).

The functions take an `Actor` and check rights themselves (the canteen staff of the school:
`meals.manage` there), so the API and the staff web call the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.access import services as access
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import accounts, orders
from backend.meals import schemas as s
from backend.meals.orders import CANCELLED, ORDERED, ru_date
from backend.meals.tables import MealOrder, MealServing, MealSet
from backend.schools.people import movement

P = Permission
VIA_LIST, VIA_CARD, VIA_NUMBER = "list", "card", "number"
SERVE_ACTION = "meals.serve"
READ_LIST_ACTION = "read.meals_counter"


@dataclass(frozen=True, slots=True)
class CounterPupil:
    """A pupil found at the counter, and how."""

    student_id: int
    via: str  # card | number
    card_id: int | None = None


async def identify(
    actor: Actor, school_id: int, *, student_id: int | None, card: s.CardReading | None
) -> CounterPupil:
    """The pupil of the school named by a card or by the pupil's number (exactly one), for
    canteen staff of that school. An unknown card is refused naming the field; a blocked card
    or a staff member's card with the reason."""
    await accounts.school_scope(actor, school_id, P.MEALS_MANAGE)
    if (student_id is None) == (card is None):
        raise ValidationFailed(key="meals.counter.card_or_number", details={"field": "card"})
    if card is not None:
        holder = await access.card_holder(school_id, card.raw_value, card.card_format, field="card")
        if holder is None:
            raise ValidationFailed(key="meals.counter.card_unknown", details={"field": "card"})
        if not holder.active:
            reason = t(f"meals.counter.blocked_reason.{holder.blocked_reason or 'lost'}")
            raise Conflict(key="meals.counter.card_blocked", reason=reason)
        if holder.holder_kind != "student":
            raise Conflict(key="meals.counter.card_of_staff")
        found = CounterPupil(holder.holder_id, VIA_CARD, holder.card_id)
    else:
        assert student_id is not None
        found = CounterPupil(student_id, VIA_NUMBER)
    target = await accounts.student_scope(actor, found.student_id, P.MEALS_MANAGE)
    if target.school_id != school_id:
        raise NotFound(key="meals.not_your_pupil")
    return found


# ---- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    name: str
    class_name: str


async def _place(student_id: int, day: date) -> _Place:
    """The pupil's name and class today (for the counter's screen and its messages)."""
    class_id = await movement.class_on(student_id, day)
    if class_id is None:
        return _Place("", "")
    info = await movement.class_info(class_id)
    pupils = await movement.students_of_class(class_id, day)
    name = next((p.full_name for p in pupils if p.id == student_id), "")
    return _Place(name, info.label)


async def _orders_of(student_ids: list[int], day: date, kind: str) -> dict[int, dict[str, Any]]:
    """Each pupil's order of the meal on the day: the standing one, else the last cancelled."""
    if not student_ids:
        return {}
    rows = (
        await MealOrder.select()
        .where(
            MealOrder.student.is_in(student_ids)
            & (MealOrder.date == day)
            & (MealOrder.meal_kind == kind)
        )
        .order_by(MealOrder.id)
    )
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["live"] == 1 or out.get(row["student"], {}).get("live") != 1:
            out[row["student"]] = row
    return out


async def _servings_of(order_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not order_ids:
        return {}
    rows = await MealServing.select().where(MealServing.order_id.is_in(order_ids))
    return {r["order_id"]: r for r in rows}


async def _set_names(set_ids: set[int]) -> dict[int, str]:
    if not set_ids:
        return {}
    rows = await MealSet.select(MealSet.id, MealSet.name).where(MealSet.id.is_in(list(set_ids)))
    return {r["id"]: r["name"] for r in rows}


def _refusal(order: dict[str, Any] | None, day: date, kind: str) -> str:
    """Why nothing can be served: no order (nor a benefit meal) of that meal that day, or it
    was cancelled (and why)."""
    kind_name = t(f"meals.meal_kind.{kind}").lower()
    if order is None:
        return t("meals.counter.no_order", kind=kind_name, date=ru_date(day))
    reason = t(f"meals.counter.cancel_reason.{order['cancel_reason'] or 'family'}")
    return t("meals.counter.order_cancelled", kind=kind_name, date=ru_date(day), reason=reason)


async def class_list(
    actor: Actor, school_id: int, class_id: int, meal_kind: str
) -> s.CounterClassOut:
    """The class's pupils today with their order of the meal and whether it was served."""
    await accounts.school_scope(actor, school_id, P.MEALS_MANAGE)
    info = await movement.class_info(class_id)
    if info.school_id != school_id:
        raise NotFound()
    day = await orders.school_today(school_id)
    pupils = await movement.students_of_class(class_id, day)
    found = await _orders_of([p.id for p in pupils], day, meal_kind)
    live = {sid: o for sid, o in found.items() if o["live"] == 1}
    servings = await _servings_of([o["id"] for o in live.values()])
    names = await _set_names({o["meal_set"] for o in live.values()})
    out = []
    for pupil in pupils:
        order = live.get(pupil.id)
        serving = servings.get(order["id"]) if order else None
        out.append(
            s.CounterPupil(
                student_id=pupil.id,
                name=pupil.full_name,
                order_id=order["id"] if order else None,
                meal_set_name=names.get(order["meal_set"], "") if order else "",
                served_at=serving["served_at"] if serving else None,
                reason="" if order else _refusal(found.get(pupil.id), day, meal_kind),
            )
        )
    # One row per list read: who looked at which class's meals (names and orders, no money).
    await record(
        actor,
        READ_LIST_ACTION,
        object_type="school_class",
        object_id=class_id,
        school_id=school_id,
        details={"date": day.isoformat(), "meal_kind": meal_kind, "pupils": len(pupils)},
    )
    return s.CounterClassOut(
        school_id=school_id,
        class_id=class_id,
        class_name=info.label,
        date=day,
        meal_kind=meal_kind,
        ordered=len(live),
        served=sum(1 for p in out if p.served_at is not None),
        pupils=out,
    )


# ---- serving -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Served:
    row: dict[str, Any]
    fresh: bool  # served by this call (else it had been served before)
    posted_now: bool


async def _serve_order(
    actor: Actor, order_id: int, via: str, card_id: int | None, day: date
) -> _Served:
    """Mark one order served: one transaction, at most once per order."""
    async with transaction():
        order = await orders.lock_order(order_id)
        existing = await MealServing.select().where(MealServing.order_id == order_id).first()
        if existing is not None:
            return _Served(existing, fresh=False, posted_now=False)
        if order["status"] == CANCELLED:
            raise Conflict(_refusal(order, day, order["meal_kind"]))
        posted_now = order["status"] == ORDERED
        if posted_now:
            await orders.post_order(actor, order)
        values = {
            "order_id": order_id,
            "school": order["school"],
            "student": order["student"],
            "date": order["date"],
            "meal_kind": order["meal_kind"],
            "via": via,
            "card_id": card_id,
            "served_by": actor.user_id,
            "served_at": datetime.now(UTC),
        }
        rows = await MealServing.insert(MealServing(**values)).returning(MealServing.id)
        await record(
            actor,
            SERVE_ACTION,
            object_type="meal_order",
            object_id=order_id,
            school_id=order["school"],
            student_id=order["student"],
            details={"via": via, "card_id": card_id, "posted_now": posted_now},
        )
    return _Served({"id": rows[0]["id"], **values}, fresh=True, posted_now=posted_now)


def _serving_out(served: _Served, place: _Place, set_name: str) -> s.ServingOut:
    row = served.row
    return s.ServingOut(
        id=row["id"],
        order_id=row["order_id"],
        student_id=row["student"],
        student_name=place.name,
        class_name=place.class_name,
        date=row["date"],
        meal_kind=row["meal_kind"],
        meal_set_name=set_name,
        via=row["via"],
        served_at=row["served_at"],
        posted_now=served.posted_now,
    )


def _who(place: _Place) -> str:
    return f"{place.name} ({place.class_name})" if place.class_name else place.name


async def serve(actor: Actor, school_id: int, data: s.ServeRequest) -> s.ServingOut:
    """Serve one pupil, found by card or number. Refused with the reason: no order of this
    meal today, a cancelled order, already served (with the time)."""
    pupil = await identify(actor, school_id, student_id=data.student_id, card=data.card)
    day = await orders.school_today(school_id)
    order = (await _orders_of([pupil.student_id], day, data.meal_kind)).get(pupil.student_id)
    place = await _place(pupil.student_id, day)
    if order is None or order["live"] != 1:
        raise Conflict(
            key="meals.counter.refused",
            details={"student_id": pupil.student_id},
            who=_who(place),
            reason=_refusal(order, day, data.meal_kind),
        )
    served = await _serve_order(actor, order["id"], pupil.via, pupil.card_id, day)
    set_name = (await _set_names({order["meal_set"]})).get(order["meal_set"], "")
    if not served.fresh:
        at = await _local_time(school_id, served.row["served_at"])
        raise Conflict(
            key="meals.counter.already_served",
            details={"student_id": pupil.student_id, "serving_id": served.row["id"]},
            who=_who(place),
            meal=set_name,
            at=at,
        )
    return _serving_out(served, place, set_name)


async def _local_time(school_id: int, at: datetime) -> str:
    zone = await orders.school_zone(school_id)
    return at.astimezone(zone).strftime("%H:%M")


async def serve_class(
    actor: Actor, school_id: int, class_id: int, data: s.ClassServeRequest
) -> s.ClassServingOut:
    """Serve pupils of a class list in one action: the named ones, or every pupil of the list.
    Each pupil is served in a transaction of its own; pupils without an order of this meal are
    refused with the reason, those served before are listed apart (not served again)."""
    await accounts.school_scope(actor, school_id, P.MEALS_MANAGE)
    info = await movement.class_info(class_id)
    if info.school_id != school_id:
        raise NotFound()
    day = await orders.school_today(school_id)
    pupils = {p.id: p for p in await movement.students_of_class(class_id, day)}
    wanted = list(pupils) if data.student_ids is None else list(dict.fromkeys(data.student_ids))
    strangers = [sid for sid in wanted if sid not in pupils]
    if strangers:
        raise ValidationFailed(
            key="meals.counter.not_in_class",
            details={"field": "student_ids", "ids": strangers},
            ids=", ".join(map(str, strangers)),
            class_name=info.label,
        )
    found = await _orders_of(wanted, day, data.meal_kind)
    names = await _set_names({o["meal_set"] for o in found.values()})
    out = s.ClassServingOut(served=[], already_served=[], refused=[])
    for sid in wanted:
        place = _Place(pupils[sid].full_name, info.label)
        order = found.get(sid)
        if order is None or order["live"] != 1:
            reason = _refusal(order, day, data.meal_kind)
            out.refused.append(s.ServeRefusal(student_id=sid, name=place.name, reason=reason))
            continue
        try:
            served = await _serve_order(actor, order["id"], VIA_LIST, None, day)
        except Conflict as exc:  # cancelled meanwhile
            out.refused.append(s.ServeRefusal(student_id=sid, name=place.name, reason=exc.message))
            continue
        item = _serving_out(served, place, names.get(order["meal_set"], ""))
        (out.served if served.fresh else out.already_served).append(item)
    return out
