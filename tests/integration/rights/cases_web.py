"""Rights cases of the staff web (/admin/web). Like the web admin's task pages they sign in with
the admin's cookie, not the bearer token, so to the matrix they are public: without the cookie
a page sends the browser to the sign-in form (303) and a cell save is refused for want of the
CSRF token (403). The signed-in behaviour (a teacher's own classes, 404 elsewhere, a guardian
refused, the window and period locks) is tested in tests/integration/web/."""

from __future__ import annotations

from tests.integration.rights import ALL_ROLES, Case

CASES = [
    Case("GET", "/admin/web", "/admin/web/", ALL_ROLES, public=True, ok=(303,)),
    Case("GET", "/admin/web/journal", "/admin/web/journal", ALL_ROLES, public=True, ok=(303,)),
    Case(
        "POST",
        "/admin/web/journal/cell",
        "/admin/web/journal/cell",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "POST",
        "/admin/web/journal/topic",
        "/admin/web/journal/topic",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "POST",
        "/admin/web/journal/homework",
        "/admin/web/journal/homework",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "GET",
        "/admin/web/timetable",
        "/admin/web/timetable",
        ALL_ROLES,
        public=True,
        ok=(303,),
    ),
    Case(
        "POST",
        "/admin/web/timetable/entries",
        "/admin/web/timetable/entries",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "GET",
        "/admin/web/timetable/entries/{entry_id:int}",
        "/admin/web/timetable/entries/1",
        ALL_ROLES,
        public=True,
        ok=(303,),
    ),
    Case(
        "POST",
        "/admin/web/timetable/entries/{entry_id:int}",
        "/admin/web/timetable/entries/1",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "GET",
        "/admin/web/journal/final",
        "/admin/web/journal/final?class_id=1&subject_id=1",
        ALL_ROLES,
        public=True,
        ok=(303,),
    ),
    Case(
        "POST",
        "/admin/web/journal/final",
        "/admin/web/journal/final",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before anything is looked at",
    ),
    Case(
        "GET",
        "/admin/web/journal/pupils/{student_id:int}",
        "/admin/web/journal/pupils/1",
        ALL_ROLES,
        public=True,
        ok=(303,),
    ),
    Case(
        "POST",
        "/admin/web/journal/homework/files",
        "/admin/web/journal/homework/files",
        ALL_ROLES,
        public=True,
        ok=(303,),
        note="a plain form: without the cookie, to the sign-in before anything is read",
    ),
    Case(
        "GET",
        "/admin/web/journal/files/{attachment_id:int}",
        "/admin/web/journal/files/1",
        ALL_ROLES,
        public=True,
        ok=(303,),
    ),
    Case(
        "GET",
        "/admin/web/static/{file_path:path}",
        "/admin/web/static/web.css",
        ALL_ROLES,
        public=True,
        ok=(200,),
        note="the pages' own style and scripts (htmx vendored): nothing personal",
    ),
]
