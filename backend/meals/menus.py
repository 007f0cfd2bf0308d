"""Menus: caterers, dishes, meal sets, meal plans, the two-week cyclic menu that becomes each
school day's menu, and pupils' recorded allergens and diets.

The school calendar (study days, holidays, the cut-off time) is the schools context's: read
through its services, never its tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from backend.accounts.identifiers import normalize_email
from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import NotFound, ValidationFailed
from backend.core.rights import Permission, ScopeTarget
from backend.i18n import t
from backend.meals import schemas as s
from backend.meals.accounts import (
    allowed,
    bump_menu_version,
    new_menu_version,
    school_scope,
    student_scope,
)
from backend.meals.tables import (
    Caterer,
    Dish,
    MealPlan,
    MealSchoolSettings,
    MealSet,
    MenuCycleDay,
    PupilDiet,
)
from backend.schools.people import movement
from backend.schools.structure import services as structure
from backend.schools.structure.schemas import SchoolSettingsOut
from backend.schools.timetable import services as timetable

P = Permission

# The major allergens that must be declared (EU Regulation 1169/2011 Annex II; TR CU 022/2011
# art. 4.4 lists the same groups): a fixed list, so a family's record and a dish's label use
# the same words.
ALLERGENS = (
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "peanuts",
    "soy",
    "milk",
    "tree_nuts",
    "celery",
    "mustard",
    "sesame",
    "sulphites",
    "lupin",
    "molluscs",
)
MEAL_KINDS = ("breakfast", "lunch", "snack")
CYCLE_WEEKS = 2


def allergen_names(codes: list[str] | set[str]) -> str:
    return ", ".join(t(f"meals.allergen.{c}") for c in ALLERGENS if c in codes)


def _audit(actor: Actor, action: str, kind: str, obj: Any, school_id: int | None, **details: Any):
    return record(
        actor,
        action,
        object_type=kind,
        object_id=obj,
        school_id=school_id,
        details={k: msgspec.to_builtins(v) for k, v in details.items()},
    )


# ---- caterers and dishes ---------------------------------------------------------------------


async def create_caterer(actor: Actor, school_id: int, data: s.CatererCreate) -> s.CatererOut:
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    email = normalize_email(data.email) if data.email else ""
    async with transaction():
        rows = await Caterer.insert(
            Caterer(
                name=data.name,
                inn=data.inn,
                email=email,
                schools=[school_id],
                created_at=datetime.now(UTC),
            )
        ).returning(Caterer.id)
        caterer_id = rows[0]["id"]
        await _audit(actor, AuditAction.CREATE, "caterer", caterer_id, school_id, name=data.name)
    return s.CatererOut(
        id=caterer_id, name=data.name, inn=data.inn, schools=[school_id], email=email
    )


async def _caterer_in_scope(actor: Actor, caterer_id: int) -> dict[str, Any]:
    """The caterer, if the actor manages meals at one of the schools it serves; else 404."""
    row = await Caterer.select().where(Caterer.id == caterer_id).output(load_json=True).first()
    if row is None:
        raise NotFound()
    for school_id in row["schools"]:
        try:
            await school_scope(actor, school_id, P.MEALS_MANAGE)
            return row
        except NotFound:
            continue
    raise NotFound()


def _dish_out(row: dict[str, Any]) -> s.DishOut:
    return s.DishOut(
        id=row["id"],
        caterer_id=row["caterer"],
        name=row["name"],
        composition=row["composition"],
        allergens=row["allergens"],
        allergen_names=allergen_names(row["allergens"]),
        weight_g=row["weight_g"],
        kcal=row["kcal"],
        proteins_g=row["proteins_g"],
        fats_g=row["fats_g"],
        carbs_g=row["carbs_g"],
    )


async def create_dish(actor: Actor, caterer_id: int, data: s.DishCreate) -> s.DishOut:
    caterer = await _caterer_in_scope(actor, caterer_id)
    async with transaction():
        rows = await Dish.insert(
            Dish(
                caterer=caterer_id,
                name=data.name,
                composition=data.composition,
                allergens=sorted(set(data.allergens), key=ALLERGENS.index),
                weight_g=data.weight_g,
                kcal=data.kcal,
                proteins_g=data.proteins_g,
                fats_g=data.fats_g,
                carbs_g=data.carbs_g,
                created_at=datetime.now(UTC),
            )
        ).returning(Dish.id)
        await _audit(
            actor, AuditAction.CREATE, "dish", rows[0]["id"], caterer["schools"][0], name=data.name
        )
    row = await Dish.select().where(Dish.id == rows[0]["id"]).output(load_json=True).first()
    assert row is not None
    return _dish_out(row)


async def list_dishes(actor: Actor, caterer_id: int) -> list[s.DishOut]:
    await _caterer_in_scope(actor, caterer_id)
    rows = (
        await Dish.select()
        .where(Dish.caterer == caterer_id)
        .order_by(Dish.id)
        .output(load_json=True)
    )
    return [_dish_out(r) for r in rows]


# ---- meal sets -------------------------------------------------------------------------------


async def _dishes(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await Dish.select().where(Dish.id.is_in(list(ids))).output(load_json=True)
    return {r["id"]: r for r in rows}


def set_title(kind_name: str, name: str) -> str:
    """How a meal set reads in a sentence, once: a name that already says its meal as the
    caterer wrote it («Обед «Борщ и рыба»») stands as it is; another gets the meal in front
    («Завтрак «Каша»», or «Обед: «Школьный»» when the name brings its own quotes)."""
    name = name.strip()
    if name.casefold().startswith(kind_name.casefold()):
        return name
    if "«" in name or "»" in name:
        return f"{kind_name}: {name}"
    return f"{kind_name} «{name}»"


async def _set_out(
    row: dict[str, Any], dishes: dict[int, dict[str, Any]] | None = None
) -> s.MealSetOut:
    dishes = dishes if dishes is not None else await _dishes(row["dishes"])
    members = [dishes[d] for d in row["dishes"] if d in dishes]
    allergens = {a for d in members for a in d["allergens"]}
    kind_name = t(f"meals.meal_kind.{row['kind']}")
    return s.MealSetOut(
        id=row["id"],
        school_id=row["school"],
        caterer_id=row["caterer"],
        name=row["name"],
        title=set_title(kind_name, row["name"]),
        kind=row["kind"],
        kind_name=kind_name,
        price=row["price"],
        grades=row["grades"],
        diet=row["diet"],
        dishes=[_dish_out(d) for d in members],
        allergens=sorted(allergens, key=ALLERGENS.index),
        kcal=round(sum(d["kcal"] for d in members), 1),
    )


meal_set_out = _set_out  # a meal set row with its dishes' allergens and energy
dishes_of = _dishes  # dish rows by id


async def create_meal_set(actor: Actor, school_id: int, data: s.MealSetCreate) -> s.MealSetOut:
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    caterer = await _caterer_in_scope(actor, data.caterer_id)
    if school_id not in caterer["schools"]:
        raise ValidationFailed(key="meals.caterer_not_of_school", details={"field": "caterer_id"})
    dishes = await _dishes(data.dish_ids)
    unknown = [d for d in data.dish_ids if d not in dishes or dishes[d]["caterer"] != caterer["id"]]
    if unknown:
        raise ValidationFailed(
            key="meals.dish_unknown",
            details={"field": "dish_ids"},
            ids=", ".join(map(str, unknown)),
        )
    async with transaction():
        rows = await MealSet.insert(
            MealSet(
                school=school_id,
                caterer=data.caterer_id,
                name=data.name,
                kind=data.kind,
                price=data.price,
                grades=sorted(set(data.grades)),
                dishes=list(data.dish_ids),
                diet=data.diet,
                created_at=datetime.now(UTC),
            )
        ).returning(MealSet.id)
        await bump_menu_version(school_id)
        await _audit(
            actor,
            AuditAction.CREATE,
            "meal_set",
            rows[0]["id"],
            school_id,
            name=data.name,
            price=data.price,
        )
    return await meal_set(rows[0]["id"])


async def meal_set(set_id: int) -> s.MealSetOut:
    row = await MealSet.select().where(MealSet.id == set_id).output(load_json=True).first()
    if row is None:
        raise NotFound()
    return await _set_out(row)


async def list_meal_sets(actor: Actor, school_id: int) -> list[s.MealSetOut]:
    await school_scope(actor, school_id, P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
    rows = (
        await MealSet.select()
        .where((MealSet.school == school_id) & (MealSet.is_active == True))  # noqa: E712
        .order_by(MealSet.id)
        .output(load_json=True)
    )
    dishes = await _dishes([d for r in rows for d in r["dishes"]])
    return [await _set_out(r, dishes) for r in rows]


# ---- plans and the cyclic menu ---------------------------------------------------------------


async def set_plan(
    actor: Actor, school_id: int, class_id: int, data: s.MealPlanUpdate
) -> s.MealPlanOut:
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    info = await movement.class_info(class_id)
    if info.school_id != school_id:
        raise NotFound()
    kinds: list[str] = sorted(set(data.kinds))
    weekdays = sorted(set(data.weekdays))
    async with transaction():
        now = datetime.now(UTC)
        await MealPlan.insert(
            MealPlan(
                school=school_id,
                school_class=class_id,
                kinds=kinds,
                weekdays=weekdays,
                updated_at=now,
            )
        ).on_conflict(
            target=MealPlan.school_class,
            action="DO UPDATE",
            values=[MealPlan.kinds, MealPlan.weekdays, MealPlan.updated_at],
        )
        await bump_menu_version(school_id)
        await _audit(
            actor,
            AuditAction.UPDATE,
            "meal_plan",
            class_id,
            school_id,
            kinds=kinds,
            weekdays=weekdays,
        )
    return s.MealPlanOut(class_id=class_id, kinds=kinds, weekdays=weekdays)


async def list_plans(actor: Actor, school_id: int) -> list[s.MealPlanOut]:
    """The school's meal plans: which meals each class gets on which weekdays (a class without
    a plan is offered every meal of the day's menu)."""
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    rows = (
        await MealPlan.select(MealPlan.school_class, MealPlan.kinds, MealPlan.weekdays)
        .where(MealPlan.school == school_id)
        .output(load_json=True)
    )
    return [
        s.MealPlanOut(
            class_id=r["school_class"], kinds=list(r["kinds"]), weekdays=list(r["weekdays"])
        )
        for r in rows
    ]


async def set_cycle(actor: Actor, school_id: int, data: s.MenuCycleUpdate) -> s.MenuCycleOut:
    """Replace the school's two-week cyclic menu."""
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    if data.starts_on.isoweekday() != 1:
        raise ValidationFailed(key="meals.cycle_start_monday", details={"field": "starts_on"})
    wanted = {i for d in data.days for i in d.meal_set_ids}
    rows = await MealSet.select(MealSet.id).where(
        (MealSet.school == school_id) & MealSet.id.is_in(list(wanted) or [0])
    )
    unknown = wanted - {r["id"] for r in rows}
    if unknown:
        raise ValidationFailed(
            key="meals.meal_set_unknown",
            details={"field": "meal_set_ids"},
            ids=", ".join(map(str, sorted(unknown))),
        )
    slots = [(d.week, d.weekday) for d in data.days]
    if len(slots) != len(set(slots)):
        raise ValidationFailed(key="meals.cycle_day_twice", details={"field": "days"})
    async with transaction():
        now = datetime.now(UTC)
        await MenuCycleDay.delete().where(MenuCycleDay.school == school_id)
        for d in data.days:
            await MenuCycleDay.insert(
                MenuCycleDay(
                    school=school_id,
                    week=d.week,
                    weekday=d.weekday,
                    meal_sets=list(d.meal_set_ids),
                    updated_at=now,
                )
            )
        await MealSchoolSettings.insert(
            MealSchoolSettings(
                school=school_id,
                menu_cycle_start=data.starts_on,
                menu_version=new_menu_version(),
                updated_at=now,
            )
        ).on_conflict(
            target=MealSchoolSettings.school,
            action="DO UPDATE",
            values=[
                MealSchoolSettings.menu_cycle_start,
                MealSchoolSettings.menu_version,
                MealSchoolSettings.updated_at,
            ],
        )
        await _audit(
            actor,
            AuditAction.UPDATE,
            "menu_cycle",
            school_id,
            school_id,
            starts_on=data.starts_on,
            days=len(data.days),
        )
    return s.MenuCycleOut(school_id=school_id, starts_on=data.starts_on, days=data.days)


async def get_cycle(actor: Actor, school_id: int) -> s.MenuCycleOut | None:
    """The school's two-week cyclic menu as last set (None before the first)."""
    await school_scope(actor, school_id, P.MEALS_MANAGE)
    settings = (
        await MealSchoolSettings.select(MealSchoolSettings.menu_cycle_start)
        .where(MealSchoolSettings.school == school_id)
        .first()
    )
    if settings is None or settings["menu_cycle_start"] is None:
        return None
    rows = (
        await MenuCycleDay.select(MenuCycleDay.week, MenuCycleDay.weekday, MenuCycleDay.meal_sets)
        .where(MenuCycleDay.school == school_id)
        .order_by(MenuCycleDay.week)
        .order_by(MenuCycleDay.weekday)
        .output(load_json=True)
    )
    days = [
        s.MenuCycleDayIn(week=r["week"], weekday=r["weekday"], meal_set_ids=list(r["meal_sets"]))
        for r in rows
    ]
    return s.MenuCycleOut(school_id=school_id, starts_on=settings["menu_cycle_start"], days=days)


@dataclass(frozen=True, slots=True)
class SchoolDay:
    """What the school calendar says about one date."""

    is_school_day: bool
    reason: str  # "" | holiday name | "weekend"


@dataclass(frozen=True, slots=True)
class MealCalendar:
    """A school's clock and calendar over a span of days, read once (two queries): an order
    asks about its day and about the school days before it (the cut-off) many times."""

    school_id: int
    zone: ZoneInfo
    settings: Any  # the schools context's SchoolSettings (study days, the cut-off)
    holidays: Any  # the timetable's HolidayCalendar over [starts, ends]
    starts: date
    ends: date

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def school_day(self, day: date, grade: int | None) -> SchoolDay:
        assert self.starts <= day <= self.ends, "outside the calendar's span"
        if day.isoweekday() not in self.settings.study_days:
            return SchoolDay(False, t("meals.day_off"))
        if self.holidays.is_off(day, grade):
            return SchoolDay(False, self.holidays.names.get(day, t("meals.day_off")))
        return SchoolDay(True, "")


async def meal_calendar(
    school_id: int,
    starts: date,
    ends: date,
    clock: SchoolSettingsOut | None = None,
    holiday_rows: list[dict[str, Any]] | None = None,
) -> MealCalendar:
    """`clock` and `holiday_rows` (over [starts, ends]): when the caller has read them
    (`structure.pupil_day`)."""
    clock = clock or await structure.school_clock(school_id)
    holidays = (
        timetable.HolidayCalendar(holiday_rows)
        if holiday_rows is not None
        else await timetable.load_holidays(school_id, starts, ends)
    )
    return MealCalendar(
        school_id, ZoneInfo(clock.time_zone), clock.settings, holidays, starts, ends
    )


async def school_day(school_id: int, day: date, grade: int | None) -> SchoolDay:
    return (await meal_calendar(school_id, day, day)).school_day(day, grade)


def cycle_week(start: date, day: date) -> int:
    """Week 1 or 2 of the cyclic menu that started on `start` (a Monday, not after `day`)."""
    return ((day - start).days // 7) % CYCLE_WEEKS + 1


async def cycle_sets(school_id: int, day: date) -> list[int]:
    """The meal sets the cyclic menu offers on a date (the calendar is checked separately)."""
    settings = (
        await MealSchoolSettings.select(MealSchoolSettings.menu_cycle_start)
        .where(MealSchoolSettings.school == school_id)
        .first()
    )
    start = settings["menu_cycle_start"] if settings else None
    if start is None or day < start:
        return []
    week = cycle_week(start, day)
    row = (
        await MenuCycleDay.select(MenuCycleDay.meal_sets)
        .where(
            (MenuCycleDay.school == school_id)
            & (MenuCycleDay.week == week)
            & (MenuCycleDay.weekday == day.isoweekday())
        )
        .output(load_json=True)
        .first()
    )
    return list(row["meal_sets"]) if row else []


@dataclass(frozen=True, slots=True)
class PupilPlace:
    school_id: int
    class_id: int | None
    grade: int | None


async def pupil_place(target: ScopeTarget, day: date) -> PupilPlace:
    assert target.school_id is not None and target.student_id is not None
    class_id = await movement.class_on(target.student_id, day)
    grade = (await movement.class_info(class_id)).grade if class_id else None
    return PupilPlace(target.school_id, class_id, grade)


async def pupil_menu_rows(place: PupilPlace, day: date) -> list[dict[str, Any]]:
    """The meal sets offered to a pupil on a date: in the day's menu, for the pupil's grade,
    of a meal kind the class's plan gives on that weekday (every kind when it has no plan)."""
    ids = await cycle_sets(place.school_id, day)
    if not ids:
        return []
    rows = (
        await MealSet.select()
        .where(
            MealSet.id.is_in(ids) & (MealSet.is_active == True)  # noqa: E712
        )
        .output(load_json=True)
    )
    plan = None
    if place.class_id is not None:
        plan = (
            await MealPlan.select()
            .where(MealPlan.school_class == place.class_id)
            .output(load_json=True)
            .first()
        )
    return offered_rows(rows, plan, place, day)


def offered_rows(
    rows: list[dict[str, Any]], plan: dict[str, Any] | None, place: PupilPlace, day: date
) -> list[dict[str, Any]]:
    """Of the day's active meal sets, those for the pupil's grade and of a kind the class's
    plan gives on that weekday (every kind when the class has no plan)."""
    kinds: set[str] | None = None
    if plan is not None:
        kinds = set(plan["kinds"]) if day.isoweekday() in plan["weekdays"] else set()
    return [
        r
        for r in rows
        if (not r["grades"] or place.grade in r["grades"]) and (kinds is None or r["kind"] in kinds)
    ]


async def pupil_menu(actor: Actor, student_id: int, day: date) -> s.PupilMenuOut:
    target = await student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_MANAGE)
    place = await pupil_place(target, day)
    calendar = await school_day(place.school_id, day, place.grade)
    if not calendar.is_school_day:
        return s.PupilMenuOut(
            date=day, is_school_day=False, day_off_reason=calendar.reason, sets=[]
        )
    diet = await pupil_diet_row(student_id)
    rows = await pupil_menu_rows(place, day)
    dishes = await _dishes([d for r in rows for d in r["dishes"]])
    sets = []
    for r in rows:
        out = await _set_out(r, dishes)
        blocked = sorted(set(out.allergens) & set(diet["allergens"]), key=ALLERGENS.index)
        sets.append(s.PupilMenuSet(meal_set=out, blocked_allergens=blocked))
    return s.PupilMenuOut(date=day, is_school_day=True, day_off_reason="", sets=sets)


# ---- pupils' allergens and diets -------------------------------------------------------------


async def pupil_diet_row(student_id: int) -> dict[str, Any]:
    row = (
        await PupilDiet.select()
        .where(PupilDiet.student == student_id)
        .output(load_json=True)
        .first()
    )
    return row or {"student": student_id, "allergens": [], "diet": ""}


async def get_diet(actor: Actor, student_id: int) -> s.PupilDietOut:
    target = await student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_MANAGE)
    if not allowed(actor, target, P.MEALS_ORDER):
        await record(
            actor,
            AuditAction.READ_HEALTH,
            object_type="pupil_diet",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
        )
    row = await pupil_diet_row(student_id)
    return s.PupilDietOut(
        student_id=student_id,
        allergens=row["allergens"],
        allergen_names=allergen_names(row["allergens"]),
        diet=row["diet"],
    )


async def set_diet(actor: Actor, student_id: int, data: s.PupilDietUpdate) -> s.PupilDietOut:
    target = await student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_MANAGE)
    allergens = sorted(set(data.allergens), key=ALLERGENS.index)
    async with transaction():
        await PupilDiet.insert(
            PupilDiet(
                student=student_id,
                allergens=allergens,
                diet=data.diet,
                updated_by=actor.user_id,
                updated_at=datetime.now(UTC),
            )
        ).on_conflict(
            target=PupilDiet.student,
            action="DO UPDATE",
            values=[
                PupilDiet.allergens,
                PupilDiet.diet,
                PupilDiet.updated_by,
                PupilDiet.updated_at,
            ],
        )
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="pupil_diet",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
            details={"allergens": allergens, "diet": data.diet},
        )
    return await get_diet(actor, student_id)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)
