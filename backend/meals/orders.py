"""Orders: families order meal sets for days ahead until the school's cut-off; an order holds
the money in the ledger, the cut-off posts it, a cancellation (by the family, an illness
reported in time, or an absence the school records in time) voids it at once.

Every refusal is a Russian message naming the reason, and nothing is stored: the order row
and its hold are written in one transaction after every check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.engine.postgres import PostgresEngine

from backend.audit.services import AuditAction, Entry, record, record_many
from backend.core.context import Actor
from backend.core.db import current_engine, transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import accounts, benefits, ledger, menus, school_menu
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, Status, TransferKind
from backend.meals.tables import MealOrder, MealSet
from backend.schools.people import movement
from backend.schools.structure import services as structure
from backend.schools.structure.schemas import SchoolSettingsOut

P = Permission
ORDERED, POSTED, CANCELLED = "ordered", "posted", "cancelled"
MAX_LOOKBACK_DAYS = 31  # how far back a cut-off may fall (long holidays before a meal day)
CUTOFF_DAYS_AHEAD = 8  # days after today whose cut-off may already have passed


def ru_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _now() -> datetime:
    return datetime.now(UTC)


# ---- the cut-off -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cutoff:
    at: datetime  # UTC
    local: datetime  # on the school's clock


def cutoff_on(calendar: menus.MealCalendar, day: date, grade: int | None = None) -> Cutoff:
    """When orders for `day` close: the school's cut-off time on the school day that many
    school days before (`meal_cutoff_days_before`; 0 = the day itself), in its time zone.
    `calendar` spans at least the `MAX_LOOKBACK_DAYS` before `day`."""
    settings = calendar.settings
    hours, minutes = (int(x) for x in settings.meal_cutoff_time.split(":"))
    back, when = settings.meal_cutoff_days_before, day
    for _ in range(MAX_LOOKBACK_DAYS):
        if back == 0:
            break
        when -= timedelta(days=1)
        if calendar.school_day(when, grade).is_school_day:
            back -= 1
    local = datetime.combine(when, time(hours, minutes), tzinfo=calendar.zone)
    return Cutoff(at=local.astimezone(UTC), local=local)


async def order_calendar(
    school_id: int,
    day: date,
    clock: SchoolSettingsOut | None = None,
    holiday_rows: list[dict[str, Any]] | None = None,
) -> menus.MealCalendar:
    """The school's calendar from the earliest possible cut-off of `day` to `day`
    (`holiday_rows`: read over that span by the caller)."""
    return await menus.meal_calendar(school_id, order_span_start(day), day, clock, holiday_rows)


def order_span_start(day: date) -> date:
    return day - timedelta(days=MAX_LOOKBACK_DAYS)


async def cutoff_of(school_id: int, day: date, grade: int | None = None) -> Cutoff:
    return cutoff_on(await order_calendar(school_id, day), day, grade)


async def _school_today(school_id: int) -> date:
    out = await structure.school_clock(school_id)
    return datetime.now(ZoneInfo(out.time_zone)).date()


school_today = _school_today  # the school's date now (standing orders, the schedule)


async def school_zone(school_id: int) -> ZoneInfo:
    out = await structure.school_clock(school_id)
    return ZoneInfo(out.time_zone)


# ---- placing and cancelling ------------------------------------------------------------------


def order_out(row: dict[str, Any], set_name: str = "") -> s.MealOrderOut:
    kind_name = t(f"meals.meal_kind.{row['meal_kind']}")
    return s.MealOrderOut(
        id=row["id"],
        student_id=row["student"],
        date=row["date"],
        meal_kind=row["meal_kind"],
        meal_set_id=row["meal_set"],
        meal_set_name=set_name,
        price=row["price"],
        paid_by=row["paid_by"],
        benefit_amount=row["benefit_amount"],
        status=row["status"],
        status_name=t(f"meals.order_status.{row['status']}"),
        cancel_reason=row["cancel_reason"],
        hold_id=row["hold_id"],
        meal_set_title=menus.set_title(kind_name, set_name) if set_name else "",
    )


async def set_names(rows: list[dict[str, Any]]) -> dict[int, str]:
    """The names of the orders' meal sets, in one query."""
    ids = sorted({r["meal_set"] for r in rows})
    if not ids:
        return {}
    found = await MealSet.select(MealSet.id, MealSet.name).where(MealSet.id.is_in(ids))
    return {r["id"]: r["name"] for r in found}


async def orders_out(rows: list[dict[str, Any]]) -> list[s.MealOrderOut]:
    names = await set_names(rows)
    return [order_out(r, names.get(r["meal_set"], "")) for r in rows]


async def place_order(actor: Actor, student_id: int, data: s.MealOrderCreate) -> s.MealOrderOut:
    """Check, then write (decision 0802). The reads are few (decisions 0809, 0810): the
    pupil's rights, place and school clock in one query and the holidays (schools context),
    one query for the school's meal
    settings with the pupil's account and diet, and the school's menu from this process's
    copy, valid for the menu version that query read."""
    day = data.date
    found = await accounts.pupil_day_scope(
        actor, student_id, day, order_span_start(day), P.MEALS_ORDER
    )
    assert found.target.school_id is not None
    school_id = found.target.school_id
    place = menus.PupilPlace(school_id, found.class_id, found.grade)
    calendar = await order_calendar(school_id, day, found.clock, found.holidays)
    pupil = await school_menu.pupil_side(school_id, student_id)
    today = calendar.today()
    horizon = pupil.order_horizon_days
    if day < today:
        raise ValidationFailed(key="meals.order_past", details={"field": "date"})
    if day > today + timedelta(days=horizon):
        raise ValidationFailed(key="meals.order_too_far", details={"field": "date"}, days=horizon)
    school_day = calendar.school_day(day, place.grade)
    if not school_day.is_school_day:
        raise ValidationFailed(
            key="meals.order_day_off",
            details={"field": "date"},
            date=ru_date(day),
            reason=school_day.reason,
        )
    cutoff = cutoff_on(calendar, day)
    if _now() >= cutoff.at:
        raise Conflict(
            key="meals.order_after_cutoff",
            details={"cutoff": cutoff.at.isoformat()},
            date=ru_date(day),
            cutoff=cutoff.local.strftime("%H:%M %d.%m.%Y"),
        )
    menu = (
        await school_menu.school_menu(school_id, pupil.menu_version)
        if pupil.menu_version is not None
        else None  # no meal settings: no cyclic menu either
    )
    offered = menu.offered(place, day, pupil.menu_cycle_start) if menu is not None else []
    chosen = next((r for r in offered if r["id"] == data.meal_set_id), None)
    if chosen is None or menu is None:
        raise ValidationFailed(
            key="meals.set_not_on_menu", details={"field": "meal_set_id"}, date=ru_date(day)
        )
    meal_set = menu.set_outs[chosen["id"]]
    blocked = set(meal_set.allergens) & pupil.allergens
    if blocked:
        raise ValidationFailed(
            key="meals.set_has_allergen",
            details={"field": "meal_set_id", "allergens": sorted(blocked)},
            name=meal_set.name,
            allergens=menus.allergen_names(blocked),
        )
    row = await _create(actor, student_id, place, meal_set, day, menu, pupil.account)
    return order_out(row, meal_set.name)


async def create_order(
    actor: Actor, student_id: int, place: menus.PupilPlace, meal_set: s.MealSetOut, day: date
) -> int:
    """Write the order and its holds (the family's part from the pupil's account, a benefit's
    part from the school's benefit budget) in one transaction; the caller checked the rest."""
    return int((await _create(actor, student_id, place, meal_set, day))["id"])


async def _create(
    actor: Actor,
    student_id: int,
    place: menus.PupilPlace,
    meal_set: s.MealSetOut,
    day: date,
    menu: school_menu.SchoolMenu | None = None,
    pupil_account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`create_order`, returning the order's row; `menu` (the school's copy) and the pupil's
    account spare their reads when the caller has them."""
    school_id = place.school_id
    if menu is not None:
        cover = await benefits.best_cover(
            menu.covers_on(day), student_id, place.grade, day, meal_set.kind, meal_set.price
        )
    else:
        cover = await benefits.cover_for(
            student_id, school_id, place.grade, day, meal_set.kind, meal_set.price
        )
    benefit_amount = cover.amount if cover else 0
    family_amount = meal_set.price - benefit_amount
    paid_by = "balance" if not benefit_amount else "benefit" if not family_amount else "mixed"
    # The accounts, opened on first use, before the transaction: it then only writes.
    if menu is not None:
        caterer = await menu.account(AccountKind.CATERER_PAYABLE, caterer_id=meal_set.caterer_id)
        budget = await menu.account(AccountKind.BENEFIT_BUDGET) if benefit_amount else None
    else:
        caterer = await ledger.book_account(
            AccountKind.CATERER_PAYABLE, school_id, caterer_id=meal_set.caterer_id
        )
        budget = (
            await ledger.book_account(AccountKind.BENEFIT_BUDGET, school_id)
            if benefit_amount
            else None
        )
    pupil = None
    if family_amount:
        pupil = pupil_account or await accounts.open_pupil_account(student_id, school_id)
    values: dict[str, Any] = {
        "student": student_id,
        "school": school_id,
        "date": day,
        "meal_kind": meal_set.kind,
        "meal_set": meal_set.id,
        "caterer": meal_set.caterer_id,
        "school_class": place.class_id,
        "price": meal_set.price,
        "paid_by": paid_by,
        "benefit_amount": benefit_amount,
        "status": ORDERED,
        "live": 1,
        "note": cover.category if cover else "",
        "created_by": actor.user_id,
        "created_at": _now(),
    }
    audit: list[Entry] = []  # the holds' entries and the order's, written in one INSERT
    async with transaction():
        # One live order per pupil, day and meal kind: the unique index `meal_order_live`
        # decides (a concurrent twin waits for this transaction, then fails).
        try:
            order_id = await ledger.insert_row(MealOrder, values)
        except Exception as exc:  # the engine's integrity error (asyncpg's or sqlite3's)
            if not _is_live_order_twin(exc):
                raise
            raise Conflict(
                key="meals.already_ordered",
                date=ru_date(day),
                kind=t(f"meals.meal_kind.{meal_set.kind}").lower(),
            ) from exc
        holds: dict[str, int | None] = {"hold_id": None, "benefit_hold_id": None}
        if pupil is not None:
            hold = await ledger.transfer(
                actor,
                debit=pupil["ledger_account"],
                credit=caterer,
                amount=family_amount,
                kind=TransferKind.MEAL_ORDER,
                key=f"order:{order_id}",
                fresh_key=True,
                school_id=school_id,
                pending=True,
                reference=f"order:{order_id}",
                audit=audit,
            )
            holds["hold_id"] = hold["id"]
        if budget is not None:
            hold = await ledger.transfer(
                actor,
                debit=budget,
                credit=caterer,
                amount=benefit_amount,
                kind=TransferKind.BENEFIT_MEAL,
                key=f"order-benefit:{order_id}",
                fresh_key=True,
                school_id=school_id,
                pending=True,
                reference=f"order:{order_id}",
                audit=audit,
            )
            holds["benefit_hold_id"] = hold["id"]
        await MealOrder.raw(
            "UPDATE meal_order SET hold_id = {}, benefit_hold_id = {} WHERE id = {}",
            holds["hold_id"],
            holds["benefit_hold_id"],
            order_id,
        )
        audit.append(
            Entry(
                AuditAction.CREATE,
                object_type="meal_order",
                object_id=order_id,
                school_id=school_id,
                student_id=student_id,
                details={
                    "date": day.isoformat(),
                    "meal_set": meal_set.id,
                    "price": meal_set.price,
                    "benefit": benefit_amount,
                },
            )
        )
        await record_many(actor, audit)
    return {"id": order_id, **values, **holds, "cancel_reason": ""}


def _is_live_order_twin(exc: BaseException) -> bool:
    """The insert broke `meal_order_live` (PostgreSQL names the constraint; SQLite the
    columns of the unique index)."""
    if getattr(exc, "constraint_name", None) == "meal_order_live":
        return True
    text = str(exc)
    return "UNIQUE constraint failed: meal_order.student" in text


async def order_row(order_id: int) -> dict[str, Any]:
    row = await MealOrder.select().where(MealOrder.id == order_id).first()
    if row is None:
        raise NotFound()
    return row


async def lock_order(order_id: int) -> dict[str, Any]:
    """The order, locked until the transaction ends (`SELECT ... FOR UPDATE` on PostgreSQL;
    SQLite's transaction already holds the database). Whoever changes an order's state — a
    cancellation, the cut-off, the counter — takes this lock before the ledger's, so two of
    them never wait on each other in a circle."""
    if isinstance(current_engine(), PostgresEngine):
        rows = await MealOrder.raw("SELECT * FROM meal_order WHERE id = {} FOR UPDATE", order_id)
        row = rows[0] if rows else None
    else:
        row = await MealOrder.select().where(MealOrder.id == order_id).first()
    if row is None:
        raise NotFound()
    return dict(row)


async def cancel_row(actor: Actor, row: dict[str, Any], reason: str) -> None:
    """Void the hold and mark the order cancelled (the caller checked the cut-off)."""
    async with transaction():
        if (await lock_order(row["id"]))["status"] != ORDERED:
            raise Conflict(key="meals.order_not_cancellable")
        for hold_id in (row["hold_id"], row["benefit_hold_id"]):
            if hold_id is not None:
                await ledger.resolve(actor, hold_id, post=False, reason=reason)
        await MealOrder.update(
            {
                MealOrder.status: CANCELLED,
                MealOrder.live: None,
                MealOrder.cancel_reason: reason,
                MealOrder.cancelled_at: _now(),
                MealOrder.cancelled_by: actor.user_id,
            }
        ).where(MealOrder.id == row["id"])
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="meal_order",
            object_id=row["id"],
            school_id=row["school"],
            student_id=row["student"],
            details={"status": CANCELLED, "reason": reason},
        )


async def cancel_order(actor: Actor, order_id: int) -> s.MealOrderOut:
    row = await order_row(order_id)
    await accounts.student_scope(actor, row["student"], P.MEALS_ORDER)
    if row["status"] != ORDERED:
        raise Conflict(key="meals.order_not_cancellable")
    cutoff = await cutoff_of(row["school"], row["date"], None)
    if _now() >= cutoff.at:
        raise Conflict(
            key="meals.cancel_after_cutoff",
            date=ru_date(row["date"]),
            cutoff=cutoff.local.strftime("%H:%M %d.%m.%Y"),
        )
    await cancel_row(actor, row, "family")
    return (await orders_out([await order_row(order_id)]))[0]


async def list_orders(
    actor: Actor, student_id: int, date_from: date, date_to: date
) -> list[s.MealOrderOut]:
    await accounts.student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_MANAGE)
    rows = (
        await MealOrder.select()
        .where(
            (MealOrder.student == student_id)
            & (MealOrder.date >= date_from)
            & (MealOrder.date <= date_to)
        )
        .order_by(MealOrder.date)
        .order_by(MealOrder.id)
    )
    return await orders_out(rows)


async def report_absence(
    actor: Actor, student_id: int, data: s.AbsenceReport, *, by_school: bool
) -> s.AbsenceOut:
    """The child is ill (the family) or absent (the school) on these days: every order of
    those days whose cut-off has not passed is cancelled and its money released now; orders
    past the cut-off stay (the meal is already cooked) and are listed."""
    permission = P.MEALS_MANAGE if by_school else P.MEALS_ORDER
    await accounts.student_scope(actor, student_id, permission)
    if data.date_to < data.date_from:
        raise ValidationFailed(key="meals.dates_order", details={"field": "date_to"})
    if (data.date_to - data.date_from).days > 62:
        raise ValidationFailed(key="meals.absence_too_long", details={"field": "date_to"})
    rows = (
        await MealOrder.select()
        .where(
            (MealOrder.student == student_id)
            & (MealOrder.date >= data.date_from)
            & (MealOrder.date <= data.date_to)
            & (MealOrder.status == ORDERED)
        )
        .order_by(MealOrder.date)
    )
    reason = "absence" if by_school else "illness"
    cancelled, kept = [], []
    for row in rows:
        cutoff = await cutoff_of(row["school"], row["date"], None)
        if _now() < cutoff.at:
            await cancel_row(actor, row, reason)
            cancelled.append(await order_row(row["id"]))
        else:
            kept.append(row)
    return s.AbsenceOut(
        cancelled=await orders_out(cancelled), kept_past_cutoff=await orders_out(kept)
    )


async def assign_default_sets(actor: Actor, school_id: int, day: date) -> int:
    """At the cut-off: a pupil whose benefit fully covers a meal kind, whose family ordered
    nothing of that kind and did not refuse the day, gets the day's default set of that kind
    (the first on the pupil's menu free of the pupil's allergens). A partial cover orders
    nothing by itself: the family's part needs the family's choice."""
    covers = [c for c in await benefits.covers_on(school_id, day) if c["cover"] == "full"]
    if not covers:
        return 0
    kinds = {k for c in covers for k in c["kinds"]}
    classes = await structure.list_classes(Actor.system(), school_id)
    assigned = 0
    for school_class in classes:
        pupils = await movement.students_of_class(school_class["id"], day)
        for pupil in pupils:
            place = menus.PupilPlace(school_id, school_class["id"], school_class["grade"])
            if not (await menus.school_day(school_id, day, place.grade)).is_school_day:
                break
            offered = await menus.pupil_menu_rows(place, day)
            allergens = set((await menus.pupil_diet_row(pupil.id))["allergens"])
            for kind in sorted(kinds):
                if await _has_live_order(pupil.id, day, kind) or await benefits.refused_on(
                    pupil.id, day, kind
                ):
                    continue
                for row in offered:
                    if row["kind"] != kind:
                        continue
                    meal_set = await menus._set_out(row)
                    if set(meal_set.allergens) & allergens:
                        continue
                    cover = await benefits.cover_for(
                        pupil.id, school_id, place.grade, day, kind, meal_set.price
                    )
                    if cover is None or cover.amount < meal_set.price:
                        break
                    await create_order(actor, pupil.id, place, meal_set, day)
                    assigned += 1
                    break
    return assigned


async def _has_live_order(student_id: int, day: date, kind: str) -> bool:
    row = (
        await MealOrder.select(MealOrder.id)
        .where(
            (MealOrder.student == student_id)
            & (MealOrder.date == day)
            & (MealOrder.meal_kind == kind)
            & (MealOrder.live == 1)
        )
        .first()
    )
    return row is not None


has_live_order = _has_live_order


async def post_order(actor: Actor, row: dict[str, Any]) -> bool:
    """Post the order's holds (the family's part and the benefit's) and mark it posted: at the
    cut-off, or when the canteen serves it first. A hold resolves at most once (the ledger), so
    the cut-off and a serving racing for one order post it once. False: it was not standing."""
    async with transaction():
        if (await lock_order(row["id"]))["status"] != ORDERED:
            return False
        for hold_id in (row["hold_id"], row["benefit_hold_id"]):
            if hold_id is not None:
                done = await ledger.resolve(actor, hold_id, post=True)
                assert done["status"] == Status.POSTED
        await MealOrder.update({MealOrder.status: POSTED}).where(MealOrder.id == row["id"])
    return True


async def run_cutoff(actor: Actor, school_id: int) -> s.CutoffOut:
    """For every day whose cut-off has passed: order the benefit pupils' default sets, then
    post the holds of every standing order (the scheduled job calls this; staff may run it by
    hand). Safe to repeat."""
    await accounts.school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    today = await _school_today(school_id)
    defaults = 0
    for ahead in range(CUTOFF_DAYS_AHEAD):
        day = today + timedelta(days=ahead)
        if _now() >= (await cutoff_of(school_id, day)).at:
            defaults += await assign_default_sets(actor, school_id, day)
    rows = await MealOrder.select().where(
        (MealOrder.school == school_id)
        & (MealOrder.status == ORDERED)
        & (MealOrder.date <= today + timedelta(days=MAX_LOOKBACK_DAYS))
    )
    posted = 0
    cutoffs: dict[date, Cutoff] = {}
    for row in rows:
        if row["date"] not in cutoffs:
            cutoffs[row["date"]] = await cutoff_of(school_id, row["date"], None)
        if _now() < cutoffs[row["date"]].at:
            continue
        posted += await post_order(actor, row)
    return s.CutoffOut(school_id=school_id, posted=posted, default_sets=defaults)


async def refuse_day(actor: Actor, student_id: int, data: s.BenefitRefusalCreate) -> s.AbsenceOut:
    """The family refuses the benefit meal of a day, with a reason: no default set will be
    ordered, and a benefit order already standing (before its cut-off) is cancelled. Here, not
    in `benefits`: it cancels orders, and orders read the benefits."""
    target = await accounts.student_scope(actor, student_id, P.MEALS_ORDER)
    cutoff = await cutoff_of(target.school_id or 0, data.date)
    if datetime.now(UTC) >= cutoff.at:
        raise Conflict(
            key="meals.refusal_after_cutoff",
            date=ru_date(data.date),
            cutoff=cutoff.local.strftime("%H:%M %d.%m.%Y"),
        )
    async with transaction():
        if await benefits.refused_on(student_id, data.date, data.meal_kind):
            raise Conflict(key="meals.already_refused", date=ru_date(data.date))
        await benefits.record_refusal(actor, target.school_id, student_id, data)
        standing = await MealOrder.select().where(
            (MealOrder.student == student_id)
            & (MealOrder.date == data.date)
            & (MealOrder.meal_kind == data.meal_kind)
            & (MealOrder.live == 1)
            & (MealOrder.benefit_amount > 0)
        )
        cancelled = []
        for row in standing:
            await cancel_row(actor, row, "refused")
            cancelled.append(await order_row(row["id"]))
    return s.AbsenceOut(cancelled=await orders_out(cancelled), kept_past_cutoff=[])
