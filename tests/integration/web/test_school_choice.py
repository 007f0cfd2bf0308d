"""A person who may act in several schools (the system administrator) opening a section of one
school without naming it: every such page answers the schools to choose from, each a link to the
same page with the school set (one mechanism, `kit.SchoolNotChosen`), not an error asking for
the school in the address."""

from __future__ import annotations

import html
import re

from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend
from tests.integration.web.support import signed_in
from tests.support import make_tenancy, make_user

# Each school-scoped section's page and the name of its school parameter.
SECTIONS = (
    ("/admin/web/meals/", "school"),
    ("/admin/web/meals/menu", "school"),
    ("/admin/web/entries/", "school"),
    ("/admin/web/messages/", "school"),
    ("/admin/web/timetable", "school"),
    ("/admin/web/people/", "school_id"),
    ("/admin/web/journal", "school"),
)


def _links(text: str) -> dict[str, str]:
    found = re.search(r'<ul class="choices" id="schools">(.*?)</ul>', text, re.S)
    assert found, text
    return {
        name: html.unescape(href)
        for href, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', found.group(1))
    }


async def test_the_system_administrator_chooses_the_school(world: Backend) -> None:
    ids = await make_tenancy(world)
    _, login = await make_user(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM, None))
    async with signed_in(world, login) as client:
        for path, param in SECTIONS:
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text)
            assert "Укажите школу" not in r.text and "Не заполнено" not in r.text, path
            links = _links(r.text)
            for key in ("school_a", "school_b", "school_c"):
                assert links[key].endswith(f"{param}={ids[key]}"), (path, links)
            chosen = await client.get(links["school_b"])
            assert 'id="schools"' not in chosen.text, (path, chosen.text)
        # A journal's «Другой класс или предмет» keeps the school: the list, not the choice.
        picked = await client.get("/admin/web/journal", params={"school": ids["school_b"]})
        assert picked.status_code == 200 and 'id="schools"' not in picked.text
        # The query the page was asked with stays in the links (the counter's meal, say).
        counter = await client.get("/admin/web/meals/counter", params={"meal_kind": "snack"})
        assert _links(counter.text)["school_a"].startswith(
            "/admin/web/meals/counter?meal_kind=snack&school="
        )
        # Reports and the school's tasks: the schools by name, not a bare «Номер школы (id)».
        reports = await client.get("/admin/web/reports/")
        assert f'<option value="{ids["school_c"]}">school_c</option>' in reports.text
        tasks = await client.get("/admin/tasks/")
        assert f'href="/admin/tasks/?school_id={ids["school_c"]}">school_c<' in tasks.text
        assert "Номер школы (id)" not in tasks.text
