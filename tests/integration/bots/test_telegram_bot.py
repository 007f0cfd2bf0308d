"""The family bot on Telegram, end to end: the real aiogram bot polls the Bot API stand-in,
a person types and presses buttons there, and the bot answers through the backend services
with the linked person's rights."""

from __future__ import annotations

import pytest

from backend.core.rights import Grant, Role, ScopeKind
from backend.journal.tables import IllnessReport
from backend.messaging.tables import MessengerChat, NotificationPreference
from backend.schools.tables import Student
from bots.telegram import TelegramBot
from tests.conftest import Backend
from tests.integration.bots.conftest import Person
from tests.integration.journal.arrange import guardian_of, make_journal_world
from tests.integration.notifications.conftest import Notify
from tests.support import SignedIn, sign_in


async def code_for(world: Backend, who: SignedIn) -> dict[str, str]:
    made = await world.client.post(
        "/api/v1/messaging/chat-links", json={"messenger": "telegram"}, headers=who.headers
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def test_a_parent_links_with_the_short_code_and_pages_the_week(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    link = await code_for(world, parent)
    person = Person(notify, 500_001)
    refused_before = notify.standins.telegram.too_many

    menu = await person.type(link["code"].lower(), replies=2)  # typed by hand, any case
    linked = person.messages()[-2]
    assert linked["text"].startswith("Готово: чат подключён")
    assert (
        await MessengerChat.count().where(
            (MessengerChat.chat_id == 500_001) & (MessengerChat.user_id == parent.user_id)
        )
        == 1
    )
    assert "Иван Ученик0" in menu["text"]

    week = await person.press(person.button("Неделя"))
    assert week["message_id"] == menu["message_id"]  # edited in place, no new message
    assert "неделя с" in week["text"] and "Математика" in week["text"]
    following = await person.press(person.button("След. неделя"))
    assert following["message_id"] == menu["message_id"]
    assert following["text"] != week["text"]
    back = await person.press(person.button("Пред. неделя"))
    assert back["text"] == week["text"]
    # The same button pressed twice: Telegram says "not modified", the bot says nothing more.
    before = len(person.messages())
    again = await person.press(person.button("След. неделя", back))
    await person.press(person.button("Пред. неделя", again))
    assert len(person.messages()) == before
    assert not [m for m in notify.standins.telegram.received.items if "Не получилось" in m["text"]]
    # Every answer kept Telegram's pace (one a second in a chat): the stand-in, which counts
    # as Telegram does, never had to answer 429.
    assert notify.standins.telegram.too_many == refused_before


async def test_a_code_is_single_use_and_expires(notify: Notify, telegram_bot: TelegramBot) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    link = await code_for(world, parent)
    first, second = Person(notify, 500_011), Person(notify, 500_012)

    await first.type(f"/start {link['payload']}", replies=2)
    refused = await second.type(f"/start {link['payload']}")
    assert "Код не подошёл" in refused["text"]
    refused = await second.type(link["code"])  # the short form of the same link is spent too
    assert "Код не подошёл" in refused["text"]

    late = await code_for(world, parent)
    for key in await world.redis.keys("parta:link:telegram:*"):
        await world.redis.pexpire(key, 1)  # minutes pass
    refused = await second.type(late["code"])
    assert "Код не подошёл" in refused["text"]
    assert await MessengerChat.count().where(MessengerChat.chat_id == 500_012) == 0


async def test_guessing_is_throttled_per_chat(notify: Notify, telegram_bot: TelegramBot) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    guesser = Person(notify, 500_021)
    for _ in range(notify.settings.bot_link_failures_per_chat):
        assert "Код не подошёл" in (await guesser.type("AAAA-BBBB"))["text"]
    good = await code_for(world, parent)
    throttled = await guesser.type(good["code"])
    assert "Слишком много неверных кодов" in throttled["text"]
    assert await MessengerChat.count().where(MessengerChat.chat_id == 500_021) == 0


async def test_a_parent_of_two_chooses_a_child_and_reports_one_ill(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    await Student.update({Student.first_name: "Мария"}).where(Student.id == jw.pupils[1])
    parent = await sign_in(
        world,
        Grant(Role.GUARDIAN, ScopeKind.STUDENT, jw.pupils[0]),
        Grant(Role.GUARDIAN, ScopeKind.STUDENT, jw.pupils[1]),
        name="Родитель Двоих",
    )
    person = Person(notify, 500_031)
    await person.type((await code_for(world, parent))["code"], replies=2)
    ask = await person.type("/today")
    assert ask["text"] == "Выберите ребёнка:"
    labels = [label for label, _ in notify.standins.telegram.buttons(500_031, ask["message_id"])]
    assert labels == ["Иван Ученик0, 5«А»", "Мария Ученик1, 5«А»"]
    day = await person.press(person.button("Мария"))
    assert day["message_id"] == ask["message_id"] and day["text"].startswith(
        "Мария Ученик1, 5«А» —"
    )

    asked = await person.type("/ill")  # Мария is remembered: no question again
    assert "Мария" in asked["text"] and "болеет сегодня" in asked["text"]
    done = await person.press(person.button("Да, сообщить"))
    assert "Школа получила сообщение" in done["text"]
    reports = await IllnessReport.select().where(IllnessReport.student == jw.pupils[1])
    assert len(reports) == 1 and reports[0]["reported_by"] == parent.user_id
    assert await IllnessReport.count().where(IllnessReport.student == jw.pupils[0]) == 0


async def test_quiet_hours_are_changed_by_a_typed_answer(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    person = Person(notify, 500_041)
    await person.type((await code_for(world, parent))["code"], replies=2)
    settings = await person.type("/settings")
    assert "Тихие часы: 21:00–07:00 (как в школе)" in settings["text"]
    assert "Telegram" in settings["text"]  # linking added the channel
    await person.press(person.button("Тихие часы"))
    saved = await person.type("22:30-06:45")
    assert "Сохранено" in saved["text"] and "Тихие часы: 22:30–06:45" in saved["text"]
    rule = (
        await NotificationPreference.select()
        .where(
            (NotificationPreference.user_id == parent.user_id)
            & (NotificationPreference.kind == "*")
        )
        .first()
    )
    assert rule is not None and (rule["quiet_from"], rule["quiet_to"]) == ("22:30", "06:45")
    off = await person.press(person.button("Тихие часы"))
    off = await person.press(person.button("Выключить", off))
    assert "Тихие часы: выключены" in off["text"]


async def test_a_family_asking_for_another_familys_child_gets_nothing(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    await Student.update({Student.last_name: "Чужой"}).where(Student.id == jw.pupils[1])
    parent = await guardian_of(world, jw.pupils[0])
    person = Person(notify, 500_051)
    menu = await person.type((await code_for(world, parent))["code"], replies=2)
    refusal = "Такого ребёнка среди ваших детей нет."
    answer = await person.press(f"week:{jw.pupils[1]}:0", message=menu)
    assert answer["text"] == refusal
    for forged in (f"marks:{jw.pupils[1]}", f"illok:{jw.pupils[1]}", f"menu:{jw.pupils[1]}"):
        answer = await person.press(forged, message=menu, changes=False)
        assert answer["text"] == refusal  # the same refusal: nothing edited, nothing sent
    assert not [m for m in person.messages() if "Чужой" in m["text"]]
    assert await IllnessReport.count() == 0


async def test_todays_entries_and_exits_in_the_schools_time(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    from datetime import UTC, datetime, time

    from backend.access.tables import AccessEvent
    from tests.integration.journal.arrange import today

    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    day = today()
    for n, (student, direction, hour, minute) in enumerate(
        ((jw.pupils[0], "in", 4, 55), (jw.pupils[0], "out", 11, 10), (jw.pupils[1], "in", 5, 0))
    ):
        at = datetime.combine(day, time(hour, minute), tzinfo=UTC)  # 07:55 and 14:10 in Moscow
        await AccessEvent(
            gateway_id=1,
            device_event_id=f"e{n}",
            school_id=jw.ids["school_a"],
            holder_kind="student",
            holder_id=student,
            direction=direction,
            result="granted",
            device_time=at,
            occurred_at=at,
            received_at=at,
            local_date=day,
        ).save()
    person = Person(notify, 500_061)
    await person.type((await code_for(world, parent))["code"], replies=2)
    shown = await person.type("/entries")
    assert shown["text"].splitlines()[1:] == ["07:55 — вход", "14:10 — выход"]


async def test_a_failure_reaches_the_person_in_russian_and_the_log_with_its_trace(
    notify: Notify, telegram_bot: TelegramBot, caplog: pytest.LogCaptureFixture
) -> None:
    from backend.journal.tables import DiaryWeek

    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    person = Person(notify, 500_071)
    await person.type((await code_for(world, parent))["code"], replies=2)
    assert "неделя с" in (await person.type("/week"))["text"]
    await DiaryWeek.update({DiaryWeek.body: '{"days": ['}).where(
        DiaryWeek.student == jw.pupils[0]
    )  # a broken projection: the bot's read fails inside
    failed = await person.type("/week")
    assert failed["text"] == "Не получилось выполнить запрос. Попробуйте ещё раз чуть позже."
    assert failed["reply_markup"] is None
    logged = [r for r in caplog.records if r.name == "parta.bot" and r.exc_info]
    assert logged and "JSONDecodeError" in repr(logged[0].exc_info)


async def test_meals_are_ordered_and_cancelled_before_the_cutoff(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    from backend.meals.tables import MealOrder
    from tests.integration.meals.test_orders import _canteen

    world = notify.world
    canteen = await _canteen(world)  # cut-off: the day before at 00:00; 1 000 ₽ on the account
    person = Person(notify, 500_081)
    await person.type((await code_for(world, canteen.guardian))["code"], replies=2)
    tomorrow = await person.type("/meals")
    assert "Баланс: 1 000,00 ₽, доступно 1 000,00 ₽" in tomorrow["text"]
    later = await person.press(person.button("День »"))  # the day after tomorrow: still open
    order = person.button("Заказать", later)
    placed = await person.press(order)
    assert placed["text"].startswith("Заказано: «")
    row = await MealOrder.select().where(MealOrder.student == canteen.ids["student"]).first()
    assert row is not None and row["status"] == "ordered"
    assert f"доступно {(100_000 - row['price']) // 100:,}".replace(",", " ") in placed["text"]
    cancelled = await person.press(person.button("Отменить", placed))
    assert "отменён, деньги вернулись" in cancelled["text"]
    row = await MealOrder.select().where(MealOrder.id == row["id"]).first()
    assert row["status"] == "cancelled"
    assert "доступно 1 000,00 ₽" in cancelled["text"]
