"""The staff web's entries section (/admin/web/entries) through the real app: security signed in
with the admin's form sees who is inside, the day's log and its refusals, issues, blocks and
replaces a pupil's card, adds a turnstile, registers a gateway (its key shown once) and saves the
school's rules; bad input is refused with the API's Russian message and nothing stored; CSRF and
rights as the API's."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from backend.access.tables import AccessCard, AccessGateway, AccessPoint, AccessSettings
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import School as SchoolRow
from tests.conftest import Backend
from tests.integration.access.arrange import Turnstiles, noon_zone, turnstiles
from tests.integration.schools.people_world import School, add_pupil, make_school
from tests.integration.web.support import csrf, signed_in
from tests.support import sign_in

ENTRIES = "/admin/web/entries"


async def carded_class(world: Backend) -> tuple[School, Turnstiles, list[int]]:
    school = await make_school(world)
    # Around noon on the school's clock: "today" is one day for every pass of the test.
    await SchoolRow.update({SchoolRow.time_zone: noon_zone()}).where(
        SchoolRow.id == school.school_id
    )
    pupils = [
        await add_pupil(school.school_id, f"Петров{n}", "Пётр", school.classes["5А"])
        for n in range(3)
    ]
    return school, await turnstiles(world, ids=school.ids, existing=pupils), pupils


async def test_security_sees_who_is_inside_the_log_and_the_refusals(world: Backend) -> None:
    _, gate, pupils = await carded_class(world)
    now = datetime.now(UTC)
    stored = await gate.post(
        [
            gate.event(pupils[0], now - timedelta(minutes=5)),
            gate.event(pupils[1], now - timedelta(minutes=4)),
            gate.event(pupils[1], now - timedelta(minutes=1), "out"),
            gate.event(None, now - timedelta(minutes=2), card="99,9999", result="denied"),
        ]
    )
    assert stored.status_code == 200, stored.text
    async with signed_in(world, gate.security.login, ENTRIES) as client:
        home = await client.get("/admin/web/")
        assert f'href="{ENTRIES}"' in home.text and "Проходы" in home.text
        inside = await client.get(ENTRIES)
        assert inside.status_code == 200, inside.text
        assert "Обучающихся в здании: 1" in inside.text
        assert "Петров0 Пётр" in inside.text and "Петров1" not in inside.text
        assert 'hx-trigger="every 60s"' in inside.text
        log = await client.get(f"{ENTRIES}/log")
        assert log.status_code == 200 and "Проходов: 4" in log.text
        assert "Петров1 Пётр" in log.text and "5«А»" in log.text and "выход" in log.text
        problems = await client.get(f"{ENTRIES}/log", params={"problems": "1"})
        assert "неизвестная карта" in problems.text and "99,9999" in problems.text
        assert "Петров0" not in problems.text
        bad = await client.get(f"{ENTRIES}/log", params={"date": "2026-13-40"})
        assert bad.status_code == 400 and "дата" in bad.text.lower()


async def test_security_issues_blocks_and_replaces_a_card(world: Backend) -> None:
    school, gate, pupils = await carded_class(world)
    newcomer = await add_pupil(school.school_id, "Новикова", "Анна", school.classes["5А"])
    async with signed_in(world, gate.security.login, ENTRIES) as client:
        page = await client.get(f"{ENTRIES}/cards", params={"class_id": school.classes["5А"]})
        assert page.status_code == 200, page.text
        assert "Новикова Анна" in page.text and "10,1000" in page.text
        issued = await client.post(
            f"{ENTRIES}/cards",
            data={
                "csrf": csrf(client),
                "class_id": school.classes["5А"],
                "holder_id": newcomer,
                "raw_value": "42,4242",
                "card_format": "wiegand26",
            },
        )
        assert issued.status_code == 303 and "done=issued" in issued.headers["location"]
        card = await AccessCard.objects().get(AccessCard.holder_id == newcomer)
        assert card is not None and card.status == "active"
        # The same card for another pupil: refused with the API's reason, nothing stored.
        again = await client.post(
            f"{ENTRIES}/cards",
            data={
                "csrf": csrf(client),
                "class_id": school.classes["5А"],
                "holder_id": pupils[0],
                "raw_value": "42,4242",
                "card_format": "wiegand26",
            },
        )
        assert again.status_code in (400, 409) and 'id="refused"' in again.text
        assert await AccessCard.count().where(AccessCard.holder_id == pupils[0]) == 1
        # A refused number: the page again with the class and the typed number in its row.
        action = re.search(r'action="([^"]*)" class="inline issue"', page.text)
        assert action is not None
        garbled = await client.post(
            html.unescape(action.group(1)),
            data={
                "csrf": csrf(client),
                "class_id": school.classes["5А"],
                "holder_id": pupils[0],
                "raw_value": "это не номер",
                "card_format": "wiegand26",
            },
        )
        assert garbled.status_code == 400
        assert "Номер карты Wiegand-26 записывается как «серия,номер»" in garbled.text
        assert "Новикова Анна" in garbled.text and 'value="это не номер" autofocus' in garbled.text
        replaced = await client.post(
            f"{ENTRIES}/cards/{card.id}/replace",
            data={
                "csrf": csrf(client),
                "class_id": school.classes["5А"],
                "raw_value": "43,4343",
                "card_format": "wiegand26",
            },
        )
        assert replaced.status_code == 303 and "done=replaced" in replaced.headers["location"]
        rows = await AccessCard.select().where(AccessCard.holder_id == newcomer)
        assert sorted(r["status"] for r in rows) == ["active", "blocked"]
        live = next(r for r in rows if r["status"] == "active")
        blocked = await client.post(
            f"{ENTRIES}/cards/{live['id']}/block",
            data={"csrf": csrf(client), "class_id": school.classes["5А"], "reason": "lost"},
        )
        assert blocked.status_code == 303
        assert (
            await AccessCard.count().where(
                (AccessCard.holder_id == newcomer) & (AccessCard.status == "active")
            )
            == 0
        )
        # Without the CSRF token nothing is done.
        forged = await client.post(
            f"{ENTRIES}/cards/{card.id}/block", data={"class_id": school.classes["5А"]}
        )
        assert forged.status_code == 403


async def test_points_gateways_and_rules(world: Backend) -> None:
    _, gate, _ = await carded_class(world)
    async with signed_in(world, gate.security.login, ENTRIES) as client:
        page = await client.get(f"{ENTRIES}/points")
        assert page.status_code == 200 and "Турникет 1, вход" in page.text
        added = await client.post(
            f"{ENTRIES}/points",
            data={"csrf": csrf(client), "name": "Запасной выход", "direction": "out", "lane": "2"},
        )
        assert added.status_code == 303
        assert await AccessPoint.exists().where(AccessPoint.name == "Запасной выход")
        bad_lane = await client.post(
            f"{ENTRIES}/points",
            data={"csrf": csrf(client), "name": "Ещё один", "direction": "in", "lane": "500"},
        )
        assert bad_lane.status_code == 400, bad_lane.text
        assert "Значение поля «проход» должно быть не больше 99." in bad_lane.text
        assert not await AccessPoint.exists().where(AccessPoint.name == "Ещё один")
        off = await client.post(
            f"{ENTRIES}/points/{gate.point_out}",
            data={
                "csrf": csrf(client),
                "name": "Турникет 1, выход",
                "direction": "out",
                "lane": "1",
            },
        )
        assert off.status_code == 303
        point = await AccessPoint.objects().get(AccessPoint.id == gate.point_out)
        assert point is not None and point.is_active is False
        made = await client.post(
            f"{ENTRIES}/gateways", data={"csrf": csrf(client), "name": "Вход 2"}
        )
        assert made.status_code == 200 and 'id="new-key"' in made.text
        key = re.search(r"<code>([^<]+)</code>", made.text.split('id="new-key"')[1])
        assert key and len(key.group(1)) >= 32
        assert await AccessGateway.exists().where(AccessGateway.name == "Вход 2")
        listed = await client.get(f"{ENTRIES}/points")
        assert key.group(1) not in listed.text  # shown once, never again
        rules = await client.post(
            f"{ENTRIES}/settings",
            data={
                "csrf": csrf(client),
                "not_arrived_enabled": "on",
                "not_arrived_margin_minutes": "25",
            },
        )
        assert rules.status_code == 303
        saved = await AccessSettings.objects().get(AccessSettings.school_id == gate.school_id)
        assert saved is not None and saved.not_arrived_margin_minutes == 25
        assert saved.journal_presence is False
        wrong = await client.post(
            f"{ENTRIES}/settings",
            data={"csrf": csrf(client), "not_arrived_margin_minutes": "999"},
        )
        assert wrong.status_code == 400
        assert "«запас времени после начала урока» должно быть не больше 240" in wrong.text
        kept = await AccessSettings.objects().get(AccessSettings.school_id == gate.school_id)
        assert kept is not None and kept.not_arrived_margin_minutes == 25


async def test_who_may_open_the_entries_pages(world: Backend) -> None:
    school, gate, pupils = await carded_class(world)
    teacher = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, school.school_id))
    parent = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupils[0]))
    other = await sign_in(world, Grant(Role.SECURITY, ScopeKind.SCHOOL, gate.other_school_id))
    admin = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school.school_id))
    # The school's administrator manages access without the security's read grant.
    async with signed_in(world, admin.login) as client:
        for path in (ENTRIES, f"{ENTRIES}/log", f"{ENTRIES}/cards", f"{ENTRIES}/points"):
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text)
    for who in (teacher, parent):
        async with signed_in(world, who.login) as client:
            for path in (ENTRIES, f"{ENTRIES}/log", f"{ENTRIES}/cards", f"{ENTRIES}/points"):
                r = await client.get(path)
                assert r.status_code == 403, (who.login, path)
                assert "Петров" not in r.text
    async with signed_in(world, other.login) as client:
        theirs = await client.get(ENTRIES, params={"school": gate.school_id})
        assert theirs.status_code in (403, 404) and "Петров" not in theirs.text
        cards = await client.get(f"{ENTRIES}/cards", params={"class_id": school.classes["5А"]})
        assert "Петров" not in cards.text
        blocked = await client.post(
            f"{ENTRIES}/cards/{(await AccessCard.select().first())['id']}/block",
            data={"csrf": csrf(client), "reason": "lost"},
        )
        assert blocked.status_code in (403, 404)
        assert await AccessCard.count().where(AccessCard.status == "blocked") == 0
