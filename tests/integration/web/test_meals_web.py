"""The staff web's meals section (/admin/web/meals) through the real app: the canteen marks
today's meals from a class list (one pupil, then the whole list) and at the till by card or
number, refusals say why and store nothing; the caterer sets the two-week menu (a bad start
refused with the API's message, nothing changed), reads and downloads the day's requisition;
the school's administrator reads the report; CSRF and rights as the API's."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from backend.core.rights import Grant, Role, ScopeKind
from backend.meals import requisitions
from backend.meals.tables import MealOrder, MealPlan, MealServing, MenuCycleDay
from tests.conftest import Backend
from tests.integration.meals.test_counter import (
    CARD_AT_COUNTER,
    _card,
    _today_order,
    _top_up_other,
)
from tests.integration.meals.test_orders import _canteen
from tests.integration.web.support import csrf, signed_in
from tests.support import sign_in

MEALS = "/admin/web/meals"


async def test_the_counter_serves_from_the_list_and_at_the_till(world: Backend) -> None:
    c = await _canteen(world)
    class_id = c.ids["class_id"]
    await _top_up_other(world, c)
    first = await _today_order(c, "student")
    await _card(c)
    async with signed_in(world, c.caterer.login) as client:
        home = await client.get("/admin/web/")
        assert f'href="{MEALS}"' in home.text
        page = await client.get(f"{MEALS}/counter", params={"class_id": class_id})
        assert page.status_code == 200, page.text
        assert "заказано 1, выдано 0" in page.text and "Обед 1–4" in page.text
        # A pupil of the list without an order: the reason instead of a button.
        assert page.text.count("Выдать</button>") == 2  # the till's and the one pupil's
        # The list is read again when the till serves someone (the answer's HX-Trigger).
        assert 'hx-trigger="served from:body" hx-select="#class-list"' in page.text
        # At the till by the card (EM-Marine hex of the turnstiles' Wiegand card).
        served = await client.post(
            f"{MEALS}/counter/serve",
            data={"csrf": csrf(client), "meal_kind": "lunch", "card": CARD_AT_COUNTER["raw_value"],
                  "card_format": CARD_AT_COUNTER["card_format"]},
        )  # fmt: skip
        assert served.status_code == 200, served.text
        assert "Выдано: Соколова Дети" in served.text
        assert served.headers["hx-trigger"] == "served"
        assert await MealServing.count().where(MealServing.order_id == first) == 1
        # Times on the school's clock (Moscow), not UTC: the line, the list and the refusal.
        row = await MealServing.select(MealServing.served_at).first()
        local = row["served_at"].astimezone(ZoneInfo("Europe/Moscow")).strftime("%H:%M")
        assert f", {local}." in served.text
        listed = await client.get(f"{MEALS}/counter", params={"class_id": class_id})
        assert f"выдано в {local}" in listed.text and "заказано 1, выдано 1" in listed.text
        # The same card again: refused with the time it was served, nothing more stored.
        again = await client.post(
            f"{MEALS}/counter/serve",
            data={"csrf": csrf(client), "meal_kind": "lunch", "card": CARD_AT_COUNTER["raw_value"],
                  "card_format": CARD_AT_COUNTER["card_format"]},
        )  # fmt: skip
        assert again.status_code == 409 and again.headers["hx-retarget"] == "#counter-status"
        assert f"Уже выдано сегодня в {local}: " in again.text
        assert await MealServing.count().where(MealServing.order_id == first) == 1
        # By number, a pupil without an order today: the reason, nothing stored.
        none = await client.post(
            f"{MEALS}/counter/serve",
            data={"csrf": csrf(client), "meal_kind": "lunch", "student_id": c.ids["other"]},
        )
        assert none.status_code == 409 and "заказ" in none.text.lower()
        garbled = await client.post(
            f"{MEALS}/counter/serve",
            data={
                "csrf": csrf(client),
                "meal_kind": "lunch",
                "card": "zz",
                "card_format": "wiegand26",
            },
        )
        assert garbled.status_code == 400
        # The other pupil orders; the list's "everyone" serves her, not the one served before.
        second = await _today_order(c, "other")
        everyone = await client.post(
            f"{MEALS}/counter/classes/{class_id}",
            data={"csrf": csrf(client), "meal_kind": "lunch"},
        )
        assert everyone.status_code == 200, everyone.text
        assert "Отмечено выданными: 1." in everyone.text and "заказано 2, выдано 2" in everyone.text
        assert await MealServing.count().where(MealServing.order_id == second) == 1
        assert await MealServing.count() == 2
        statuses = await MealOrder.select(MealOrder.status).where(
            MealOrder.id.is_in([first, second])
        )
        assert {r["status"] for r in statuses} == {"posted"}
        forged = await client.post(
            f"{MEALS}/counter/classes/{class_id}", data={"meal_kind": "lunch"}
        )
        assert forged.status_code == 403


async def test_the_caterer_sets_the_menu_and_reads_the_requisition(world: Backend) -> None:
    c = await _canteen(world)
    school = c.ids["school_a"]
    async with signed_in(world, c.caterer.login) as client:
        menu = await client.get(f"{MEALS}/menu")
        assert menu.status_code == 200 and "Обед 1–4" in menu.text
        # The title is the page's name, no markup; the plans' table is on the page once.
        assert re.search(r"<title>([^<]*)</title>", menu.text)
        assert menu.text.count('id="plans"') == 1
        before = await MenuCycleDay.count().where(MenuCycleDay.school == school)
        monday = c.today - timedelta(days=c.today.weekday())
        tuesday = monday + timedelta(days=1)
        lunch = str(c.sets["lunch"])
        wrong = await client.post(
            f"{MEALS}/menu/cycle",
            data={"csrf": csrf(client), "starts_on": tuesday.isoformat(), "d11": lunch},
        )
        assert wrong.status_code == 400 and 'id="refused"' in wrong.text
        assert "понедельник" in wrong.text.lower()
        assert await MenuCycleDay.count().where(MenuCycleDay.school == school) == before
        saved = await client.post(
            f"{MEALS}/menu/cycle",
            data={
                "csrf": csrf(client),
                "starts_on": monday.isoformat(),
                "d11": lunch,
                "d23": lunch,
            },
        )
        assert saved.status_code == 303, saved.text
        days = (
            await MenuCycleDay.select().where(MenuCycleDay.school == school).output(load_json=True)
        )
        assert {(d["week"], d["weekday"]) for d in days} == {(1, 1), (2, 3)}
        shown = await client.get(saved.headers["location"])
        assert "Меню сохранено." in shown.text and "checked" in shown.text

        # A class's meal plan: lunch on Monday to Friday; a bad weekday is refused, nothing kept.
        class_id = c.ids["class_id"]
        plan = await client.post(
            f"{MEALS}/plans/{class_id}",
            data={"csrf": csrf(client), "kinds": "lunch", "weekdays": ["1", "2", "3", "4", "5"]},
        )
        assert plan.status_code == 303, plan.text
        stored = (
            await MealPlan.select().where(MealPlan.school_class == class_id).output(load_json=True)
        )
        assert [(r["kinds"], r["weekdays"]) for r in stored] == [(["lunch"], [1, 2, 3, 4, 5])]
        shown = await client.get(plan.headers["location"])
        assert "Режим питания класса сохранён." in shown.text
        wrong_day = await client.post(
            f"{MEALS}/plans/{class_id}",
            data={"csrf": csrf(client), "kinds": "dinner", "weekdays": "9"},
        )
        assert wrong_day.status_code == 400 and 'id="refused"' in wrong_day.text
        again = (
            await MealPlan.select().where(MealPlan.school_class == class_id).output(load_json=True)
        )
        assert again == stored
        await _today_order(c, "student")
        assert await requisitions.freeze(school, c.today) >= 1
        listed = await client.get(f"{MEALS}/requisitions", params={"date": c.today.isoformat()})
        assert listed.status_code == 200 and "всего 1: платных 1, льготных 0" in listed.text
        link = listed.text.split('href="/admin/web/meals/requisitions/')[1].split('"')[0]
        xlsx = await client.get(f"/admin/web/meals/requisitions/{link}")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        bad = await client.get(f"/admin/web/meals/requisitions/{link.split('?')[0]}?format=doc")
        assert bad.status_code == 400
        # The caterer does not read the money report.
        report = await client.get(f"{MEALS}/report")
        assert report.status_code == 403
    cutoff = await world.client.post(
        f"/api/v1/meals/schools/{school}/cutoff", headers=c.admin.headers
    )
    assert cutoff.status_code == 200 and cutoff.json()["posted"] == 1, cutoff.text
    async with signed_in(world, c.admin.login) as client:
        report = await client.get(f"{MEALS}/report")
        assert report.status_code == 200, report.text
        row = report.text.split('id="report"')[1].split("</tbody>")[0]
        assert "бед" in row and '<td class="num">1</td>' in row and "95,00" in row
        assert "Пополнения наличными" in report.text
        backwards = await client.get(
            f"{MEALS}/report",
            params={"date_from": c.today.isoformat(), "date_to": c.day(-3)},
        )
        assert backwards.status_code == 400


async def test_who_may_open_the_meals_pages(world: Backend) -> None:
    c = await _canteen(world)
    school = c.ids["school_a"]
    teacher = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, school))
    other = await sign_in(world, Grant(Role.CATERER, ScopeKind.SCHOOL, c.ids["school_c"]))
    await _today_order(c, "student")
    for who in (teacher, c.guardian):
        async with signed_in(world, who.login) as client:
            for path in (MEALS, f"{MEALS}/counter", f"{MEALS}/requisitions", f"{MEALS}/menu"):
                r = await client.get(path, params={"class_id": c.ids["class_id"]})
                assert r.status_code == 403, (who.login, path, r.status_code)
                assert "Соколова" not in r.text
    async with signed_in(world, other.login) as client:
        theirs = await client.get(
            f"{MEALS}/counter", params={"school": school, "class_id": c.ids["class_id"]}
        )
        assert theirs.status_code in (403, 404) and "Соколова" not in theirs.text
        served = await client.post(
            f"{MEALS}/counter/serve",
            data={"csrf": csrf(client), "meal_kind": "lunch", "student_id": c.ids["student"]},
        )
        assert served.status_code == 404
        assert await MealServing.count() == 0
