"""The family bot's conversation, written once and run on both messengers: the real aiogram bot
against the Telegram Bot API stand-in and the real maxapi client against the MAX Bot API
stand-in (`messenger` is parametrized), each on both engines. A person types and presses
buttons there, and the bot answers through the backend services with the linked person's
rights."""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.core.db import transaction
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.services import emit
from backend.journal.tables import IllnessReport
from backend.messaging.tables import Delivery, MessengerChat, NotificationPreference
from backend.schools.tables import Consent, Guardian, Student, StudentGuardian
from tests.integration.bots.conftest import Messenger
from tests.integration.journal.arrange import JournalWorld, guardian_of, make_journal_world, today
from tests.integration.notifications.helpers import wait_for
from tests.support import sign_in

CHANNEL_NAMES = {"telegram": "Telegram", "max": "MAX"}


async def test_the_family_scenario(messenger: Messenger) -> None:
    """Link with a valid code, a spent and an expired code refused, a choice between two
    children, the diary week paged by buttons in place, the child reported ill, quiet hours
    changed, and after /stop the alerts stop: the same steps on Telegram and on MAX."""
    notify = messenger.notify
    world = notify.world
    jw = await make_journal_world(world)
    ivan, maria = jw.pupils[0], jw.pupils[1]
    await Student.update({Student.first_name: "Мария"}).where(Student.id == maria)
    parent = await sign_in(
        world,
        Grant(Role.GUARDIAN, ScopeKind.STUDENT, ivan),
        Grant(Role.GUARDIAN, ScopeKind.STUDENT, maria),
        name="Родитель Двоих",
    )
    guardian = Guardian(last_name="Двоих", first_name="Родитель", user_id=parent.user_id)
    await guardian.save()
    for child in (ivan, maria):
        await StudentGuardian(student=child, guardian=guardian.id).save()
    base = 500_000 if messenger.name == "telegram" else 700_000
    person, stranger = messenger.person(base + 1), messenger.person(base + 2)

    # Linked through the deep link the app gives (its payload handed over with Start).
    link = await messenger.code_for(parent)
    # Telegram's start parameter: at most 64 of A-Z a-z 0-9 _ - (MAX allows 128).
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", link["payload"])
    ask = await person.start(link["payload"], replies=2)
    assert person.messages()[-2]["text"].startswith("Готово: чат подключён к «Парте»")
    assert await messenger.linked_to(person.chat_id) == parent.user_id

    # The same link again, in either form, and a code whose minutes have passed: refused.
    refused = await stranger.start(link["payload"])
    assert "Код не подошёл" in refused["text"]
    refused = await stranger.type(link["code"])
    assert "Код не подошёл" in refused["text"]
    late = await messenger.code_for(parent)
    for key in await world.redis.keys(f"parta:link:{messenger.name}:*"):
        await world.redis.pexpire(key, 1)  # minutes pass
    refused = await stranger.type(late["code"].lower())  # typed by hand, any case
    assert "Код не подошёл" in refused["text"]
    assert await messenger.linked_to(stranger.chat_id) is None

    # Telegram is a service abroad: before a legal representative's cross-border consent the
    # bot shows no child's data there, not even a name, and offers the parent the consent
    # with its wording. MAX, operated in Russia, asks nothing.
    consents = Consent.select().where(Consent.kind == "cross_border")
    if messenger.name == "telegram":
        assert ask["text"].startswith("Telegram — сервис за рубежом")
        assert "Текст согласия: «Я, Родитель Двоих, законный представитель" in ask["text"]
        shown = " ".join(m["text"] for m in person.messages())
        assert "Иван" not in shown and "Мария" not in shown and "5«А»" not in shown
        given = await person.press(person.button("Даю согласие", ask))
        assert given["text"].startswith(f"Согласие записано {today().strftime('%d.%m.%Y')}")
        rows = await consents
        assert sorted(r["subject_id"] for r in rows) == sorted((ivan, maria))
        assert {
            (r["given_by_guardian"], r["given_on"], r["document_ref"], r["recorded_by"])
            for r in rows
        } == {(guardian.id, today(), "Telegram-бот", parent.user_id)}
        ask = await person.press(person.button("Открыть меню", given))
    else:
        assert await consents == []

    # Two children: the bot asks which, and the choice edits that message into her menu.
    assert ask["text"] == "Выберите ребёнка:"
    assert person.labels(ask) == ["Иван Ученик0, 5«А»", "Мария Ученик1, 5«А»"]
    menu = await person.press(person.button("Мария", ask))
    assert menu["message_id"] == ask["message_id"]
    assert menu["text"] == "Мария Ученик1, 5«А»: что показать?"

    # The diary week, paged by buttons: the same message edited in place.
    this_week = person.button("Неделя", menu)
    week = await person.press(this_week)
    assert week["message_id"] == menu["message_id"]
    assert "неделя с" in week["text"] and "Математика" in week["text"]
    following = await person.press(person.button("След. неделя", week))
    assert following["message_id"] == menu["message_id"] and following["text"] != week["text"]
    back = await person.press(person.button("Пред. неделя", following))
    assert back["text"] == week["text"]
    assert person.button("След. неделя", back)  # each edit carried its keyboard again
    shown = len(person.messages())
    again = await person.press(person.button("След. неделя", back))
    await person.press(person.button("Пред. неделя", again))
    assert len(person.messages()) == shown  # paging sends nothing new
    # The week shown asked for again: an edit that changes nothing. Telegram refuses it as
    # "message is not modified", which is no error: nothing said, nothing sent.
    same = await person.press(this_week, message=back, changes=False)
    assert same["text"] == back["text"] and len(person.messages()) == shown
    if messenger.name == "telegram":
        assert notify.standins.telegram.unchanged == 1

    # Мария is remembered: /ill asks about her, and the school gets the report.
    asked = await person.type("/ill")
    assert "Мария" in asked["text"] and "болеет сегодня" in asked["text"]
    done = await person.press(person.button("Да, сообщить", asked))
    assert "Школа получила сообщение" in done["text"]
    reports = await IllnessReport.select().where(IllnessReport.student == maria)
    assert len(reports) == 1 and reports[0]["reported_by"] == parent.user_id
    assert await IllnessReport.count().where(IllnessReport.student == ivan) == 0

    # Quiet hours: a button, then the time typed.
    settings = await person.type("/settings")
    assert "Тихие часы: 21:00–07:00 (как в школе)" in settings["text"]
    assert CHANNEL_NAMES[messenger.name] in settings["text"]  # linking added the channel
    await person.press(person.button("Тихие часы", settings))
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

    # An alert about a mark comes to the chat through the worker; after /stop none does.
    await notify.start()
    before = len(person.messages())
    await _mark(jw, maria, "4")
    await wait_for(lambda: len(person.messages()) > before, seconds=20)
    stopped = await person.type("/stop")
    assert stopped["text"].startswith("Чат отключён от «Парты»")
    row = await MessengerChat.select().where(
        (MessengerChat.messenger == messenger.name) & (MessengerChat.chat_id == person.chat_id)
    )
    assert row[0]["unlinked_at"] is not None and row[0]["unlinked_reason"] == "stopped"
    after = len(person.messages())
    await _mark(jw, maria, "2")

    async def skipped() -> bool:
        rows = await Delivery.select(Delivery.status, Delivery.reason).where(
            (Delivery.user_id == parent.user_id) & (Delivery.channel == messenger.name)
        )
        return [(r["status"], r["reason"]) for r in rows].count(("skipped", "no_address")) == 1

    await wait_for(skipped, seconds=20)
    assert len(person.messages()) == after  # nothing more came to the chat
    assert (await person.type("/week"))["text"].startswith("Этот чат не подключён")

    # No answer failed, and every one kept the messenger's pace: no 429 from the stand-in.
    assert not person.errors()
    assert messenger.too_many() == 0


async def _mark(jw: JournalWorld, student_id: int, value: str) -> None:
    school_id = jw.ids["school_a"]
    async with transaction():
        await emit(
            "mark.created",
            {
                "student_id": student_id,
                "school_id": school_id,
                "subject": "Физика",
                "value": value,
                "date": "2026-11-20",
            },
            school_id=school_id,
            student_id=student_id,
        )


async def test_a_pupil_and_a_trusted_adult_link_too_and_see_their_own_child(
    messenger: Messenger,
) -> None:
    world = messenger.notify.world
    jw = await make_journal_world(world)
    await messenger.consented_abroad(jw.pupils[0], jw.pupils[1])
    pupil = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, jw.pupils[0]))
    delegate = await sign_in(world, Grant(Role.DELEGATE, ScopeKind.STUDENT, jw.pupils[1]))
    for who, chat_id, name in (
        (pupil, 500_121, "Иван Ученик0, 5«А»"),
        (delegate, 500_122, "Иван Ученик1, 5«А»"),
    ):
        person = await messenger.linked(who, chat_id)
        menu = person.last()
        assert menu["text"] == f"{name}: что показать?"
        assert await messenger.linked_to(chat_id) == who.user_id
        # Only a guardian tells the school the child is ill.
        assert "Заболел(а)" not in person.labels(menu)
        assert (await person.type("/week"))["text"].startswith(f"{name} — неделя с ")


async def test_guessing_is_throttled_per_chat(messenger: Messenger) -> None:
    world = messenger.notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    guesser = messenger.person(500_021)
    for _ in range(messenger.notify.settings.bot_link_failures_per_chat):
        assert "Код не подошёл" in (await guesser.type("AAAA-BBBB"))["text"]
    good = await messenger.code_for(parent)
    throttled = await guesser.type(good["code"])
    assert "Слишком много неверных кодов" in throttled["text"]
    assert await messenger.linked_to(500_021) is None


async def test_a_family_asking_for_another_familys_child_gets_nothing(
    messenger: Messenger,
) -> None:
    world = messenger.notify.world
    jw = await make_journal_world(world)
    await Student.update({Student.last_name: "Чужой"}).where(Student.id == jw.pupils[1])
    parent = await guardian_of(world, jw.pupils[0])
    person = await messenger.linked(parent, 500_051)
    menu = person.last()
    refusal = "Такого ребёнка среди ваших детей нет."
    # Forged presses: a modified client sends data no button of the message carries.
    answer = await person.press(f"week:{jw.pupils[1]}:0", message=menu)
    assert answer["text"] == refusal
    for forged in (
        f"marks:{jw.pupils[1]}",
        f"illok:{jw.pupils[1]}",
        f"menu:{jw.pupils[1]}",
        f"tp:{jw.pupils[1]}:1:500",
    ):
        answer = await person.press(forged, message=menu, changes=False)
        assert answer["text"] == refusal  # the same refusal: nothing edited, nothing sent
    assert not [m for m in person.messages() if "Чужой" in m["text"]]
    assert await IllnessReport.count() == 0
    assert messenger.notify.standins.yookassa.payments == {}


async def test_a_person_who_blocks_the_bot_is_unlinked(messenger: Messenger) -> None:
    world = messenger.notify.world
    jw = await make_journal_world(world)
    first = await messenger.linked(await guardian_of(world, jw.pupils[0]), 500_071)
    second = await messenger.linked(await guardian_of(world, jw.pupils[1]), 500_072)

    # The messenger says so (Telegram's my_chat_member "kicked", MAX's bot_stopped).
    await first.block()

    async def unlinked(chat_id: int) -> bool:
        return await messenger.linked_to(chat_id) is None

    await wait_for(lambda: unlinked(500_071), seconds=20)
    # Or it only refuses the bot's next send (403): unlinked then.
    second.refuse_sends()
    await second.send("/today")
    await wait_for(lambda: unlinked(500_072), seconds=20)
    for chat_id in (500_071, 500_072):
        row = (
            await MessengerChat.select()
            .where((MessengerChat.messenger == messenger.name) & (MessengerChat.chat_id == chat_id))
            .first()
        )
        assert row is not None and row["unlinked_reason"] == "blocked"


async def test_todays_entries_and_exits_in_the_schools_time(messenger: Messenger) -> None:
    from datetime import UTC, datetime, time

    from backend.access.tables import AccessEvent

    world = messenger.notify.world
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
    await messenger.consented_abroad(jw.pupils[0])
    person = await messenger.linked(parent, 500_061)
    shown = await person.type("/entries")
    assert shown["text"].splitlines()[1:] == ["07:55 — вход", "14:10 — выход"]


async def test_a_failure_reaches_the_person_in_russian_and_the_log_with_its_trace(
    messenger: Messenger, caplog: pytest.LogCaptureFixture
) -> None:
    from backend.journal.tables import DiaryWeek

    world = messenger.notify.world
    jw = await make_journal_world(world)
    await messenger.consented_abroad(jw.pupils[0])
    person = await messenger.linked(await guardian_of(world, jw.pupils[0]), 500_081)
    assert "неделя с" in (await person.type("/week"))["text"]
    await DiaryWeek.update({DiaryWeek.body: '{"days": ['}).where(
        DiaryWeek.student == jw.pupils[0]
    )  # a broken projection: the bot's read fails inside
    failed = await person.type("/week")
    assert failed["text"] == "Не получилось выполнить запрос. Попробуйте ещё раз чуть позже."
    assert person.keyboard(failed) == []
    logged = [r for r in caplog.records if r.name == "parta.bot" and r.exc_info]
    assert logged and "JSONDecodeError" in repr(logged[0].exc_info)


async def test_every_command_answers_and_the_alert_settings_are_saved(
    messenger: Messenger,
) -> None:
    world = messenger.notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    await messenger.consented_abroad(jw.pupils[0])
    person = await messenger.linked(parent, 500_111)
    name = "Иван Ученик0, 5«А»"
    assert (await person.type("/help"))["text"].startswith("Что умеет бот:\n/today")
    menu = await person.type("/start")
    assert menu["text"] == f"{name}: что показать?"
    for command, title in (
        ("/today", f"{name} — "),
        ("/tomorrow", f"{name} — "),
        ("/week", f"{name} — неделя с "),
        ("/marks", f"{name} — отметки с "),
        ("/homework", f"{name} — домашние задания"),
        ("/attendance", f"{name} — пропуски и опоздания за 4 недели"),
        ("/timetable", f"{name} — расписание с "),
        ("/entries", f"{name} — проходы через турникет "),
        ("/meals", f"{name} — питание, "),
    ):
        shown = await person.type(command)
        assert shown["text"].startswith(title), (command, shown["text"])
    today, tomorrow = [m["text"] for m in person.messages()[-9:-7]]
    assert today != tomorrow
    # The menu's buttons show the same, in place.
    marks = await person.press(person.button("Отметки", menu), message=menu)
    assert marks["message_id"] == menu["message_id"]
    assert marks["text"].startswith(f"{name} — отметки с ")
    assert (await person.type("/nonsense"))["text"] == "Не понял сообщение. Команды — /help."

    # Alert settings: channels, a daily digest, kinds of alert.
    settings = await person.type("/settings")
    channels = await person.press(person.button("Каналы", settings))
    assert channels["text"].startswith("Куда присылать уведомления")
    own = CHANNEL_NAMES[messenger.name]
    assert f"✅ {own}" in person.labels(channels)
    email_before = next(b for b in person.labels(channels) if b.endswith("e-mail"))
    channels = await person.press(person.button("e-mail", channels))
    email_after = next(b for b in person.labels(channels) if b.endswith("e-mail"))
    assert {email_before[0], email_after[0]} == {"✅", "▫"}
    rule = await _general_rule(parent.user_id)
    assert ("email" in rule["channels"]) == email_after.startswith("✅")

    settings = await person.press(person.button("« Меню", channels))
    digest = await person.press(person.button("Сводка раз в день", settings))
    assert digest["text"].startswith("Сохранено.") and "Сводка: раз в день в" in digest["text"]
    assert (await _general_rule(parent.user_id))["mode"] == "digest"

    kinds = await person.press(person.button("Виды уведомлений", digest))
    assert kinds["text"].startswith("О чём уведомлять")
    first = person.labels(kinds)[0]
    assert first.startswith("✅")
    kinds = await person.press(person.button(first[2:], kinds))
    assert person.labels(kinds)[0] == "▫️ " + first[2:]
    muted = await NotificationPreference.select().where(
        (NotificationPreference.user_id == parent.user_id)
        & (NotificationPreference.kind != "*")
        & (NotificationPreference.muted == True)  # noqa: E712
    )
    assert len(muted) == 1
    assert not person.errors()


async def _general_rule(user_id: int) -> dict[str, Any]:
    rule = (
        await NotificationPreference.select()
        .where((NotificationPreference.user_id == user_id) & (NotificationPreference.kind == "*"))
        .first()
    )
    assert rule is not None
    return rule
