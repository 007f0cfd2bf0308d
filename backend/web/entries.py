"""The staff web's entries section (/admin/web/entries) for security and the school office:
who is inside now, the day's log of passes and its refusals (the alert log), the cards of each
class's pupils (issue, block, replace), and the access points, gateways and the school's rules.

Every read and write is the access context's service behind `/api/v1/access` (rights, audit
of personal-data reads, the card's canonical form and its checks); the pages only parse forms
and render. Writes are plain forms (they work without JavaScript) answered by a redirect back
with a "done" note, or by the page again with the service's Russian refusal and nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, get_args
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, get, post
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.access import presence, registry
from backend.access import schemas as s
from backend.access.cards import CardFormat
from backend.core.bounds import PathId
from backend.core.errors import DomainError
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import t
from backend.schools.people.lists import class_roster
from backend.schools.people.services import family_cards
from backend.schools.structure.services import list_classes
from backend.web.kit import (
    AnyRequest,
    Staff,
    form_struct,
    in_school,
    page,
    parse_date,
    parse_id,
    school_of,
    school_page,
    staff_page,
    submit,
)
from backend.web.nav import ENTRIES_PERMISSIONS, staff_permissions

BASE = "/admin/web/entries"
MANAGE = (Permission.ACCESS_MANAGE,)
NO_MANAGE = "web.entries.no_manage"
NO_ACCESS = "web.entries.no_access"
LOG_PAGE = 100
DONE = ("issued", "blocked", "replaced", "point_added", "point_changed", "settings_saved")


def _back(path: str, school_id: int, **params: Any) -> Redirect:
    query = urlencode({"school": school_id, **{k: v for k, v in params.items() if v}})
    return Redirect(path=f"{path}?{query}", status_code=HTTP_303_SEE_OTHER)


def _done(request: AnyRequest) -> str:
    key = request.query_params.get("done", "")
    return t(f"web.entries.done_{key}") if key in DONE else ""


async def _names(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Names and classes of the pupils a list of passes or cards is about (one read)."""
    ids = {r["holder_id"] for r in rows if r.get("holder_kind") == "student" and r["holder_id"]}
    return await family_cards(ids) if ids else {}


async def _typed_card(request: AnyRequest) -> dict[str, str]:
    """A refused card form's values, shown again in the row it came from (the class stays in
    the form's address): whose card (`holder_id`, or the replaced `card_id`), number, format."""
    form = await request.form()
    return {
        "holder_id": str(form.get("holder_id") or ""),
        "card_id": str(request.path_params.get("card_id") or ""),
        "raw_value": str(form.get("raw_value") or ""),
        "card_format": str(form.get("card_format") or ""),
    }


class EntriesController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    # ---- who is inside now -------------------------------------------------------------------

    @get("/")
    async def inside(self, request: AnyRequest) -> Response[Any]:
        async def build(staff: Staff, school_id: int) -> Response[Any]:
            now = await presence.inside_now(staff.actor, school_id)
            fragment = request.headers.get("hx-request") == "true"
            return _show(
                request,
                staff,
                school_id,
                "inside",
                name="_inside" if fragment else "inside",
                at=_clock(await presence.zone_of(school_id)),
                now=now,
            )

        return await school_page(request, ENTRIES_PERMISSIONS, NO_ACCESS, build)

    # ---- the day's log -----------------------------------------------------------------------

    @get("/log")
    async def log(self, request: AnyRequest) -> Response[Any]:
        query = request.query_params
        problems = query.get("problems") == "1"

        async def build(staff: Staff, school_id: int) -> Response[Any]:
            day = parse_date(query.get("date"), "date")
            offset = parse_id(query.get("offset") or "0", "offset")
            rows, total, shown = await presence.school_log(
                staff.actor, school_id, day, problems_only=problems, limit=LOG_PAGE, offset=offset
            )
            points = await registry.points_of(school_id)
            return _show(
                request,
                staff,
                school_id,
                "problems" if problems else "log",
                name="log",
                at=_clock(await presence.zone_of(school_id)),
                rows=rows,
                names=await _names(rows),
                points=points,
                total=total,
                day=shown,
                problems=problems,
                offset=offset,
                step=LOG_PAGE,
            )

        return await school_page(request, ENTRIES_PERMISSIONS, NO_ACCESS, build)

    # ---- cards -------------------------------------------------------------------------------

    @get("/cards")
    async def cards(self, request: AnyRequest) -> Response[Any]:
        return await staff_page(
            request, MANAGE, NO_MANAGE, lambda st: self._cards_page(request, st)
        )

    async def _cards_page(
        self, request: AnyRequest, staff: Staff, error: DomainError | None = None
    ) -> Response[Any]:
        query = request.query_params

        async def build(staff: Staff, school_id: int) -> Response[Any]:
            classes = await list_classes(staff.actor, school_id)
            roster = None
            by_pupil: dict[int, list[dict[str, Any]]] = {}
            if query.get("class_id"):
                roster = await class_roster(
                    staff.actor, parse_id(query.get("class_id"), "class_id")
                )
                if roster["school_id"] != school_id:
                    roster = None
                else:
                    found, _ = await registry.list_cards(
                        staff.actor,
                        school_id,
                        holder_kind="student",
                        holder_id=None,
                        limit=10_000,
                        offset=0,
                        holder_ids=[p["id"] for p in roster["pupils"]],
                    )
                    for card in found:
                        by_pupil.setdefault(card["holder_id"], []).append(card)
            return _show(
                request,
                staff,
                school_id,
                "cards",
                typed=await _typed_card(request) if error else {},
                status=error.status_code if error else 200,
                classes=classes,
                roster=roster,
                cards=by_pupil,
                formats=_formats(),
                done=_done(request),
                error=error.message if error else "",
            )

        return await in_school(request, staff, MANAGE, build)

    @post("/cards", status_code=200)
    async def issue(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            data = form_struct(
                s.AccessCardCreate,
                {
                    **_fields(form, "raw_value", "card_format", "holder_id"),
                    "holder_kind": "student",
                },
            )
            await registry.issue_card(
                staff.actor,
                school_id,
                raw_value=data.raw_value,
                card_format=data.card_format,
                holder_kind=data.holder_kind,
                holder_id=data.holder_id,
            )
            return _back(f"{BASE}/cards", school_id, class_id=form.get("class_id"), done="issued")

        return await submit(request, MANAGE, NO_MANAGE, act, self._cards_page)

    @post("/cards/{card_id:int}/block", status_code=200)
    async def block(self, request: AnyRequest, card_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            data = form_struct(s.AccessCardBlock, {"reason": form.get("reason", "")})
            await registry.block_card(staff.actor, card_id, data.reason)
            return _back(f"{BASE}/cards", school_id, class_id=form.get("class_id"), done="blocked")

        return await submit(request, MANAGE, NO_MANAGE, act, self._cards_page)

    @post("/cards/{card_id:int}/replace", status_code=200)
    async def replace(self, request: AnyRequest, card_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            data = form_struct(
                s.AccessCardReplace,
                {"raw_value": form.get("raw_value", ""), "card_format": form.get("card_format")},
            )
            await registry.replace_card(
                staff.actor, card_id, raw_value=data.raw_value, card_format=data.card_format
            )
            return _back(f"{BASE}/cards", school_id, class_id=form.get("class_id"), done="replaced")

        return await submit(request, MANAGE, NO_MANAGE, act, self._cards_page)

    # ---- access points, gateways and the school's rules -------------------------------------

    @get("/points")
    async def points(self, request: AnyRequest) -> Response[Any]:
        return await staff_page(
            request, MANAGE, NO_MANAGE, lambda st: self._points_page(request, st)
        )

    async def _points_page(
        self,
        request: AnyRequest,
        staff: Staff,
        error: DomainError | None = None,
        new_key: dict[str, Any] | None = None,
    ) -> Response[Any]:
        async def build(staff: Staff, school_id: int) -> Response[Any]:
            points = await registry.list_points(staff.actor, school_id)
            gateways = await registry.list_gateways(staff.actor, school_id)
            settings = await registry.get_settings(staff.actor, school_id)
            return _show(
                request,
                staff,
                school_id,
                "points",
                status=error.status_code if error else 200,
                at=_clock(await presence.zone_of(school_id)),
                points=points,
                gateways=gateways,
                settings=settings,
                new_key=new_key,
                done=_done(request),
                error=error.message if error else "",
            )

        return await in_school(request, staff, MANAGE, build)

    @post("/points", status_code=200)
    async def add_point(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            data = form_struct(s.AccessPointCreate, _fields(form, "name", "direction", "lane"))
            await registry.create_point(
                staff.actor, school_id, name=data.name, direction=data.direction, lane=data.lane
            )
            return _back(f"{BASE}/points", school_id, done="point_added")

        return await submit(request, MANAGE, NO_MANAGE, act, self._points_page)

    @post("/points/{point_id:int}", status_code=200)
    async def change_point(self, request: AnyRequest, point_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            values: dict[str, Any] = _fields(form, "name", "direction", "lane")
            values["is_active"] = form.get("is_active") == "on"
            changes = _changes(form_struct(s.AccessPointUpdate, values))
            await registry.update_point(staff.actor, point_id, changes)
            return _back(f"{BASE}/points", school_id, done="point_changed")

        return await submit(request, MANAGE, NO_MANAGE, act, self._points_page)

    @post("/gateways", status_code=200)
    async def add_gateway(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            data = form_struct(s.AccessGatewayCreate, _fields(form, "name"))
            made = await registry.create_gateway(staff.actor, school_id, name=data.name)
            # The signing key is shown once, on this answer: it is never shown again.
            return await self._points_page(request, staff, new_key=made)

        return await submit(request, MANAGE, NO_MANAGE, act, self._points_page)

    @post("/gateways/{gateway_id:int}/rotate", status_code=200)
    async def rotate(self, request: AnyRequest, gateway_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            made = await registry.rotate_key(staff.actor, gateway_id)
            return await self._points_page(request, staff, new_key=made)

        return await submit(request, MANAGE, NO_MANAGE, act, self._points_page)

    @post("/settings", status_code=200)
    async def settings(self, request: AnyRequest) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = await school_of(request, staff, *MANAGE)
            values: dict[str, Any] = _fields(form, "not_arrived_margin_minutes")
            values["not_arrived_enabled"] = form.get("not_arrived_enabled") == "on"
            values["journal_presence"] = form.get("journal_presence") == "on"
            changes = _changes(form_struct(s.AccessSettingsUpdate, values))
            await registry.update_settings(staff.actor, school_id, changes)
            return _back(f"{BASE}/points", school_id, done="settings_saved")

        return await submit(request, MANAGE, NO_MANAGE, act, self._points_page)


def _clock(zone: ZoneInfo) -> Callable[..., str]:
    """Times on the pages are the school's wall clock, whatever the server's zone."""

    def at(moment: datetime | None, seconds: bool = False, with_date: bool = False) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(zone)
        text = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        return f"{local:%d.%m.%Y} {text}" if with_date else text

    return at


def _show(
    request: AnyRequest,
    staff: Staff,
    school_id: int,
    tab: str,
    name: str | None = None,
    **context: Any,
) -> Response[Any]:
    """An entries page (`entries/<name or tab>.html`): the school, the tab, and the manager's
    tabs for who may open them (cards and points are guarded by that permission)."""
    return page(
        request,
        f"entries/{name or tab}.html",
        staff.principal,
        school_id=school_id,
        tab=tab,
        manage=Permission.ACCESS_MANAGE in staff_permissions(staff.principal),
        **context,
    )


def _changes(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a form gave (an update changes only those)."""
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}


def _fields(form: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: str(form.get(n, "")).strip() for n in names}


def _formats() -> list[tuple[str, str]]:
    return [(v, t(f"web.entries.format_{v}")) for v in get_args(CardFormat)]
