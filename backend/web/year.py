"""The staff web's year pages (/admin/web/timetable/...): the study year with its periods and
holidays, classes and groups, the curriculum with each teacher's load, and the day's lessons
with replacements and the generation of lessons for a period.

Each page reads through the structure and timetable services with `structure.read`; each form
posts to the service the API's endpoint calls (rights, validation, audit are theirs) and, when
it is refused, the page comes back with the service's Russian message and nothing written; a
form that worked sends the browser back to its page (303) with one line saying what was done.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, get, post
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.errors import DomainError, NotFound, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import t
from backend.schools.structure import schemas as s
from backend.schools.structure import services as structure
from backend.schools.timetable import services as timetable
from backend.web.kit import (
    AnyRequest,
    Staff,
    form_struct,
    form_writer,
    in_school,
    page,
    parse_date,
    school_of,
    school_page,
)
from backend.web.kit import parse_id as _id
from backend.web.nav import YEAR_PERMISSIONS
from backend.web.timetable import can_manage

BASE = "/admin/web/timetable"
PERIOD_KINDS = ("quarter", "trimester", "half_year")
DAY_LIMIT = 500  # lessons of one day in a school: the API's page limit
READ = (Permission.STRUCTURE_READ,)
Build = Callable[[Staff, int, AnyRequest], Awaitable[dict[str, Any]]]  # a tab's context


def _grades(value: Any) -> Any:
    """«5, 6, 7» or «5-9» from a form as the API's list of grades; anything else is passed on
    as it is, for the API's message."""
    text = str(value or "").strip()
    if not text:
        return []
    if m := re.fullmatch(r"(\d{1,2})\s*[-–]\s*(\d{1,2})", text):
        return list(range(int(m.group(1)), int(m.group(2)) + 1))
    parts = [p for p in re.split(r"[\s,;]+", text) if p]
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else text


async def years_of(staff: Staff, school_id: int, wanted: Any) -> tuple[list[dict[str, Any]], Any]:
    years = await structure.list_years(staff.actor, school_id)
    if wanted and str(wanted).isdigit():
        chosen = next((y for y in years if y["id"] == int(wanted)), None)
        if chosen is None:
            raise NotFound()
        return years, chosen
    today = date.today()
    current = next((y for y in years if y["starts_on"] <= today <= y["ends_on"]), None)
    return years, current or (max(years, key=lambda y: y["starts_on"]) if years else None)


def _back(path: str, school_id: int, done: str, **params: Any) -> Redirect:
    query = urlencode({"school": school_id, **{k: v for k, v in params.items() if v}, "done": done})
    return Redirect(path=f"{BASE}{path}?{query}", status_code=HTTP_303_SEE_OTHER)


class YearController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    async def _page(
        self,
        request: AnyRequest,
        tab: str,
        build: Build,
        *,
        staff: Staff | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response[Any]:
        async def show(staff: Staff, school_id: int) -> Response[Any]:
            context = await build(staff, school_id, request)
            done = request.query_params.get("done", "")
            return page(
                request,
                f"year/{tab}.html",
                staff.principal,
                status=status,
                tab=tab,
                school_id=school_id,
                school_q=f"school={school_id}",
                manage=can_manage(staff.principal),
                problem=problem,
                done=t(f"web.year.done.{done}") if done in DONE else "",
                **context,
            )

        if staff is None:
            return await school_page(request, YEAR_PERMISSIONS, "web.year.no_access", show, READ)
        return await in_school(request, staff, READ, show)

    async def _write(
        self,
        request: AnyRequest,
        tab: str,
        build: Build,
        action: Callable[[Staff, int, dict[str, Any]], Awaitable[Redirect]],
    ) -> Response[Any]:
        """A form's post: CSRF, then the manager's rights, then the service; a refusal answers
        the page again with the message (nothing was written)."""
        staff, form = await form_writer(request, Permission.STRUCTURE_MANAGE, "web.year.no_manage")
        if isinstance(staff, Response):
            return staff
        try:
            school_id = await school_of(request, staff, Permission.STRUCTURE_MANAGE)
            return await action(staff, school_id, form)
        except DomainError as exc:
            return await self._page(
                request, tab, build, staff=staff, problem=exc.message, status=exc.status_code
            )

    # ---- the study year: periods and holidays ------------------------------------------------

    async def _year(self, staff: Staff, school_id: int, request: AnyRequest) -> dict[str, Any]:
        years, year = await years_of(staff, school_id, request.query_params.get("year"))
        periods = holidays = []
        if year is not None:
            periods = await structure.list_periods(staff.actor, school_id, year["id"])
            holidays = await timetable.list_holidays(staff.actor, school_id, year["id"])
        return {
            "years": years,
            "year": year,
            "periods": periods,
            "holidays": holidays,
            "period_kinds": PERIOD_KINDS,
        }

    @get("/year")
    async def year(self, request: AnyRequest) -> Response[Any]:
        return await self._page(request, "year", self._year)

    @post("/year", status_code=200)
    async def year_post(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, school_id: int, form: dict[str, Any]) -> Redirect:
            what = str(form.get("what") or "")
            year_id = form.get("year_id")
            if what == "year":
                new_year = form_struct(
                    s.AcademicYearCreate, _pick(form, "name", "starts_on", "ends_on")
                )
                row = await structure.create_year(staff.actor, school_id, new_year)
                return _back("/year", school_id, "year", year=row["id"])
            if what == "period":
                values = _pick(form, "kind", "number", "starts_on", "ends_on", "name")
                values["grades"] = _grades(form.get("grades"))
                period = form_struct(s.StudyPeriodCreate, values)
                await structure.create_period(
                    staff.actor, school_id, _id(year_id, "academic_year_id"), period
                )
                return _back("/year", school_id, "period", year=year_id)
            if what in ("close", "reopen"):
                period_id = _id(form.get("period_id"), "period_id")
                if what == "close":
                    await structure.close_period(staff.actor, school_id, period_id)
                else:
                    await structure.reopen_period(staff.actor, school_id, period_id)
                return _back("/year", school_id, what, year=year_id)
            if what == "holiday":
                values = _pick(form, "name", "starts_on", "ends_on")
                values["grades"] = _grades(form.get("grades"))
                holiday = form_struct(s.HolidayCreate, values)
                await timetable.create_holiday(
                    staff.actor, school_id, _id(year_id, "academic_year_id"), holiday
                )
                return _back("/year", school_id, "holiday", year=year_id)
            if what == "holiday_delete":
                await timetable.delete_holiday(
                    staff.actor, school_id, _id(form.get("holiday_id"), "holiday_id")
                )
                return _back("/year", school_id, "holiday_delete", year=year_id)
            raise _bad("what")

        return await self._write(request, "year", self._year, act)

    # ---- classes and groups ------------------------------------------------------------------

    async def _classes(self, staff: Staff, school_id: int, request: AnyRequest) -> dict[str, Any]:
        years, year = await years_of(staff, school_id, request.query_params.get("year"))
        year_id = year["id"] if year else None
        choices = await timetable.school_choices(staff.actor, school_id, year_id)
        classes = await structure.list_classes(staff.actor, school_id, year_id) if year_id else []
        groups = await structure.list_groups(staff.actor, school_id) if year_id else []
        groups = [g for g in groups if g["academic_year"] == year_id]
        teachers = {x["id"]: x["name"] for x in choices["teachers"]}
        names = {c["id"]: c["name"] for c in classes}
        subjects = {x["id"]: x["name"] for x in choices["subjects"]}
        return {
            "years": years,
            "year": year,
            "classes": [
                {**c, "teacher_name": teachers.get(c["class_teacher"], "")} for c in classes
            ],
            "groups": [
                {
                    **g,
                    "class_name": names.get(g["school_class"], ""),
                    "subject_name": subjects.get(g["subject"], ""),
                }
                for g in groups
            ],
            "choices": choices,
        }

    @get("/classes")
    async def classes(self, request: AnyRequest) -> Response[Any]:
        return await self._page(request, "classes", self._classes)

    @post("/classes", status_code=200)
    async def classes_post(self, request: AnyRequest) -> Response[Any]:
        accounts = request.app.state.accounts

        async def act(staff: Staff, school_id: int, form: dict[str, Any]) -> Redirect:
            what = str(form.get("what") or "")
            year_id = form.get("academic_year_id")
            if what == "class":
                values = _pick(
                    form, "academic_year_id", "grade", "letter", "shift", "class_teacher_id"
                )
                klass = form_struct(s.SchoolClassCreate, values)
                await structure.create_class(staff.actor, school_id, klass, accounts=accounts)
                return _back("/classes", school_id, "class", year=year_id)
            if what == "class_update":
                values = _pick(form, "letter", "shift")
                data = form_struct(s.SchoolClassUpdate, values)
                if "class_teacher_id" in form:
                    teacher = form.get("class_teacher_id") or None
                    update = form_struct(
                        s.SchoolClassUpdate,
                        {**values, "class_teacher_id": teacher} if teacher else values,
                    )
                    data = update if teacher else _with(update, class_teacher_id=None)
                await structure.update_class(
                    staff.actor,
                    school_id,
                    _id(form.get("class_id"), "class_id"),
                    data,
                    accounts=accounts,
                )
                return _back("/classes", school_id, "class_update", year=year_id)
            if what == "group":
                values = _pick(form, "academic_year_id", "name", "subject_id", "school_class_id")
                group = form_struct(s.StudyGroupCreate, values)
                await structure.create_group(staff.actor, school_id, group)
                return _back("/classes", school_id, "group", year=year_id)
            raise _bad("what")

        return await self._write(request, "classes", self._classes, act)

    # ---- curriculum and teachers' loads ------------------------------------------------------

    async def _curriculum(
        self, staff: Staff, school_id: int, request: AnyRequest
    ) -> dict[str, Any]:
        years, year = await years_of(staff, school_id, request.query_params.get("year"))
        if year is None:
            return {"years": years, "year": None, "curriculum": [], "loads": [], "choices": {}}
        on = parse_date(request.query_params.get("on"), "date") or date.today()
        on = min(max(on, year["starts_on"]), year["ends_on"])
        curriculum, loads = await timetable.teacher_loads(staff.actor, school_id, year["id"], on)
        choices = await timetable.school_choices(staff.actor, school_id, year["id"])
        return {
            "years": years,
            "year": year,
            "on": on,
            "curriculum": curriculum,
            "loads": loads,
            "choices": choices,
            "rate": timetable.RATE_HOURS,
            "overload": timetable.OVERLOAD_HOURS,
        }

    @get("/curriculum")
    async def curriculum(self, request: AnyRequest) -> Response[Any]:
        return await self._page(request, "curriculum", self._curriculum)

    @post("/curriculum", status_code=200)
    async def curriculum_post(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, school_id: int, form: dict[str, Any]) -> Redirect:
            what = str(form.get("what") or "")
            year_id = form.get("academic_year_id")
            if what == "item":
                values = _pick(form, "academic_year_id", "subject_id", "hours_per_week", "grade")
                _who(values, form.get("who"), group=False)
                data = form_struct(s.CurriculumItemCreate, values)
                await structure.create_curriculum_item(staff.actor, school_id, data)
                return _back("/curriculum", school_id, "item", year=year_id)
            if what == "item_delete":
                await structure.delete_curriculum_item(
                    staff.actor, school_id, _id(form.get("item_id"), "item_id")
                )
                return _back("/curriculum", school_id, "item_delete", year=year_id)
            if what == "assignment":
                values = _pick(
                    form, "academic_year_id", "teacher_id", "subject_id", "valid_from", "valid_to"
                )
                _who(values, form.get("who"), group=True)
                assignment = form_struct(s.TeachingAssignmentCreate, values)
                await structure.create_assignment(staff.actor, school_id, assignment)
                return _back("/curriculum", school_id, "assignment", year=year_id)
            raise _bad("what")

        return await self._write(request, "curriculum", self._curriculum, act)

    # ---- the day: lessons, replacements, generation ------------------------------------------

    async def _day(self, staff: Staff, school_id: int, request: AnyRequest) -> dict[str, Any]:
        on = parse_date(request.query_params.get("on"), "date") or date.today()
        _, year = await years_of(staff, school_id, None)
        lessons, total = await timetable.list_lessons(
            staff.actor, school_id, on, on, limit=DAY_LIMIT
        )
        year_id = year["id"] if year else None
        choices = await timetable.school_choices(staff.actor, school_id, year_id)
        teachers = {x["id"]: x["name"] for x in choices["teachers"]}
        rooms = {x["id"]: x["name"] for x in choices["rooms"]}
        classes = {x["id"]: x["name"] for x in choices["classes"]}
        groups = {x["id"]: x["name"] for x in choices["groups"]}
        order = {x["id"]: n for n, x in enumerate(choices["classes"])}  # by grade, then letter
        periods = await structure.list_periods(staff.actor, school_id, year_id) if year_id else []
        rows = sorted(
            (
                {
                    "lesson": lesson,
                    "who": classes.get(lesson.school_class or 0)
                    or f"«{groups.get(lesson.study_group or 0, '')}»",
                    "teacher": teachers.get(lesson.teacher, ""),
                    "replacement": teachers.get(lesson.replacement_teacher or 0, ""),
                    "room": rooms.get(lesson.room or 0, ""),
                }
                for lesson in lessons
            ),
            key=lambda r: (
                r["lesson"].lesson_number,
                order.get(r["lesson"].school_class or 0, len(order)),
                r["who"],
            ),
        )
        generated = ""
        query = request.query_params
        if query.get("done") == "generated":
            counts = {
                k: int(str(query.get(k) or "0")) if str(query.get(k) or "0").isdigit() else 0
                for k in ("created", "kept", "removed", "kept_with_content")
            }
            generated = t(
                "web.year.generated", period=str(query.get("period") or "")[:64], **counts
            )
        lesson = query.get("lesson")
        return {
            # One row's replacement form at a time: a school's day is a few hundred lessons,
            # and a form with every teacher in each row made the page heavy.
            "editing": int(lesson) if lesson and lesson.isdigit() and len(lesson) < 13 else None,
            "generated": generated,
            "on": on,
            "rows": rows,
            "total": total,
            "choices": choices,
            "periods": periods,
            "year": year,
        }

    @get("/day")
    async def day(self, request: AnyRequest) -> Response[Any]:
        return await self._page(request, "day", self._day)

    @post("/day", status_code=200)
    async def day_post(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, school_id: int, form: dict[str, Any]) -> Redirect:
            what = str(form.get("what") or "")
            on = form.get("on")
            if what == "replacement":
                teacher = form.get("teacher_id") or None
                values = {"version": form.get("version"), "teacher_id": teacher}
                data = form_struct(s.ReplacementSet, values) if teacher else _no_replacement(form)
                await timetable.set_replacement(
                    staff.actor, school_id, _id(form.get("lesson_id"), "lesson_id"), data
                )
                return _back("/day", school_id, "replacement", on=on)
            if what == "generate":
                period_id = _id(form.get("period_id"), "period_id")
                _, year = await years_of(staff, school_id, form.get("academic_year_id"))
                periods = (
                    await structure.list_periods(staff.actor, school_id, year["id"]) if year else []
                )
                period = next((p for p in periods if p["id"] == period_id), None)
                if period is None:
                    raise NotFound()
                result = await timetable.generate_lessons(
                    staff.actor, school_id, period["starts_on"], period["ends_on"]
                )
                query = urlencode(
                    {
                        "school": school_id,
                        "on": on or "",
                        "created": result.created,
                        "kept": result.kept,
                        "removed": result.removed,
                        "kept_with_content": result.kept_with_content,
                        "period": period["name"],
                        "done": "generated",
                    }
                )
                return Redirect(path=f"{BASE}/day?{query}", status_code=HTTP_303_SEE_OTHER)
            raise _bad("what")

        return await self._write(request, "day", self._day, act)


DONE = (
    "year",
    "period",
    "close",
    "reopen",
    "holiday",
    "holiday_delete",
    "class",
    "class_update",
    "group",
    "item",
    "item_delete",
    "assignment",
    "replacement",
)


def _pick(form: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: form.get(n) for n in names}


def _bad(name: str) -> DomainError:
    return ValidationFailed(key="error.choice_field", field=t(f"web.field.{name}"))


def _who(values: dict[str, Any], who: Any, *, group: bool) -> None:
    """The form's one «class or group» choice (c12, g7) as the API's two fields."""
    text = str(who or "")
    if text.startswith("g") and group:
        values["study_group_id"] = text[1:]
    elif text.startswith("c"):
        values["school_class_id"] = text[1:]
    elif text:
        values["school_class_id"] = text


def _with(data: Any, **changes: Any) -> Any:
    return msgspec.structs.replace(data, **changes)


def _no_replacement(form: dict[str, Any]) -> s.ReplacementSet:
    """Taking a replacement away: the API's body with `teacher_id: null`."""
    version = form.get("version")
    data = form_struct(s.ReplacementSet, {"version": version, "teacher_id": 1})
    return _with(data, teacher_id=None)
