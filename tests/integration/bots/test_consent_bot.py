"""Data abroad in the bot (decision 0620): on Telegram, a service abroad, a child's data is shown
only with a live cross-border consent of a legal representative and a school that does not
forbid it, the rule the notifications obey too. Each rule once, on both engines, with the real
aiogram bot against the Telegram Bot API stand-in: what the stand-in received is what left the
country. (MAX, operated in Russia, shows the data with no consent: the family scenario.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import Consent, Guardian, School, StudentGuardian
from tests.integration.bots.conftest import Messenger, Person, build_bot, reset_standins
from tests.integration.journal.arrange import JournalWorld, make_journal_world, today
from tests.integration.notifications.conftest import Notify
from tests.support import SignedIn, sign_in

# What would give the child away: the name, the class, the school's subject, money.
CHILD_DATA = ("Иван", "Ученик0", "5«А»", "Математика", "₽", "Баланс")
PROMPT = "Telegram — сервис за рубежом"
# Every child-bound command, and every child-bound button a client could send (forged or not).
COMMANDS = (
    "/today",
    "/tomorrow",
    "/week",
    "/marks",
    "/homework",
    "/attendance",
    "/timetable",
    "/entries",
    "/meals",
    "/ill",
    "/start",
)
BUTTONS = (
    "menu:{id}",
    "day:{id}:0",
    "week:{id}:0",
    "tt:{id}:0",
    "marks:{id}",
    "hw:{id}",
    "att:{id}",
    "ent:{id}",
    "mm:{id}:1",
    "tu:{id}:1",
    "tp:{id}:1:500",
    "ill:{id}",
    "illok:{id}",
    "child:{id}:week.0",
)


@pytest.fixture
async def telegram(notify: Notify) -> AsyncIterator[Messenger]:
    reset_standins(notify)
    bot, core = build_bot("telegram", notify)
    await bot.start_polling()
    yield Messenger("telegram", notify, bot, core)
    await bot.stop()


async def _parent(world: Any, student_id: int, *, legal: bool = True) -> SignedIn:
    """A guardian with an account; a legal representative unless `legal` is False."""
    parent = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, student_id))
    guardian = Guardian(last_name="Родитель", first_name="Анна", user_id=parent.user_id)
    await guardian.save()
    await StudentGuardian(
        student=student_id, guardian=guardian.id, is_legal_representative=legal
    ).save()
    return parent


def _sent(telegram: Messenger, person: Person) -> list[str]:
    """Every text the bot sent or edited into the chat, button labels included."""
    api = telegram.notify.standins.telegram
    texts = [m["text"] for m in api.received.items if m["chat_id"] == person.chat_id]
    texts += [m["text"] for m in api.edited.items if m["chat_id"] == person.chat_id]
    for message in person.messages():
        texts += person.labels(message)
    return texts


def _leaks(texts: list[str]) -> list[str]:
    return [text for text in texts if any(part in text for part in CHILD_DATA)]


async def _asks_everything(person: Person, student_id: int) -> None:
    """Every command and every child-bound button: each answered, none with the child's data."""
    for command in COMMANDS:
        answer = await person.type(command)
        assert answer["text"].startswith(PROMPT), command
    message = person.last()
    for data in BUTTONS:
        await person.press(data.format(id=student_id), message=message, changes=False)


async def _world(notify: Notify) -> JournalWorld:
    return await make_journal_world(notify.world, pupils=1)


async def test_without_consent_no_answer_carries_the_childs_data(telegram: Messenger) -> None:
    jw = await _world(telegram.notify)
    ivan = jw.pupils[0]
    parent = await _parent(telegram.notify.world, ivan)
    person = await telegram.linked(parent, 600_001)
    assert person.last()["text"].startswith(PROMPT)
    await _asks_everything(person, ivan)
    assert _leaks(_sent(telegram, person)) == []
    # What shows no child's data keeps working.
    assert (await person.type("/help"))["text"].startswith("Что умеет бот:")
    assert (await person.type("/children"))["text"] == "Выберите ребёнка:"
    assert person.labels(person.last()) == ["Ребёнок 1"]
    assert not person.errors()
    assert await Consent.count().where(Consent.kind == "cross_border") == 0
    assert (await person.type("/stop"))["text"].startswith("Чат отключён")


async def test_consent_given_in_the_bot_shows_the_data_and_is_recorded(
    telegram: Messenger,
) -> None:
    jw = await _world(telegram.notify)
    ivan = jw.pupils[0]
    parent = await _parent(telegram.notify.world, ivan)
    person = await telegram.linked(parent, 600_011)
    ask = person.last()
    assert "Текст согласия" in ask["text"] and "/withdraw" in ask["text"]
    given = await person.press(person.button("Даю согласие", ask))
    assert given["text"].startswith(f"Согласие записано {today().strftime('%d.%m.%Y')}")
    row = await Consent.select().where(Consent.kind == "cross_border").first()
    assert row is not None
    guardian = await Guardian.select(Guardian.id).where(Guardian.user_id == parent.user_id).first()
    assert guardian is not None
    assert (row["subject_kind"], row["subject_id"], row["given_on"], row["revoked_on"]) == (
        "student",
        ivan,
        today(),
        None,
    )
    assert (row["given_by_guardian"], row["document_ref"], row["recorded_by"]) == (
        guardian["id"],
        "Telegram-бот",
        parent.user_id,
    )
    audited = await AuditEntry.select().where(
        (AuditEntry.object_type == "consent") & (AuditEntry.object_id == str(row["id"]))
    )
    assert [a["action"] for a in audited] == ["create"]
    menu = await person.press(person.button("Открыть меню", given))
    assert menu["text"] == "Иван Ученик0, 5«А»: что показать?"
    week = await person.type("/week")
    assert week["text"].startswith("Иван Ученик0, 5«А» — неделя с ")
    # Pressed again (an old message): nothing more is recorded.
    await person.press("xb", message=given, changes=False)
    assert await Consent.count().where(Consent.kind == "cross_border") == 1


async def test_withdrawn_consent_hides_the_data_again_from_that_day(telegram: Messenger) -> None:
    jw = await _world(telegram.notify)
    ivan = jw.pupils[0]
    parent = await _parent(telegram.notify.world, ivan)
    person = await telegram.linked(parent, 600_021)
    await person.press(person.button("Даю согласие"))
    assert "неделя с" in (await person.type("/week"))["text"]
    before = len(_sent(telegram, person))
    withdrawn = await person.type("/withdraw")
    assert withdrawn["text"].startswith(f"Согласие отозвано с {today().strftime('%d.%m.%Y')}")
    row = await Consent.select().where(Consent.kind == "cross_border").first()
    assert row is not None and row["revoked_on"] == today()
    assert (
        await AuditEntry.count().where(
            (AuditEntry.object_type == "consent") & (AuditEntry.action == "update")
        )
        == 1
    )
    await _asks_everything(person, ivan)
    assert _leaks(_sent(telegram, person)[before:]) == []
    assert "Действующего согласия" in (await person.type("/withdraw"))["text"]


async def test_a_school_that_forbids_it_shows_nothing_even_with_consent(
    telegram: Messenger,
) -> None:
    jw = await _world(telegram.notify)
    ivan = jw.pupils[0]
    parent = await _parent(telegram.notify.world, ivan)
    await telegram.consented_abroad(ivan)
    await School.update(
        {School.settings: {"notification_defaults": {"forbid_cross_border": True}}}
    ).where(School.id == jw.ids["school_a"])
    person = await telegram.linked(parent, 600_031)
    said = person.last()["text"]
    assert said.startswith("Эта школа не передаёт данные учеников через Telegram")
    assert "MAX" in said and "приложении" in said
    assert "Даю согласие" not in person.labels(person.last())
    for command in ("/week", "/marks", "/meals"):
        assert (await person.type(command))["text"] == said
    await person.press("xb", message=person.last(), changes=False)  # forged: nothing recorded
    assert await Consent.count().where(Consent.kind == "cross_border") == 1
    assert _leaks(_sent(telegram, person)) == []


async def test_only_a_legal_representative_can_consent(telegram: Messenger) -> None:
    """A trusted adult, a pupil and a guardian who is not a legal representative are told who
    can consent; a forged press of the consent button records nothing."""
    world = telegram.notify.world
    jw = await _world(telegram.notify)
    ivan = jw.pupils[0]
    delegate = await sign_in(world, Grant(Role.DELEGATE, ScopeKind.STUDENT, ivan))
    pupil = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, ivan))
    stepfather = await _parent(world, ivan, legal=False)
    for n, who in enumerate((delegate, pupil, stepfather)):
        person = await telegram.linked(who, 600_041 + n)
        told = person.last()
        assert "Дать согласие может только законный представитель" in told["text"]
        assert "Даю согласие" not in person.labels(told)
        await person.press("xb", message=told, changes=False)
        assert "Дать согласие может только" in (await person.type("/week"))["text"]
        assert "законный представитель" in (await person.type("/withdraw"))["text"]
        assert _leaks(_sent(telegram, person)) == []
    assert await Consent.count().where(Consent.kind == "cross_border") == 0
