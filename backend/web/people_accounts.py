"""The people section's account pages (/admin/web/people): activation codes of a class printed
as slips (PDF), and the school's staff accounts with their roles: give a role, take one back,
block or unblock an account.

Everything is the accounts service's: codes come from `issue_codes_for_class` (the API's
`POST /classes/{id}/activation-codes`), a role is given by `add_grant` and taken by
`revoke_grant`, which check what the signed-in person may give (`GRANTABLE_BY`: a secretary
makes teachers, not directors), and `set_active` blocks only an account whose every role the
person could take back. The slips are drawn by the reports' PDF builder (decision 1006).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from litestar import Controller, get, post
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.accounts.services import AccountsService, accounts_in_scopes
from backend.core.bounds import PathId
from backend.core.errors import ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import GRANTABLE_BY, Grant, Permission, Role, ScopeKind
from backend.i18n import t
from backend.reports.files import Slip, slips_pdf
from backend.schools.people import services as people
from backend.schools.people.movement import class_info
from backend.schools.services import school_names
from backend.schools.structure import services as structure
from backend.web.kit import AnyRequest, Staff, field, optional_id, page, parse_id, staff_page
from backend.web.nav import STAFF_ROLES
from backend.web.people import BASE, post_page, school_of

MANAGERS = (Permission.ACCOUNTS_MANAGE,)
WHO = ("guardians", "pupils", "both")
# The roles a school's office gives from this page (families get theirs by activation codes).
OFFICE_ROLES = tuple(r for r in STAFF_ROLES if r in GRANTABLE_BY[Role.SCHOOL_ADMIN])


def _accounts(request: AnyRequest) -> AccountsService:
    return cast(AccountsService, request.app.state.accounts)


def _sign_in_line(request: AnyRequest) -> str:
    site = str(getattr(request.app.state.settings, "public_url", "") or "").rstrip("/")
    return t("web.people.slip_how", site=site or t("web.people.slip_site"))


class PeopleAccountsController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @post("/classes/{class_id:int}/codes", status_code=200)
    async def codes(self, request: AnyRequest, class_id: PathId) -> Response[Any]:
        """New activation codes for the class's families and/or pupils, as a PDF of slips (one
        per person: the code, whom it is for, until when, how to sign in)."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            who = str(form.get("who") or "")
            if who not in WHO:
                raise ValidationFailed(key="error.choice_field", field=field("who"))
            result = await people.issue_codes_for_class(
                staff.actor,
                class_id,
                cast(Literal["guardians", "pupils", "both"], who),
                accounts=_accounts(request),
                reissue=form.get("reissue") == "on",
            )
            klass = await class_info(class_id)
            has_code = sum(1 for x in result.skipped if x.reason == "has_code")
            summary = t(
                "web.people.codes_summary",
                issued=len(result.printed),
                has_account=len(result.skipped) - has_code,
                has_code=has_code,
                withdrawn=result.withdrawn,
            )
            if not result.printed:
                return page(
                    request,
                    "people/codes_none.html",
                    staff.principal,
                    summary=summary,
                    skipped=result.skipped,
                    class_id=class_id,
                    class_name=klass.label,
                )
            how = _sign_in_line(request)
            slips = [
                Slip(
                    heading=t(f"web.people.slip_for.{p.kind}", class_name=klass.label),
                    name=p.full_name,
                    lines=[
                        t("web.people.slip_pupils", pupils=", ".join(p.pupils)),
                        t("web.people.slip_until", date=p.expires_at.strftime("%d.%m.%Y")),
                        how,
                        t("web.people.slip_once"),
                    ],
                    code=p.code,
                )
                for p in result.printed
            ]
            title = t("web.people.slips_title", class_name=klass.label)
            content = slips_pdf(title, slips, staff.principal.display_name)
            return Response(
                content=content,
                media_type="application/pdf",
                headers={
                    "Content-Disposition": f'attachment; filename="codes-{class_id}.pdf"',
                    "Cache-Control": "no-store",
                },
            )

        return await post_page(request, MANAGERS, act)

    @get("/accounts")
    async def accounts(self, request: AnyRequest) -> Response[Any]:
        """The school's staff accounts (grants at the school or its classes) with their roles."""

        async def show(staff: Staff) -> Response[Any]:
            school_id = await school_of(staff, request.query_params.get("school_id"))
            classes = await structure.list_classes(staff.actor, school_id)
            scopes = [(ScopeKind.SCHOOL, school_id)] + [(ScopeKind.CLASS, c["id"]) for c in classes]
            rows = await accounts_in_scopes(scopes)
            names = await school_names({school_id})
            class_names = {c["id"]: c["name"] for c in classes}
            for row in rows:
                for held in row["grants"]:
                    grant: Grant = held["grant"]
                    held["role"] = t(f"role.{grant.role.value}")
                    held["where"] = (
                        class_names.get(grant.scope_id or 0, "")
                        if grant.scope_kind is ScopeKind.CLASS
                        else names.get(school_id, "")
                    )
            return page(
                request,
                "people/accounts.html",
                staff.principal,
                rows=rows,
                school_id=school_id,
                roles=OFFICE_ROLES,
                classes=classes,
                me=staff.principal.user_id,
            )

        return await staff_page(request, MANAGERS, "web.people.no_accounts", show)

    @post("/accounts/{user_id:int}/grant", status_code=200)
    async def give(self, request: AnyRequest, user_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = parse_id(form.get("school_id"), "school_id")
            role_name = str(form.get("role") or "")
            if role_name not in {r.value for r in OFFICE_ROLES}:
                raise ValidationFailed(key="error.choice_field", field=field("role"))
            role = Role(role_name)
            class_id = optional_id(form.get("class_id"), "class_id")
            if role is Role.CLASS_TEACHER:
                if class_id is None:
                    raise ValidationFailed(key="error.missing_field", field=field("class_id"))
                grant = Grant(role, ScopeKind.CLASS, class_id)
            else:
                grant = Grant(role, ScopeKind.SCHOOL, school_id)
            await _accounts(request).add_grant(staff.actor, user_id, grant)
            return _back(school_id)

        return await post_page(request, MANAGERS, act)

    @post("/accounts/grants/{grant_id:int}/revoke", status_code=200)
    async def revoke(self, request: AnyRequest, grant_id: PathId) -> Response[Any]:
        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = parse_id(form.get("school_id"), "school_id")
            await _accounts(request).revoke_grant(staff.actor, grant_id)
            return _back(school_id)

        return await post_page(request, MANAGERS, act)

    @post("/accounts/{user_id:int}/active", status_code=200)
    async def set_active(self, request: AnyRequest, user_id: PathId) -> Response[Any]:
        """Block (active=0) or unblock (active=1) an account."""

        async def act(staff: Staff, form: dict[str, Any]) -> Response[Any]:
            school_id = parse_id(form.get("school_id"), "school_id")
            active = str(form.get("active") or "")
            if active not in ("0", "1"):
                raise ValidationFailed(key="error.choice_field", field=field("active"))
            await _accounts(request).set_active(staff.actor, user_id, active == "1")
            return _back(school_id)

        return await post_page(request, MANAGERS, act)


def _back(school_id: int) -> Redirect:
    return Redirect(path=f"{BASE}/accounts?school_id={school_id}", status_code=HTTP_303_SEE_OTHER)


__all__ = ["PeopleAccountsController"]
