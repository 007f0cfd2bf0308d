"""piccolo_admin at /admin/db: a read-only browser of school structure, confined to the
signed-in person's schools.

piccolo_admin itself cannot filter rows per user (it is a CRUD over whole tables), so an ASGI
filter (`SchoolScopeFilter`) stands in front of it and decides every request:

- who is asking: piccolo's session cookie names a mirror `BaseUser` `parta-<user id>`; the
  person's grants are read from the accounts service on *every* request, so a revoked or
  expired grant, or a disabled account, stops access at once;
- a system administrator (`structure.manage` system-wide) gets piccolo_admin as it is
  (read-only, every browsable table);
- school staff with `structure.manage` at some schools get a second piccolo_admin that lists
  only tables with a path to a school; their row requests (list, count, ids, one row) never
  reach piccolo_admin's own CRUD: the filter answers them with a `ScopedCRUD`, piccolo_api's
  CRUD with the school condition added to every query (and a client's filters on the scoping
  column dropped);
- anything else is refused (deny by default), and nothing is ever written.

Only structure and timetable tables are browsable (no personal data). Nobody has a
piccolo_admin password: /admin/tasks opens a session for the mirror user (audited).
See docs/decisions/0101-web-admin.md.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import asgi
from litestar import types as litestar_types
from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Column, ForeignKey
from piccolo.table import Table
from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_api.crud.endpoints import PiccoloCRUD
from piccolo_api.crud.validators import Validators
from piccolo_api.session_auth.tables import SessionsBase
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from backend.accounts.services import current_principal
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.http import PUBLIC
from backend.core.rights import Permission, Principal
from backend.i18n import t
from backend.schools.services import schools_in_scope
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    CurriculumItem,
    Holiday,
    Lesson,
    LessonPlan,
    Municipality,
    Region,
    Room,
    School,
    SchoolClass,
    StudyGroup,
    StudyPeriod,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)

MOUNT_PATH = "/admin/db"
SESSION_COOKIE = "id"  # piccolo_api's session cookie name
SESSION_LIFETIME = timedelta(hours=1)
MIRROR_USERNAME = re.compile(r"parta-([1-9][0-9]{0,17})")
# Who may open the table browser, and at which schools.
TABLES_PERMISSION = Permission.STRUCTURE_MANAGE

BROWSABLE: tuple[type[Table], ...] = (
    Region,
    Municipality,
    School,
    AcademicYear,
    StudyPeriod,
    Holiday,
    SchoolClass,
    StudyGroup,
    Subject,
    CurriculumItem,
    TeachingAssignment,
    Room,
    BellSchedule,
    TimetableEntry,
    LessonPlan,
    Lesson,
)


def school_path(table: type[Table]) -> Column | None:
    """The column that places a row of `table` in one school, or None (above schools).

    A school is placed by its own id; most tables by their `school` foreign key; the tables of
    the year (periods, holidays, curriculum, assignments, lesson plans) by `academic_year.school`.
    """
    if table is School:
        return School.id
    school = getattr(table, "school", None)
    if isinstance(school, ForeignKey) and school._foreign_key_meta.resolved_references is School:
        return school
    year = getattr(table, "academic_year", None)
    if isinstance(year, ForeignKey) and year._foreign_key_meta.resolved_references is AcademicYear:
        return year.school  # a joined column: academic_year.school
    return None


SCHOOL_TABLES: tuple[type[Table], ...] = tuple(t for t in BROWSABLE if school_path(t) is not None)


def scoping_column_name(table: type[Table]) -> str | None:
    """The query parameter of piccolo_api's filters that names the scoping column, if any
    (`id` of a school, `school`; a joined `academic_year.school` cannot be a filter)."""
    column = school_path(table)
    if column is None or column._meta.call_chain:
        return None
    return str(column._meta.name)


def _refuse_rows(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    """piccolo_admin's own row endpoints in the school staff's copy: never reached through
    the filter; refused if something ever routes there by mistake."""
    raise HTTPException(status_code=403, detail=t("admin.tables_read_only"))


_NO_ROWS = Validators(
    get_all=[_refuse_rows],
    get_count=[_refuse_rows],
    get_ids=[_refuse_rows],
    get_single=[_refuse_rows],
    get_new=[_refuse_rows],
    delete_all=[_refuse_rows],
    post_single=[_refuse_rows],
    put_single=[_refuse_rows],
    patch_single=[_refuse_rows],
    delete_single=[_refuse_rows],
)


def build_piccolo_admin(tables: tuple[type[Table], ...] = BROWSABLE, *, rows: bool = True) -> Any:
    return create_admin(
        tables=[TableConfig(t, validators=None if rows else _NO_ROWS) for t in tables],
        auth_table=BaseUser,
        session_table=SessionsBase,
        session_expiry=SESSION_LIFETIME,
        max_session_expiry=SESSION_LIFETIME,
        read_only=True,
        auto_include_related=False,  # staff, pupils: personal data stays out
        production=False,
        site_name="Парта: структура школ (только чтение)",
        default_language_code="ru",
    )


# ---- who is asking -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TablesAccess:
    """What the person behind a piccolo session may browse, decided now."""

    user_id: int
    school_ids: frozenset[int] | None  # None: every school (a system administrator)


async def tables_access(principal: Principal) -> frozenset[int] | None:
    """The schools whose tables `principal` may browse; None means all, empty means none."""
    ids = await schools_in_scope(principal, TABLES_PERMISSION)
    return None if ids is None else frozenset(ids)


async def access_of_session(token: str) -> TablesAccess | None:
    """The access of piccolo session `token`, from the person's grants as they are now."""
    if not token or len(token) > 200:
        return None
    piccolo_user_id = await SessionsBase.get_user_id(token)
    if piccolo_user_id is None:
        return None
    row = (
        await BaseUser.select(BaseUser.username, BaseUser.active)
        .where(BaseUser.id == piccolo_user_id)
        .first()
    )
    if row is None or not row["active"]:
        return None
    match = MIRROR_USERNAME.fullmatch(row["username"])
    if match is None:
        return None
    user_id = int(match.group(1))
    principal = await current_principal(user_id)
    if principal is None:
        return None
    return TablesAccess(user_id, await tables_access(principal))


# ---- rows confined to schools --------------------------------------------------------------


class ScopedCRUD(PiccoloCRUD):
    """piccolo_api's read-only CRUD of one table, with every row query confined to schools
    (`school_ids` None: every school, for a system administrator).

    List and count go through `_apply_filters` (the school condition is added there);
    `get_ids` and `detail` do not use it, so they are overridden. `__range_header` is
    dropped by the filter (its total counts the whole table).
    """

    def __init__(self, table: type[Table], school_ids: frozenset[int] | None) -> None:
        if school_ids is not None and (not school_ids or school_path(table) is None):
            raise ValueError("a scoped CRUD needs schools and a table placed in a school")
        super().__init__(table=table, read_only=True, max_joins=0, exclude_secrets=True)
        self.school_ids = school_ids

    def _in_schools(self) -> Any:
        if self.school_ids is None:
            return self.table._meta.primary_key.is_not_null()
        column = school_path(self.table)
        assert column is not None
        return column.is_in(sorted(self.school_ids))

    def _apply_filters(self, query: Any, params: Any) -> Any:
        return super()._apply_filters(query, params).where(self._in_schools())

    async def get_ids(self, request: Request) -> Response:
        """piccolo_api's `ids/` (id -> readable, for pickers), confined, and at most a page."""
        limit_text = request.query_params.get("limit")
        offset_text = request.query_params.get("offset", "0")
        if (limit_text is not None and not limit_text.isdigit()) or not offset_text.isdigit():
            return _refusal(400, "error.bad_request")
        limit = min(int(limit_text or self.max_page_size), self.max_page_size)
        offset = int(offset_text)
        pk = self.table._meta.primary_key
        query: Any = (
            self.table.select(pk, self.table.get_readable()).where(self._in_schools()).order_by(pk)
        )
        search = request.query_params.get("search")
        if search is None:
            rows = await query.limit(limit).offset(offset)
        else:
            # As piccolo_api does it: the readable text matched around the (confined) query,
            # in SQL; the query holds only integers, the search term is a bound parameter.
            if self.table._meta.db.engine_type == "postgres":
                match, term = "subquery.readable ILIKE {}", f"%{search}%"
            else:
                match, term = "UPPER(subquery.readable) LIKE {}", f"%{search.upper()}%"
            rows = await self.table.raw(
                f"SELECT * FROM ({query}) AS subquery WHERE {match} "  # noqa: S608
                f"LIMIT {limit} OFFSET {offset}",
                term,
            )
        return JSONResponse({r[pk._meta.name]: r["readable"] for r in rows})

    async def detail(self, request: Request) -> Response:
        row_id = str(request.path_params.get("row_id", ""))
        if not row_id.isdigit() or not await self.table.exists().where(
            (self.table._meta.primary_key == int(row_id)) & self._in_schools()
        ):
            return _refusal(404, "error.not_found")
        return await super().detail(request)


# ---- the filter ----------------------------------------------------------------------------

# /api/tables/<table>/ then nothing, an endpoint of the table, or a row's primary key.
_TABLE_PATH = re.compile(
    r"/api/tables/([a-z_]{1,63})/(?:(count|ids|schema|references)/|([0-9]{1,18})/)?"
)
_META_PATHS = frozenset(
    {
        "/api/user/",
        "/api/tables/",
        "/api/tables/grouped/",
        "/api/forms/",
        "/api/forms/grouped/",
        "/api/links/",
    }
)


def route_path(scope: Scope) -> str:
    """The path the mounted (Starlette) app routes on: Starlette's own rule, so that what is
    checked here is what piccolo_admin will serve."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        if path == root_path:
            return ""
        if path[len(root_path)] == "/":
            return path[len(root_path) :]
    return path


def _refusal(status: int, key: str) -> JSONResponse:
    return JSONResponse({"detail": t(key)}, status_code=status)


def _session_token(scope: Scope) -> str:
    return Request(scope).cookies.get(SESSION_COOKIE, "")


def _without_scoping_filters(query_string: bytes, column: str | None) -> bytes:
    """The query string without the client's filters on the scoping column, in every form
    piccolo_api reads them (`school`, `school[]`, `school__operator`, `school__match`), and
    without `__range_header` (its total counts the whole table)."""
    kept = []
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        base = key.split("__", 1)[0].rstrip("[]") if not key.startswith("__") else key
        if column is not None and base == column:
            continue
        if key.startswith("__range_header"):
            continue
        kept.append((key, value))
    return urlencode(kept).encode("latin-1")


class SchoolScopeFilter:
    """The ASGI app mounted at /admin/db: decides every request before piccolo_admin sees it."""

    def __init__(self) -> None:
        # Two piccolo_admins for the page, table list and table shapes; rows come from
        # `ScopedCRUD` only (their own row endpoints refuse, should anything reach them).
        self.everything = build_piccolo_admin(BROWSABLE, rows=False)
        self.school_staff = build_piccolo_admin(SCHOOL_TABLES, rows=False)
        self.all_tables = {t._meta.tablename: t for t in BROWSABLE}
        self.school_tables = {t._meta.tablename: t for t in SCHOOL_TABLES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        path = route_path(scope)
        method = scope.get("method", "")
        if method == "GET" and (path in ("", "/") or path.startswith("/assets/")):
            await self.everything(scope, receive, send)  # the page and its files
            return
        if path.startswith("/public/"):
            allowed = (method == "GET" and path == "/public/meta/") or (
                method == "GET" and path.startswith("/public/translations/")
            )
            if allowed or (method == "POST" and path == "/public/logout/"):
                await self.everything(scope, receive, send)
            else:  # no password sign-in: sessions are opened from /admin/tasks only
                await _refusal(403, "admin.tables_sign_in")(scope, receive, send)
            return
        if not path.startswith("/api/"):
            await _refusal(404, "error.not_found")(scope, receive, send)
            return
        access = await access_of_session(_session_token(scope))
        if access is None:
            await _refusal(401, "admin.tables_sign_in")(scope, receive, send)
            return
        if access.school_ids is not None and not access.school_ids:
            await _refusal(403, "admin.tables_forbidden")(scope, receive, send)
            return
        if method != "GET":
            await _refusal(403, "admin.tables_read_only")(scope, receive, send)
            return
        if access.school_ids is None:
            await self._serve(self.everything, self.all_tables, None, path, scope, receive, send)
        else:
            await self._serve(
                self.school_staff, self.school_tables, access.school_ids, path, scope, receive, send
            )

    async def _serve(
        self,
        admin: Any,
        tables: dict[str, type[Table]],
        school_ids: frozenset[int] | None,
        path: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """A signed-in GET under /api/: the table list, a table's shape, or its rows."""
        if path in _META_PATHS:
            await admin(scope, receive, send)
            return
        match = _TABLE_PATH.fullmatch(path)
        table = tables.get(match.group(1)) if match else None
        if match is None or table is None:
            await _refusal(404, "error.not_found")(scope, receive, send)
            return
        endpoint, row_id = match.group(2), match.group(3)
        if endpoint in ("schema", "references"):  # the table's shape, no rows
            await admin(scope, receive, send)
            return
        crud = ScopedCRUD(table, school_ids)
        inner: dict[str, Any] = {
            **scope,
            "query_string": _without_scoping_filters(
                scope.get("query_string", b""),
                scoping_column_name(table) if school_ids is not None else None,
            ),
            "path_params": {"row_id": row_id} if row_id else {},
        }
        request = Request(inner, receive)
        response: Response
        try:
            if row_id is not None:
                response = await crud.detail(request)
            elif endpoint == "count":
                response = await crud.get_count(request)
            elif endpoint == "ids":
                response = await crud.get_ids(request)
            else:
                response = await crud.root(request)
        except ValueError:  # piccolo_api lets some bad parameters through (an unknown order)
            response = _refusal(400, "error.bad_request")
        await response(inner, receive, send)


def piccolo_admin_handler() -> Any:
    app = SchoolScopeFilter()

    @asgi(MOUNT_PATH, is_mount=True, copy_scope=True, opt=PUBLIC, include_in_schema=False)
    async def piccolo_admin(
        scope: litestar_types.Scope, receive: litestar_types.Receive, send: litestar_types.Send
    ) -> None:
        await app(scope, receive, send)  # type: ignore[arg-type]  # the same ASGI, typed twice

    return piccolo_admin


async def open_session(actor: Actor, school_ids: frozenset[int] | None) -> tuple[str, datetime]:
    """A piccolo session for the actor's mirror user. What it shows is decided per request
    from the person's grants; `school_ids` (what they may see now) only goes to the audit."""
    assert actor.user_id is not None
    username = f"parta-{actor.user_id}"
    async with transaction():
        row = await BaseUser.select(BaseUser.id).where(BaseUser.username == username).first()
        if row is None:
            user = BaseUser(
                username=username,
                password=secrets.token_urlsafe(48),  # never shown: no password sign-in
                email=f"{username}@users.parta.invalid",
                first_name=(actor.principal.display_name if actor.principal else "")[:100],
                active=True,
                admin=True,
                superuser=False,
            )
            await user.save()
            user_id = int(user.id)
        else:
            user_id = int(row["id"])
            await BaseUser.update({BaseUser.active: True, BaseUser.admin: True}).where(
                BaseUser.id == user_id
            )
        expires = datetime.now(UTC) + SESSION_LIFETIME
        session = await SessionsBase.create_session(
            user_id,
            expiry_date=expires.replace(tzinfo=None),
            max_expiry_date=expires.replace(tzinfo=None),
        )
        await record(
            actor,
            "admin.open_tables",
            object_type="piccolo_admin",
            object_id=user_id,
            details={"schools": "all" if school_ids is None else sorted(school_ids)},
        )
    return str(session.token), expires


async def close_sessions(user_id: int) -> None:
    """End every piccolo session of the person's mirror user (on signing out of /admin)."""
    row = await BaseUser.select(BaseUser.id).where(BaseUser.username == f"parta-{user_id}").first()
    if row is not None:
        await SessionsBase.delete().where(SessionsBase.user_id == row["id"])
