"""The family bot on MAX, end to end: the real maxapi client long-polls the MAX Bot API
stand-in, a person presses Start, types and presses buttons there, and the bot answers through
the backend services with the linked person's rights; the same scenario as on Telegram
(tests/integration/bots/test_telegram_bot.py). A forged webhook is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from backend.core.db import transaction
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.services import emit
from backend.journal.tables import IllnessReport
from backend.messaging import links
from backend.messaging.tables import Delivery, MessengerChat, NotificationPreference
from backend.schools.tables import Student
from backend.settings import Settings
from bots.core import FamilyBot
from bots.max import SECRET_HEADER, WEBHOOK_PATH, MaxBot
from notifications.standins.common import free_port
from notifications.standins.max import MaxStandIn
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import Family, make_family, sign_in_as, wait_for
from tests.support import SignedIn, sign_in


@dataclass
class MaxPerson:
    """Someone in their MAX dialog with the bot, and what they see there."""

    notify: Notify
    chat_id: int

    @property
    def max(self) -> MaxStandIn:
        return self.notify.standins.max

    def messages(self) -> list[dict[str, Any]]:
        return [{"message_id": m.mid, "text": m.text} for m in self.max.sent_to(self.chat_id)]

    def last(self) -> dict[str, Any]:
        return self.messages()[-1]

    def _seen(self) -> tuple[int, int]:
        sent = sum(1 for m in self.max.received.items if m["chat_id"] == self.chat_id)
        edits = sum(1 for e in self.max.edits if e["chat_id"] == self.chat_id)
        return sent, edits

    async def start(self, payload: str | None = None, replies: int = 1) -> dict[str, Any]:
        """Press Start (through the deep link with `payload`)."""
        sent, _ = self._seen()
        self.notify.standins.call(self.max.start_bot(self.chat_id, payload))
        await wait_for(lambda: self._seen()[0] >= sent + replies, seconds=20)
        return self.last()

    async def type(self, text: str, replies: int = 1) -> dict[str, Any]:
        sent, _ = self._seen()
        self.notify.standins.call(self.max.send_text(self.chat_id, text))
        await wait_for(lambda: self._seen()[0] >= sent + replies, seconds=20)
        return self.last()

    async def press(
        self, data: str, *, message: dict[str, Any] | None = None, changes: bool = True
    ) -> dict[str, Any]:
        message = message or self.last()
        sent, edits = self._seen()
        answered = len(self.max.answers)
        self.notify.standins.call(self.max.press(message["message_id"], data))
        await wait_for(
            lambda: (
                len(self.max.answers) > answered
                and (self._seen()[1] > edits or self._seen()[0] > sent)
            ),
            seconds=20,
        )
        if not changes:
            await asyncio.sleep(1.5)
        return next(
            (m for m in self.messages() if m["message_id"] == message["message_id"]), self.last()
        )

    def button(self, label_part: str, message: dict[str, Any] | None = None) -> str:
        message = message or self.last()
        for row in self.max.keyboard(message["message_id"]):
            for button in row:
                if label_part in button["text"]:
                    return str(button["payload"])
        raise AssertionError(f"no button {label_part!r} under {message['text']!r}")

    async def forge(self, payload: str, message: dict[str, Any]) -> dict[str, Any]:
        """A press with a payload no button of the message carries (a forged client)."""
        answered = len(self.max.answers)
        self.notify.standins.call(self.max.press(message["message_id"], payload, forged=True))
        await wait_for(lambda: len(self.max.answers) > answered, seconds=20)
        await asyncio.sleep(1)
        return next(m for m in self.messages() if m["message_id"] == message["message_id"])

    def labels(self, message: dict[str, Any]) -> list[str]:
        return [b["text"] for row in self.max.keyboard(message["message_id"]) for b in row]


@pytest.fixture
async def max_bot(notify: Notify) -> AsyncIterator[MaxBot]:
    world = notify.world
    core = FamilyBot(notify.settings, world.redis, world.app.state.diary_weeks)
    bot = MaxBot(notify.settings, world.redis, core)
    await bot.start_polling()
    yield bot
    await bot.stop()


async def code_for(world: Backend, who: SignedIn | dict[str, str]) -> dict[str, str]:
    headers = who if isinstance(who, dict) else who.headers
    made = await world.client.post(
        "/api/v1/messaging/chat-links", json={"messenger": "max"}, headers=headers
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def linked_to(chat_id: int) -> int | None:
    row = (
        await MessengerChat.select(MessengerChat.user_id)
        .where(
            (MessengerChat.messenger == "max")
            & (MessengerChat.chat_id == chat_id)
            & MessengerChat.unlinked_at.is_null()
        )
        .first()
    )
    return row["user_id"] if row else None


async def test_a_parent_links_through_the_deep_link_and_pages_the_week(
    notify: Notify, max_bot: MaxBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    link = await code_for(world, parent)
    # The app's link for a configured bot: the deep link MAX opens the dialog with.
    deep = links.DEEP_LINKS["max"](notify.settings, link["payload"])
    assert deep == f"https://max.ru/parta_bot?start={link['payload']}"
    person = MaxPerson(notify, 700_001)

    menu = await person.start(link["payload"], replies=2)
    assert person.messages()[-2]["text"].startswith("Готово: чат подключён")
    assert await linked_to(700_001) == parent.user_id
    assert "Иван Ученик0" in menu["text"]

    week = await person.press(person.button("Неделя"))
    assert week["message_id"] == menu["message_id"]  # edited in place, no new message
    assert "неделя с" in week["text"] and "Математика" in week["text"]
    following = await person.press(person.button("След. неделя"))
    assert following["message_id"] == menu["message_id"]
    assert following["text"] != week["text"]
    back = await person.press(person.button("Пред. неделя"))
    assert back["text"] == week["text"]
    # Each edit carried its keyboard again (MAX would drop it otherwise).
    assert person.button("След. неделя", back)
    assert not [m for m in notify.standins.max.received.items if "Не получилось" in m["text"]]


async def test_a_code_is_single_use_and_expires(notify: Notify, max_bot: MaxBot) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    link = await code_for(world, parent)
    first, second = MaxPerson(notify, 700_011), MaxPerson(notify, 700_012)

    await first.start(link["payload"], replies=2)
    refused = await second.start(link["payload"])
    assert "Код не подошёл" in refused["text"]
    refused = await second.type(link["code"])  # the short form of the same link is spent too
    assert "Код не подошёл" in refused["text"]

    late = await code_for(world, parent)
    for key in await world.redis.keys("parta:link:*"):
        await world.redis.pexpire(key, 1)  # minutes pass
    refused = await second.type(late["code"])
    assert "Код не подошёл" in refused["text"]
    assert await linked_to(700_012) is None


async def test_a_parent_of_two_chooses_a_child_and_reports_one_ill(
    notify: Notify, max_bot: MaxBot
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
    person = MaxPerson(notify, 700_031)
    await person.type((await code_for(world, parent))["code"], replies=2)
    ask = await person.type("/today")
    assert ask["text"] == "Выберите ребёнка:"
    assert person.labels(ask) == ["Иван Ученик0, 5«А»", "Мария Ученик1, 5«А»"]
    day = await person.press(person.button("Мария"))
    assert day["message_id"] == ask["message_id"]
    assert day["text"].startswith("Мария Ученик1, 5«А» —")

    asked = await person.type("/ill")
    assert "Мария" in asked["text"] and "болеет сегодня" in asked["text"]
    done = await person.press(person.button("Да, сообщить"))
    assert "Школа получила сообщение" in done["text"]
    reports = await IllnessReport.select().where(IllnessReport.student == jw.pupils[1])
    assert len(reports) == 1 and reports[0]["reported_by"] == parent.user_id
    assert await IllnessReport.count().where(IllnessReport.student == jw.pupils[0]) == 0


async def test_quiet_hours_are_changed_by_a_typed_answer(notify: Notify, max_bot: MaxBot) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    person = MaxPerson(notify, 700_041)
    await person.type((await code_for(world, parent))["code"], replies=2)
    settings = await person.type("/settings")
    assert "Тихие часы: 21:00–07:00 (как в школе)" in settings["text"]
    assert "MAX" in settings["text"]  # linking added the channel
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


async def _mark(family: Family, value: str) -> None:
    async with transaction():
        await emit(
            "mark.created",
            {
                "student_id": family.student_id,
                "school_id": family.school_id,
                "subject": "Физика",
                "value": value,
                "date": "2026-11-20",
            },
            school_id=family.school_id,
            student_id=family.student_id,
        )


async def test_stop_and_alerts_stop(notify: Notify, max_bot: MaxBot) -> None:
    world = notify.world
    family = await make_family(world)
    person = MaxPerson(notify, 700_061)
    await person.type((await code_for(world, await sign_in_as(world, family)))["code"], replies=2)
    assert await linked_to(700_061) == family.user_id
    await notify.start()

    await _mark(family, "4")  # linked: the alert comes to the MAX dialog (linking added MAX)
    await wait_for(lambda: any("Физика" in m["text"] for m in person.messages()), seconds=20)
    assert any("«4»" in m["text"] for m in person.messages())

    stopped = await person.type("/stop")
    assert stopped["text"].startswith("Чат отключён от «Парты»")
    assert await linked_to(700_061) is None
    before = len(person.messages())
    await _mark(family, "2")

    async def skipped() -> bool:
        rows = await Delivery.select(Delivery.channel, Delivery.status, Delivery.reason).where(
            (Delivery.user_id == family.user_id) & (Delivery.channel == "max")
        )
        return any(r["status"] == "skipped" and r["reason"] == "no_address" for r in rows)

    await wait_for(skipped, seconds=20)
    await asyncio.sleep(1)
    assert len(person.messages()) == before  # nothing more came to the dialog


async def test_a_person_who_blocks_the_bot_is_unlinked(notify: Notify, max_bot: MaxBot) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    person = MaxPerson(notify, 700_071)
    await person.type((await code_for(world, parent))["code"], replies=2)
    assert await linked_to(700_071) == parent.user_id
    notify.standins.call(notify.standins.max.block(700_071))

    async def unlinked() -> bool:
        return await linked_to(700_071) is None

    await wait_for(unlinked, seconds=20)
    row = await MessengerChat.select().where(MessengerChat.chat_id == 700_071).first()
    assert row is not None and row["unlinked_reason"] == "blocked"


async def test_a_family_asking_for_another_familys_child_gets_nothing(
    notify: Notify, max_bot: MaxBot
) -> None:
    world = notify.world
    jw = await make_journal_world(world)
    await Student.update({Student.last_name: "Чужой"}).where(Student.id == jw.pupils[1])
    parent = await guardian_of(world, jw.pupils[0])
    person = MaxPerson(notify, 700_081)
    menu = await person.type((await code_for(world, parent))["code"], replies=2)
    refusal = "Такого ребёнка среди ваших детей нет."
    # A forged press: MAX hands the bot whatever payload a client sends.
    answer = await person.forge(f"week:{jw.pupils[1]}:0", menu)
    assert answer["text"] == refusal
    assert not [m for m in person.messages() if "Чужой" in m["text"]]


# ---- webhooks ----------------------------------------------------------------------------


@pytest.fixture
async def webhook(notify: Notify) -> AsyncIterator[tuple[MaxBot, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = Settings.model_validate(
        {
            **{name: getattr(notify.settings, name) for name in Settings.model_fields},
            "bot_mode": "webhook",
            "max_webhook_url": url,
            "max_webhook_secret": SecretStr("the-subscription-secret"),
        }
    )
    world = notify.world
    bot = MaxBot(
        settings, world.redis, FamilyBot(settings, world.redis, world.app.state.diary_weeks)
    )
    app = web.Application()
    bot.webhook_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield bot, url
    await bot.stop()
    await runner.cleanup()


async def test_a_forged_webhook_is_refused_and_maxs_own_is_answered(
    notify: Notify, webhook: tuple[MaxBot, str]
) -> None:
    bot, url = webhook
    update = {
        "update_type": "bot_started",
        "timestamp": 1,
        "chat_id": 700_091,
        "user": {"user_id": 1, "first_name": "Злоумышленник", "is_bot": False},
    }
    async with httpx.AsyncClient() as client:
        for headers in ({}, {SECRET_HEADER: "guessed-secret"}):
            refused = await client.post(url, json=update, headers=headers)
            assert refused.status_code == 401
    await asyncio.sleep(0.5)
    assert not [m for m in notify.standins.max.received.items if m["chat_id"] == 700_091]

    # MAX's own post carries the subscription's secret: the bot answers it.
    with pytest.warns(UserWarning):  # maxapi: the URL is not https
        await bot.set_webhook()
    assert [s["url"] for s in notify.standins.max.subscriptions] == [url]
    person = MaxPerson(notify, 700_092)
    welcome = await person.start()
    assert welcome["text"].startswith("Здравствуйте! Это бот «Парты»")
    assert notify.standins.max.webhook_answers[-1] == 200


async def test_maxs_429_is_waited_out_and_the_reply_arrives(
    notify: Notify, max_bot: MaxBot
) -> None:
    person = MaxPerson(notify, 700_101)
    notify.standins.max.answer_429 = 1  # MAX refuses the next send: too many requests
    welcome = await person.start()
    assert welcome["text"].startswith("Здравствуйте! Это бот «Парты»")
    assert notify.standins.max.too_many == 1
    assert len(person.messages()) == 1  # sent once, after the pause
    assert not [m for m in person.messages() if "Не получилось" in m["text"]]
