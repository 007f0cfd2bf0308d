"""Rights cases of the staff web's people section (/admin/web/people). Signed in with the
admin's cookie, so to the matrix they are public: without the cookie a page sends the browser to
the sign-in form (303) and a form's POST is refused for want of the CSRF token (403). Who may
open what once signed in (the secretary's school only, a class teacher's own class, families
and teachers refused) is tested in tests/integration/web/test_people.py."""

from __future__ import annotations

from tests.integration.rights import ALL_ROLES, Case

CSRF_FIRST = "no CSRF token: refused before anything is looked at"


def page(route: str, url: str) -> Case:
    return Case("GET", route, url, ALL_ROLES, public=True, ok=(303,))


def form(route: str, url: str) -> Case:
    return Case("POST", route, url, ALL_ROLES, public=True, ok=(403,), note=CSRF_FIRST)


CASES = [
    page("/admin/web/people", "/admin/web/people/"),
    page("/admin/web/people/import", "/admin/web/people/import"),
    page("/admin/web/people/export", "/admin/web/people/export?kind=pupils"),
    page("/admin/web/people/staff", "/admin/web/people/staff"),
    page("/admin/web/people/classes/{class_id:int}", "/admin/web/people/classes/1"),
    page("/admin/web/people/pupils/{student_id:int}", "/admin/web/people/pupils/1"),
    page("/admin/web/people/guardians/{guardian_id:int}", "/admin/web/people/guardians/1"),
    page("/admin/web/people/audit", "/admin/web/people/audit"),
    page("/admin/web/people/pupils/{student_id:int}/viewers", "/admin/web/people/pupils/1/viewers"),
    page("/admin/web/people/accounts", "/admin/web/people/accounts"),
    form("/admin/web/people/classes/{class_id:int}/codes", "/admin/web/people/classes/1/codes"),
    form("/admin/web/people/accounts/{user_id:int}/grant", "/admin/web/people/accounts/1/grant"),
    form(
        "/admin/web/people/accounts/grants/{grant_id:int}/revoke",
        "/admin/web/people/accounts/grants/1/revoke",
    ),
    form("/admin/web/people/accounts/{user_id:int}/active", "/admin/web/people/accounts/1/active"),
    form("/admin/web/people/pupils/{student_id:int}/file", "/admin/web/people/pupils/1/file"),
    form("/admin/web/people/import", "/admin/web/people/import"),
    form("/admin/web/people/import/confirm", "/admin/web/people/import/confirm"),
    form(
        "/admin/web/people/pupils/{student_id:int}/movement", "/admin/web/people/pupils/1/movement"
    ),
    form("/admin/web/people/pupils/{student_id:int}/consent", "/admin/web/people/pupils/1/consent"),
]
