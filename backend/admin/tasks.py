"""Web admin: simple pages for the common bulk tasks of a school, under /admin/tasks.

Generate the lessons of a study period, print activation codes for a class, import a file of
pupils, guardians, staff or classes. Each form calls the same service the API calls, with the
signed-in person as the actor, so rights (404 outside the school), validation, audit and the
outbox are exactly the API's.

Signing in: the form posts a login and password to our own accounts service (with its
throttling); the access token is kept in an HttpOnly, SameSite=Strict cookie limited to
`/admin`, read back here and checked for revocation like a bearer token. Forms carry a CSRF
token that must match a second cookie (double submit). See docs/decisions/0101-web-admin.md.
"""

from __future__ import annotations

import html
import secrets
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie, UploadFile
from litestar.enums import MediaType
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.accounts.services import AccountsService, current_principal
from backend.admin.piccolo import (
    MOUNT_PATH,
    SESSION_COOKIE,
    TABLES_PERMISSION,
    close_sessions,
    open_session,
    tables_access,
)
from backend.core.context import Actor
from backend.core.errors import DomainError, Forbidden, ValidationFailed
from backend.core.forms import class_name
from backend.core.http import PUBLIC, client_ip
from backend.core.rights import Permission, Principal
from backend.i18n import t
from backend.schools.people import imports
from backend.schools.people import services as people
from backend.schools.services import (
    school_choices,
    school_names,
    school_target,
    schools_in_scope,
)
from backend.schools.structure import services as structure
from backend.schools.tables import SchoolClass, StudyPeriod
from backend.schools.timetable import services as timetable
from backend.web.session import (
    CSRF_COOKIE,
    TOKEN_COOKIE,
    actor_of,
    check_csrf,
    csrf_cookie,
    principal_from_cookie,
    token_cookie,
)

TASK_PERMISSIONS = (Permission.STRUCTURE_MANAGE, Permission.ACCOUNTS_MANAGE)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
form{border:1px solid #ccc;padding:1rem;border-radius:6px;margin:.5rem 0}
label{display:block;margin:.4rem 0} .error{color:#a00;font-weight:600}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.code{font-family:monospace;font-size:1.1rem}
"""


def page(title: str, body: str, status: int = 200) -> Response[str]:
    doc = (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} — Парта</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(content=doc, media_type=MediaType.HTML, status_code=status)


def e(value: Any) -> str:
    return html.escape(str(value))


def _csrf_field(request: Request[Any, Any, Any]) -> str:
    return f'<input type="hidden" name="csrf" value="{e(request.cookies.get(CSRF_COOKIE, ""))}">'


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return dict(form.items())


def _next_page(value: str | None) -> str:
    """Where the sign-in form sends the person: a page of ours under /admin (never elsewhere:
    no open redirect), else the tasks."""
    if value and value.startswith("/admin/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/tasks"


def _to_login() -> Redirect:
    return Redirect(path="/admin/tasks/login", status_code=HTTP_303_SEE_OTHER)


def _error_page(exc: DomainError) -> Response[str]:
    details = ""
    if isinstance(exc.details, dict) and exc.details.get("problems"):
        rows = "".join(
            f"<tr><td>{e(p.get('line', ''))}</td><td>{e(p.get('column', ''))}</td>"
            f"<td>{e(p.get('message', ''))}</td></tr>"
            for p in exc.details["problems"][:200]
        )
        details = f"<table><tr><th>Строка</th><th>Столбец</th><th>Ошибка</th></tr>{rows}</table>"
    back = '<p><a href="/admin/tasks">← К задачам</a></p>'
    return page(
        t("admin.error_title"),
        f'<p class="error">{e(exc.message)}</p>{details}{back}',
        status=exc.status_code,
    )


def _login_page(
    request: Request[Any, Any, Any],
    wanted: str | None,
    identifier: str = "",
    error: DomainError | None = None,
) -> Response[str]:
    """The sign-in form; after a refused sign-in, the same form with the reason above it."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    after = _next_page(wanted)
    refused = f'<p class="error" role="alert">{e(error.message)}</p>' if error else ""
    body = (
        f"{refused}"
        '<form method="post" action="/admin/tasks/login">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<input type="hidden" name="next" value="{e(after)}">'
        '<label>Логин, телефон или e-mail <input name="identifier" required'
        f' value="{e(identifier)}"{"" if identifier else " autofocus"}></label>'
        '<label>Пароль <input name="password" type="password" required'
        f"{' autofocus' if identifier else ''}></label>"
        "<button>Войти</button></form>"
    )
    response = page(t("admin.login_title"), body, status=error.status_code if error else 200)
    response.cookies.append(csrf_cookie(csrf))
    return response


@get("/admin", opt=PUBLIC, include_in_schema=False, status_code=HTTP_303_SEE_OTHER)
async def admin_start() -> Redirect:
    """`/admin/` is where a coordinator types: the admin's start page (the login form first)."""
    return Redirect(path="/admin/tasks", status_code=HTTP_303_SEE_OTHER)


class AdminTasksController(Controller):
    path = "/admin/tasks"
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/login", sync_to_thread=False)
    def login_form(self, request: Request[Any, Any, Any]) -> Response[str]:
        return _login_page(request, request.query_params.get("next"))

    @post("/login", status_code=HTTP_303_SEE_OTHER)
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await _form(request)
        try:
            check_csrf(request, form)
            identifier, password = str(form.get("identifier", "")), str(form.get("password", ""))
            if not identifier or not password:
                raise ValidationFailed(key="auth.identifier_required")
            accounts: AccountsService = request.app.state.accounts
            pair = await accounts.login(
                Actor(principal=None, ip=client_ip(request)), identifier, password
            )
        except DomainError as exc:  # the form again, with why and the login typed
            return _login_page(
                request,
                str(form.get("next", "")),
                identifier=str(form.get("identifier", "")),
                error=exc,
            )
        response: Response[Any] = Redirect(
            path=_next_page(str(form.get("next", ""))), status_code=HTTP_303_SEE_OTHER
        )
        response.cookies.append(token_cookie(request, pair.access_token, pair.expires_in))
        return response

    @post("/logout", status_code=HTTP_303_SEE_OTHER)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await principal_from_cookie(request)
        if principal is not None:
            await close_sessions(principal.user_id)  # the table browser ends with the pages
        response: Response[Any] = _to_login()
        response.cookies.append(Cookie(key=TOKEN_COOKIE, value="", path="/admin", max_age=0))
        response.cookies.append(Cookie(key=SESSION_COOKIE, value="", path=MOUNT_PATH, max_age=0))
        return response

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await principal_from_cookie(request)
        if principal is None:
            return _to_login()
        if not any(principal.has_permission(p) for p in TASK_PERMISSIONS):
            # Signed in, but nothing here is theirs: say so, and let them sign out.
            return page(
                t("admin.error_title"),
                f'<p class="error">{e(Forbidden().message)}</p>{_logout_form(request)}',
                status=403,
            )
        school_ids: set[int] = set()
        everywhere = False
        for permission in TASK_PERMISSIONS:
            ids = await schools_in_scope(principal, permission)
            if ids is None:
                everywhere = True
            else:
                school_ids |= ids
        chosen = request.query_params.get("school_id")
        if chosen and chosen.isdigit():
            school_ids = {int(chosen)} if everywhere or int(chosen) in school_ids else set()
        elif everywhere:  # every school: one is chosen from the list, as on the staff web
            links = "".join(
                f'<li><a href="/admin/tasks/?school_id={i}">{e(name)}</a></li>'
                for i, name in await school_choices(None)
            )
            return page(
                t("admin.tasks_title"),
                f'<h2>{e(t("web.pick_school_title"))}</h2><ul class="choices">{links}</ul>'
                f'<form method="post" action="/admin/tasks/tables">{_csrf_field(request)}'
                f"<button>{e(t('admin.tables_button'))}</button></form>",
            )
        names = await school_names(school_ids)
        parts = [f"<p>{e(principal.display_name)}</p>", _logout_form(request)]
        if principal.has_permission(TABLES_PERMISSION):
            parts.append(
                f'<form method="post" action="/admin/tasks/tables">{_csrf_field(request)}'
                f"<button>{e(t('admin.tables_button'))}</button></form>"
            )
        for school_id in sorted(names):
            parts.append(await _school_forms(request, principal, school_id, names[school_id]))
        if not names:
            parts.append(f"<p>{e(t('admin.no_schools'))}</p>")
        return page(t("admin.tasks_title"), "".join(parts))

    @post("/tables", status_code=HTTP_303_SEE_OTHER)
    async def open_tables(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Open piccolo_admin (read-only structure tables) for those who hold
        `structure.manage`: a system administrator sees every school, school staff their own
        (the grants are read again here and on every request of the table browser)."""
        principal = await principal_from_cookie(request)
        if principal is None:
            return _to_login()
        form = await _form(request)
        try:
            check_csrf(request, form)
            current = await current_principal(principal.user_id)
            school_ids = await tables_access(current) if current is not None else frozenset()
            if school_ids is not None and not school_ids:
                raise Forbidden(key="admin.tables_forbidden")
            token, expires = await open_session(actor_of(request, principal), school_ids)
        except DomainError as exc:
            return _error_page(exc)
        response: Response[Any] = Redirect(path=f"{MOUNT_PATH}/", status_code=HTTP_303_SEE_OTHER)
        response.cookies.append(
            Cookie(
                key=SESSION_COOKIE,
                value=token,
                path=MOUNT_PATH,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                expires=int(expires.timestamp()),
            )
        )
        return response

    @post("/generate", status_code=200)
    async def generate(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await principal_from_cookie(request)
        if principal is None:
            return _to_login()
        form = await _form(request)
        try:
            check_csrf(request, form)
            school_id = _int(form, "school_id")
            period = await structure.one(
                StudyPeriod.select(
                    StudyPeriod.starts_on, StudyPeriod.ends_on, StudyPeriod.name
                ).where(
                    (StudyPeriod.id == _int(form, "period_id"))
                    & (StudyPeriod.academic_year.school == school_id)
                )
            )
            result = await timetable.generate_lessons(
                actor_of(request, principal), school_id, period["starts_on"], period["ends_on"]
            )
        except DomainError as exc:
            return _error_page(exc)
        done = t(
            "admin.generated",
            period=period["name"],
            created=result.created,
            kept=result.kept,
            removed=result.removed,
            kept_with_content=result.kept_with_content,
        )
        body = f'<p>{e(done)}</p><p><a href="/admin/tasks">← К задачам</a></p>'

        return page(t("admin.generate_title"), body)

    @post("/codes", status_code=200)
    async def codes(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await principal_from_cookie(request)
        if principal is None:
            return _to_login()
        form = await _form(request)
        try:
            check_csrf(request, form)
            who = str(form.get("who", "guardians"))
            if who not in ("guardians", "pupils", "both"):
                raise ValidationFailed(key="people.codes_who_invalid")
            class_id = _int(form, "class_id")
            issued = (
                await people.issue_codes_for_class(
                    actor_of(request, principal),
                    class_id,
                    who,  # type: ignore[arg-type]
                    accounts=request.app.state.accounts,
                )
            ).printed
            klass = await structure.one(
                SchoolClass.select(SchoolClass.grade, SchoolClass.letter).where(
                    SchoolClass.id == class_id
                )
            )
        except DomainError as exc:
            return _error_page(exc)
        rows = "".join(
            f"<tr><td>{e(c.full_name)}</td><td>{e(', '.join(c.pupils))}</td>"
            f'<td class="code">{e(c.code)}</td>'
            f"<td>{e(c.expires_at.strftime('%d.%m.%Y'))}</td></tr>"
            for c in issued
        )
        table = (
            "<table><tr><th>Кому</th><th>Обучающиеся</th><th>Код</th><th>Действует до</th></tr>"
            f"{rows}</table>"
            if issued
            else f"<p>{e(t('admin.no_codes'))}</p>"
        )
        title = t("admin.codes_title", class_name=class_name(klass["grade"], klass["letter"]))
        return page(title, f"<p>{e(t('admin.codes_hint'))}</p>{table}")

    @post("/import", status_code=200, request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024)
    async def import_file(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await principal_from_cookie(request)
        if principal is None:
            return _to_login()
        form = await _form(request)
        try:
            check_csrf(request, form)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed(key="admin.file_required")
            data = await upload.read()
            if len(data) > MAX_UPLOAD_BYTES:
                raise ValidationFailed(key="admin.file_too_large", megabytes=5)
            kind = str(form.get("kind", ""))
            if kind not in imports.COLUMNS:
                raise ValidationFailed(key="admin.kind_invalid")
            report = await imports.import_file(
                actor_of(request, principal),
                _int(form, "school_id"),
                kind,
                data,
                upload.filename or "",
                create_classes=form.get("create_classes") == "on",
                dry_run=form.get("dry_run") == "on",
            )
        except DomainError as exc:
            return _error_page(exc)
        message = t(
            "admin.imported" if report.imported else "admin.import_checked",
            rows=report.rows,
            created=report.created,
            would_create=report.would_create,
            updated=report.updated,
            would_update=report.would_update,
            unchanged=report.unchanged,
        )
        return page(
            t("admin.import_title"),
            f"<p>{e(message)}</p>{_changes_table(report.changes)}"
            '<p><a href="/admin/tasks">← К задачам</a></p>',
        )


def _changes_table(changes: list[Any]) -> str:
    """What a dry run would change (or an import changed): line, column, old and new value."""
    if not changes:
        return ""
    rows = "".join(
        f"<tr><td>{c.line}</td><td>{e(c.column)}</td><td>{e(c.old)}</td><td>{e(c.new)}</td></tr>"
        for c in changes
    )
    return (
        f"<h2>{e(t('import.changes_title'))}</h2><table><tr><th>Строка</th><th>Столбец</th>"
        f"<th>Было</th><th>Станет</th></tr>{rows}</table>"
    )


def _int(form: dict[str, Any], name: str) -> int:
    value = str(form.get(name, ""))
    if not value.isdigit():
        raise ValidationFailed(key="error.wrong_type", field=name)
    return int(value)


def _logout_form(request: Request[Any, Any, Any]) -> str:
    return (
        f'<form method="post" action="/admin/tasks/logout">{_csrf_field(request)}'
        "<button>Выйти</button></form>"
    )


async def _school_forms(
    request: Request[Any, Any, Any], principal: Principal, school_id: int, name: str
) -> str:
    csrf = _csrf_field(request)
    target = await school_target(school_id)
    periods = (
        await StudyPeriod.select(
            StudyPeriod.id,
            StudyPeriod.name,
            StudyPeriod.starts_on,
            StudyPeriod.ends_on,
            StudyPeriod.grades,
        )
        .where(StudyPeriod.academic_year.school == school_id)
        .order_by(StudyPeriod.starts_on)
        .output(load_json=True)
    )
    classes = (
        await SchoolClass.select(SchoolClass.id, SchoolClass.grade, SchoolClass.letter)
        .where(SchoolClass.school == school_id)
        .order_by(SchoolClass.grade)
        .order_by(SchoolClass.letter)
    )
    period_options = "".join(
        f'<option value="{p["id"]}">{e(p["name"])} ({p["starts_on"]:%d.%m.%Y}–'
        f"{p['ends_on']:%d.%m.%Y}; классы {e(', '.join(map(str, p['grades'])))})</option>"
        for p in periods
    )
    class_options = "".join(
        f'<option value="{c["id"]}">{e(class_name(c["grade"], c["letter"]))}</option>'
        for c in classes
    )
    kinds = {
        "pupils": "обучающиеся",
        "guardians": "родители",
        "staff": "сотрудники",
        "classes": "классы",
    }
    # Only the lists the person may write at this school (people's files or the structure).
    writes = {
        kind: principal.allows(
            Permission.STRUCTURE_MANAGE if kind == "classes" else Permission.PERSONAL_FILE_WRITE,
            target,
        )
        for kind in kinds
    }
    kind_options = "".join(
        f'<option value="{k}">{e(v)}</option>'
        for k, v in kinds.items()
        if k in imports.COLUMNS and writes[k]
    )
    hidden = f'<input type="hidden" name="school_id" value="{school_id}">{csrf}'
    return (
        f"<h2>{e(name)}</h2>"
        f'<form method="post" action="/admin/tasks/generate">{hidden}'
        f"<strong>{e(t('admin.generate_title'))}</strong>"
        f'<label>Период <select name="period_id">{period_options}</select></label>'
        "<button>Сформировать</button></form>"
        f'<form method="post" action="/admin/tasks/codes">{hidden}'
        f"<strong>{e(t('admin.codes_form'))}</strong>"
        f'<label>Класс <select name="class_id">{class_options}</select></label>'
        '<label>Кому <select name="who"><option value="guardians">родителям</option>'
        '<option value="pupils">обучающимся</option><option value="both">всем</option>'
        "</select></label><button>Выдать коды</button></form>"
        f'<form method="post" action="/admin/tasks/import" enctype="multipart/form-data">{hidden}'
        f"<strong>{e(t('admin.import_title'))}</strong>"
        f'<label>Что <select name="kind">{kind_options}</select></label>'
        '<label>Файл (CSV или XLSX) <input type="file" name="file" required></label>'
        '<label><input type="checkbox" name="create_classes"> создать недостающие классы</label>'
        '<label><input type="checkbox" name="dry_run"> только проверить</label>'
        "<button>Загрузить</button></form>"
    )


__all__ = ["AdminTasksController", "date"]
