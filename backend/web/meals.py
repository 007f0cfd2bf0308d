"""The staff web's meals section (/admin/web/meals) for the canteen and the school office: the
counter (a class list of today's meal with one click per pupil or for the whole list, and a
card or number field for a reader at the till), the caterers' requisitions of a day with their
XLSX/PDF files, the school's meal sets and two-week menu, and the report of a day or a month.

Each page calls the meals services behind `/api/v1/meals` (rights, audit, the ledger's
postings and refusals with their reasons are theirs); the pages parse forms and render.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, get_args

from litestar import Controller, get, post
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.access.cards import CardFormat
from backend.core.bounds import PathId
from backend.core.errors import DomainError, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import counter, menus, reports, requisitions
from backend.meals import schemas as s
from backend.meals.orders import school_today, school_zone
from backend.schools.structure.services import list_classes
from backend.web.kit import (
    AnyRequest,
    Staff,
    form_struct,
    in_school,
    page,
    parse_date,
    parse_id,
    refused_htmx,
    school_of,
    school_page,
    staff_page,
    submit,
)
from backend.web.nav import MEALS_PERMISSIONS, staff_permissions

BASE = "/admin/web/meals"
COUNTER = (Permission.MEALS_MANAGE,)
NO_COUNTER = "web.meals.no_counter"
REPORT = (Permission.MEALS_ACCOUNTS,)
KINDS = get_args(s.MealKind)
WEEKDAYS = range(1, 6)
PLAN_DAYS = range(1, 7)  # a plan may include Saturday: some schools study six days
AT_COUNTER = refused_htmx("#counter-status")  # a refusal at the counter: its status line


def _kind(value: str | None) -> str:
    kind = value or "lunch"
    if kind not in KINDS:
        raise ValidationFailed(key="error.wrong_type", field=t("web.meals.field_meal_kind"))
    return kind


def _rub(kopecks: int) -> str:
    """Money as the office reads it: 1 234,50 ₽."""
    rub, kop = divmod(abs(kopecks), 100)
    sign = "−" if kopecks < 0 else ""
    return f"{sign}{rub:,}".replace(",", "\u00a0") + f",{kop:02d}\u00a0₽"


def _formats() -> list[tuple[str, str]]:
    return [(v, t(f"web.entries.format_{v}")) for v in get_args(CardFormat)]


def _tabs(staff: Staff) -> list[str]:
    held = staff_permissions(staff.principal)
    tabs = []
    if Permission.MEALS_MANAGE in held:
        tabs += ["counter", "requisitions", "menu"]
    if Permission.MEALS_ACCOUNTS in held:
        tabs += ["report"]
    return tabs


class MealsWebController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/")
    async def start(self, request: AnyRequest) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            if Permission.MEALS_MANAGE in staff_permissions(staff.principal):
                return await self._counter(request, staff)
            return await self._report(request, staff)

        return await staff_page(request, MEALS_PERMISSIONS, "web.meals.no_access", show)

    # ---- the counter -------------------------------------------------------------------------

    @get("/counter")
    async def counter_page(self, request: AnyRequest) -> Response[Any]:
        return await staff_page(request, COUNTER, NO_COUNTER, lambda st: self._counter(request, st))

    async def _counter(self, request: AnyRequest, staff: Staff) -> Response[Any]:
        query = request.query_params

        async def build(staff: Staff, school_id: int) -> Response[Any]:
            kind = _kind(query.get("meal_kind"))
            classes = await list_classes(staff.actor, school_id)
            today = await school_today(school_id)
            listing = None
            if query.get("class_id"):
                class_id = parse_id(query.get("class_id"), "class_id")
                listing = await counter.class_list(staff.actor, school_id, class_id, kind)
            return _show(
                request,
                staff,
                school_id,
                "counter",
                kind=kind,
                kinds=KINDS,
                classes=classes,
                today=today,
                listing=listing,
                formats=_formats(),
                at=await _clock(school_id),
            )

        return await in_school(request, staff, COUNTER, build)

    @post("/counter/serve", status_code=200)
    async def serve(self, request: AnyRequest) -> Response[Any]:
        """One pupil: by the class list's button (`student_id` with `class_id`), or at the till
        by a card or the pupil's number. Answers the line that says what happened."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *COUNTER)
            kind = _kind(str(form.get("meal_kind") or ""))
            raw = str(form.get("card") or "").strip()
            if raw:
                reading = form_struct(
                    s.CardReading, {"raw_value": raw, "card_format": form.get("card_format")}
                )
                data = s.ServeRequest(meal_kind=kind, card=reading)  # type: ignore[arg-type]
            else:
                number = parse_id(form.get("student_id"), "student_id")
                data = s.ServeRequest(meal_kind=kind, student_id=number)  # type: ignore[arg-type]
            served = await counter.serve(staff.actor, school_id, data)
            return Template(
                template_name="meals/_served.html",
                context={"served": served, "at": await _clock(school_id)},
                headers={"HX-Trigger": "served"},
            )

        return await submit(request, COUNTER, NO_COUNTER, act, AT_COUNTER)

    @post("/counter/classes/{class_id:int}", status_code=200)
    async def serve_class(self, request: AnyRequest, class_id: PathId) -> Response[Any]:
        """The class list's buttons: one pupil (`student_id`) or everyone with an order."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *COUNTER)
            kind = _kind(str(form.get("meal_kind") or ""))
            one = form.get("student_id")
            ids = [parse_id(one, "student_id")] if one else None
            result = await counter.serve_class(
                staff.actor,
                school_id,
                class_id,
                s.ClassServeRequest(meal_kind=kind, student_ids=ids),  # type: ignore[arg-type]
            )
            listing = await counter.class_list(staff.actor, school_id, class_id, kind)
            return Template(
                template_name="meals/_class.html",
                context={
                    "listing": listing,
                    "result": result,
                    "school_id": school_id,
                    "kind": kind,
                    "csrf": form.get("csrf", ""),
                    "at": await _clock(school_id),
                },
            )

        return await submit(request, COUNTER, NO_COUNTER, act, AT_COUNTER)

    # ---- requisitions ------------------------------------------------------------------------

    @get("/requisitions")
    async def requisitions_page(self, request: AnyRequest) -> Response[Any]:
        async def build(staff: Staff, school_id: int) -> Response[Any]:
            day = parse_date(request.query_params.get("date"), "date")
            day = day or (await school_today(school_id)) + timedelta(days=1)
            found = await requisitions.list_for_school(staff.actor, school_id, day)
            return _show(request, staff, school_id, "requisitions", day=day, found=found)

        return await school_page(request, COUNTER, NO_COUNTER, build)

    @get("/requisitions/{requisition_id:int}/file")
    async def requisition_file(self, request: AnyRequest, requisition_id: PathId) -> Response[Any]:
        wanted = request.query_params.get("format") or "xlsx"

        async def build(staff: Staff) -> Response[Any]:
            if wanted not in get_args(requisitions.FileFormat):
                raise ValidationFailed(key="error.wrong_type", field=t("web.meals.field_format"))
            content, media, name = await requisitions.requisition_file(
                staff.actor,
                requisition_id,
                wanted,  # type: ignore[arg-type]
            )
            return Response(
                content,
                media_type=media,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )

        return await staff_page(request, COUNTER, NO_COUNTER, build)

    # ---- the menu ----------------------------------------------------------------------------

    @get("/menu")
    async def menu(self, request: AnyRequest) -> Response[Any]:
        return await staff_page(request, COUNTER, NO_COUNTER, lambda st: self._menu(request, st))

    @post("/menu/cycle", status_code=200)
    async def save_cycle(self, request: AnyRequest) -> Response[Any]:
        """The two-week menu as ticked in the grid: each school day's meal sets, and the Monday
        the first week starts on; replaced whole, as `PUT .../menu-cycle` does."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *COUNTER)
            ticked = await request.form()
            days = []
            for week in (1, 2):
                for weekday in WEEKDAYS:
                    ids = ticked.getall(f"d{week}{weekday}", [])
                    if ids:
                        days.append({"week": week, "weekday": weekday, "meal_set_ids": list(ids)})
            data = form_struct(
                s.MenuCycleUpdate, {"starts_on": form.get("starts_on", ""), "days": days}
            )
            await menus.set_cycle(staff.actor, school_id, data)
            return Redirect(
                path=f"{BASE}/menu?school={school_id}&done=1", status_code=HTTP_303_SEE_OTHER
            )

        return await submit(request, COUNTER, NO_COUNTER, act, self._menu)

    @post("/plans/{class_id:int}", status_code=200)
    async def save_plan(self, request: AnyRequest, class_id: PathId) -> Response[Any]:
        """A class's meal plan as ticked on the menu page: its meals and weekdays."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *COUNTER)
            ticked = await request.form()
            data = form_struct(
                s.MealPlanUpdate,
                {"kinds": ticked.getall("kinds", []), "weekdays": ticked.getall("weekdays", [])},
            )
            await menus.set_plan(staff.actor, school_id, class_id, data)
            return Redirect(
                path=f"{BASE}/menu?school={school_id}&done=plan#plan-{class_id}",
                status_code=HTTP_303_SEE_OTHER,
            )

        return await submit(request, COUNTER, NO_COUNTER, act, self._menu)

    async def _menu(
        self, request: AnyRequest, staff: Staff, error: DomainError | None = None
    ) -> Response[Any]:
        async def build(staff: Staff, school_id: int) -> Response[Any]:
            sets = await menus.list_meal_sets(staff.actor, school_id)
            classes = await list_classes(staff.actor, school_id)
            plans = {p.class_id: p for p in await menus.list_plans(staff.actor, school_id)}
            cycle = await menus.get_cycle(staff.actor, school_id)
            chosen = {(d.week, d.weekday): set(d.meal_set_ids) for d in cycle.days} if cycle else {}
            return _show(
                request,
                staff,
                school_id,
                "menu",
                status=error.status_code if error else 200,
                sets=sets,
                cycle=cycle,
                chosen=chosen,
                classes=classes,
                plans=plans,
                kinds=KINDS,
                plan_days=PLAN_DAYS,
                error=error.message if error else "",
                done=_menu_done(request.query_params.get("done")),
                weekdays=WEEKDAYS,
            )

        return await in_school(request, staff, COUNTER, build)

    # ---- the report --------------------------------------------------------------------------

    @get("/report")
    async def report(self, request: AnyRequest) -> Response[Any]:
        return await staff_page(
            request, REPORT, "web.meals.no_report", lambda st: self._report(request, st)
        )

    async def _report(self, request: AnyRequest, staff: Staff) -> Response[Any]:
        query = request.query_params

        async def build(staff: Staff, school_id: int) -> Response[Any]:
            today = await school_today(school_id)
            start = parse_date(query.get("date_from"), "date_from") or today.replace(day=1)
            end = parse_date(query.get("date_to"), "date_to") or today
            found = await reports.meal_report(staff.actor, school_id, start, end)
            return _show(request, staff, school_id, "report", report=found)

        return await in_school(request, staff, REPORT, build)


def _show(
    request: AnyRequest, staff: Staff, school_id: int, tab: str, **context: Any
) -> Response[Any]:
    """A meals page (`meals/<tab>.html`): the school, its tab among those the person may open,
    money as the office reads it."""
    return page(
        request,
        f"meals/{tab}.html",
        staff.principal,
        school_id=school_id,
        tab=tab,
        tabs=_tabs(staff),
        rub=_rub,
        **context,
    )


def _menu_done(key: str | None) -> str:
    return {"1": t("web.meals.cycle_saved"), "plan": t("web.meals.plan_saved")}.get(key or "", "")


async def _clock(school_id: int) -> Callable[[datetime | None], str]:
    """The counter's times as the school reads them: stored in UTC, shown on the school's
    clock (the service's refusal «Уже выдано сегодня в …» says the same time)."""
    zone = await school_zone(school_id)

    def at(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%H:%M") if moment else ""

    return at
