"""Fixtures of the bot's tests: the real bot of each messenger (aiogram against the Telegram Bot
API stand-in, maxapi against the MAX Bot API stand-in; the notifications tests' stand-ins, so
alerts and the conversation share one Telegram and one MAX) on each engine, and a person
typing and pressing buttons in their chat there.

`messenger` is parametrized: a test that takes it (or `person`) runs once per messenger, and
sees the same `Person` either way: the scenario is written once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from backend.core.days import today_in
from backend.messaging.tables import MessengerChat
from backend.schools.tables import Consent
from backend.settings import Settings
from bots.core import ABROAD, FamilyBot
from bots.max import MaxBot
from bots.telegram import TelegramBot
from notifications.standins.max import MaxStandIn
from notifications.standins.telegram import TelegramStandIn
from tests.integration.notifications.conftest import Notify, notify, standins  # noqa: F401
from tests.integration.notifications.helpers import wait_for
from tests.support import SignedIn

MESSENGERS = ("telegram", "max")


class Person:
    """Someone in their chat with the bot on one messenger, and what they see there. A message
    is `{"message_id": ..., "text": ...}` as shown now (edits applied)."""

    messenger: str

    def __init__(self, notify: Notify, chat_id: int) -> None:  # noqa: F811
        self.notify, self.chat_id = notify, chat_id

    # -- what each messenger's stand-in says ---------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _seen(self) -> tuple[int, int]:
        """Messages the bot sent to this chat, and edits it made there."""
        raise NotImplementedError

    def _answered(self) -> int:
        """Button presses answered, in every chat."""
        raise NotImplementedError

    def keyboard(self, message: dict[str, Any]) -> list[dict[str, str]]:
        """The buttons under a message: `text`, and `data` (a callback's) or `url` (a link's)."""
        raise NotImplementedError

    def _type(self, text: str) -> Any:
        raise NotImplementedError

    def _start(self, payload: str | None) -> Any:
        raise NotImplementedError

    def _press(self, message: dict[str, Any], data: str) -> Any:
        raise NotImplementedError

    def _block(self) -> Any:
        raise NotImplementedError

    def refuse_sends(self) -> None:
        """The messenger refuses the bot's sends to this chat as blocked (403), with no
        update saying so first."""
        raise NotImplementedError

    # -- the person's side, the same on every messenger ----------------------------------------

    def last(self) -> dict[str, Any]:
        return self.messages()[-1]

    async def _on_standin(self, work: Any) -> None:
        """Run on the stand-ins' loop without blocking this one (a webhook is served here)."""
        loop = self.notify.standins._loop
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    async def _replies(self, work: Any, replies: int) -> dict[str, Any]:
        sent, _ = self._seen()
        await self._on_standin(work)
        await wait_for(lambda: self._seen()[0] >= sent + replies, seconds=20)
        return self.last()

    async def type(self, text: str, replies: int = 1) -> dict[str, Any]:
        """Type a message and wait for the bot's `replies` new messages; the last one."""
        return await self._replies(self._type(text), replies)

    async def send(self, text: str) -> None:
        """Type a message and wait for nothing."""
        await self._on_standin(self._type(text))

    async def start(self, payload: str | None = None, replies: int = 1) -> dict[str, Any]:
        """Press Start, through the deep link carrying `payload` when given."""
        return await self._replies(self._start(payload), replies)

    async def press(
        self, data: str, *, message: dict[str, Any] | None = None, changes: bool = True
    ) -> dict[str, Any]:
        """Press the button with `data` under `message` (the last one by default; a forged
        client may send data no button carries) and wait for the bot to edit that message (or
        to answer anew); with `changes=False`, only for the press to be answered. The pressed
        message as it is then."""
        message = message or self.last()
        sent, edits = self._seen()
        answered = self._answered()
        await self._on_standin(self._press(message, data))
        await wait_for(
            lambda: (
                self._answered() > answered
                and (not changes or self._seen()[1] > edits or self._seen()[0] > sent)
            ),
            seconds=20,
        )
        if not changes:
            await asyncio.sleep(1.5)  # whatever the bot would say has had its time
        return next(
            (m for m in self.messages() if m["message_id"] == message["message_id"]), self.last()
        )

    async def block(self) -> None:
        """The person blocks (stops) the bot."""
        await self._on_standin(self._block())

    def button(self, label_part: str, message: dict[str, Any] | None = None) -> str:
        """The data of the button whose label contains `label_part`."""
        message = message or self.last()
        for button in self.keyboard(message):
            if label_part in button["text"] and button.get("data"):
                return button["data"]
        raise AssertionError(f"no button {label_part!r} under {message['text']!r}")

    def link(self, label_part: str, message: dict[str, Any] | None = None) -> str:
        """The URL of the link button whose label contains `label_part`."""
        message = message or self.last()
        for button in self.keyboard(message):
            if label_part in button["text"] and button.get("url"):
                return button["url"]
        raise AssertionError(f"no link {label_part!r} under {message['text']!r}")

    def labels(self, message: dict[str, Any]) -> list[str]:
        return [b["text"] for b in self.keyboard(message)]

    def errors(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if "Не получилось" in m["text"]]


class TelegramPerson(Person):
    messenger = "telegram"

    @property
    def api(self) -> TelegramStandIn:
        return self.notify.standins.telegram

    def messages(self) -> list[dict[str, Any]]:
        return self.api.chat(self.chat_id)

    def _seen(self) -> tuple[int, int]:
        sent = sum(1 for m in self.api.received.items if m["chat_id"] == self.chat_id)
        edits = sum(1 for m in self.api.edited.items if m["chat_id"] == self.chat_id)
        return sent, edits

    def _answered(self) -> int:
        return len(self.api.answered.items)

    def keyboard(self, message: dict[str, Any]) -> list[dict[str, str]]:
        markup = self.api.messages[(self.chat_id, message["message_id"])].get("reply_markup")
        return [
            {"text": b["text"], "data": b.get("callback_data", ""), "url": b.get("url", "")}
            for row in (markup or {}).get("inline_keyboard", [])
            for b in row
        ]

    def _type(self, text: str) -> Any:
        return self.api.type_text(self.chat_id, text)

    def _start(self, payload: str | None) -> Any:
        return self.api.type_text(self.chat_id, f"/start {payload}" if payload else "/start")

    def _press(self, message: dict[str, Any], data: str) -> Any:
        return self.api.press(self.chat_id, message["message_id"], data)

    def _block(self) -> Any:
        return self.api.block(self.chat_id)

    def refuse_sends(self) -> None:
        self.api.blocked.add(self.chat_id)


class MaxPerson(Person):
    messenger = "max"

    @property
    def api(self) -> MaxStandIn:
        return self.notify.standins.max

    def messages(self) -> list[dict[str, Any]]:
        return [{"message_id": m.mid, "text": m.text} for m in self.api.sent_to(self.chat_id)]

    def _seen(self) -> tuple[int, int]:
        sent = sum(1 for m in self.api.received.items if m["chat_id"] == self.chat_id)
        edits = sum(1 for e in self.api.edits if e["chat_id"] == self.chat_id)
        return sent, edits

    def _answered(self) -> int:
        return len(self.api.answers)

    def keyboard(self, message: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"text": b["text"], "data": b.get("payload", ""), "url": b.get("url", "")}
            for row in self.api.keyboard(message["message_id"])
            for b in row
        ]

    def _type(self, text: str) -> Any:
        return self.api.send_text(self.chat_id, text)

    def _start(self, payload: str | None) -> Any:
        return self.api.start_bot(self.chat_id, payload)

    def _press(self, message: dict[str, Any], data: str) -> Any:
        # MAX hands the bot whatever payload a client sends: a forged one too.
        return self.api.press(message["message_id"], data, forged=True)

    def _block(self) -> Any:
        return self.api.block(self.chat_id)

    def refuse_sends(self) -> None:
        self.api.dialog(self.chat_id).blocked = True


PEOPLE: dict[str, type[Person]] = {"telegram": TelegramPerson, "max": MaxPerson}


@dataclass
class Messenger:
    """One messenger's bot running for the test, and its people."""

    name: str
    notify: Notify
    bot: TelegramBot | MaxBot
    core: FamilyBot

    def person(self, chat_id: int) -> Person:
        return PEOPLE[self.name](self.notify, chat_id)

    async def code_for(self, who: SignedIn | dict[str, str]) -> dict[str, str]:
        """A one-time link for this messenger, as the app asks for it."""
        headers = who if isinstance(who, dict) else who.headers
        made = await self.notify.world.client.post(
            "/api/v1/messaging/chat-links", json={"messenger": self.name}, headers=headers
        )
        assert made.status_code == 201, made.text
        return dict(made.json())

    async def linked_to(self, chat_id: int) -> int | None:
        """The person this messenger's chat is linked to now."""
        row = (
            await MessengerChat.select(MessengerChat.user_id)
            .where(
                (MessengerChat.messenger == self.name)
                & (MessengerChat.chat_id == chat_id)
                & MessengerChat.unlinked_at.is_null()
            )
            .first()
        )
        return row["user_id"] if row else None

    def too_many(self) -> int:
        """The sends this messenger's stand-in refused as past its limits (429)."""
        suite = self.notify.standins
        return suite.telegram.too_many if self.name == "telegram" else suite.max.too_many

    async def consented_abroad(self, *student_ids: int) -> None:
        """On a messenger abroad (Telegram), a legal representative's cross-border consent for
        these pupils is on file (as a school records a paper one), so that the bot may show
        their data there; on MAX nothing is needed and nothing is recorded."""
        if self.name not in ABROAD:
            return
        for student_id in student_ids:
            await Consent(
                subject_kind="student",
                subject_id=student_id,
                kind="cross_border",
                given_on=today_in(),
                document_ref="Согласие на бумаге",
            ).save()

    async def linked(self, who: SignedIn | dict[str, str], chat_id: int) -> Person:
        """A person whose chat is linked with a fresh short code (the menu is their last)."""
        person = self.person(chat_id)
        await person.type((await self.code_for(who))["code"], replies=2)
        return person


def reset_standins(notify: Notify) -> None:  # noqa: F811
    telegram = notify.standins.telegram
    for record in (telegram.edited, telegram.answered):
        record.clear()
    telegram.messages.clear()
    telegram.updates.clear()
    telegram.too_many = telegram.unchanged = 0
    # A top-up test leaves its payments at the YooKassa stand-in, which lives for the session.
    notify.standins.yookassa.payments.clear()
    # notify's fixture reset MAX's stand-in already (and Telegram's counts and windows).


def build_bot(name: str, notify: Notify) -> tuple[TelegramBot | MaxBot, FamilyBot]:  # noqa: F811
    """The messenger's bot as `parta bot` builds it, its top-ups going to the YooKassa
    stand-in."""
    world = notify.world
    settings = Settings.model_validate(
        {
            **{field: getattr(notify.settings, field) for field in Settings.model_fields},
            **notify.standins.payment_settings(notify.settings),
        }
    )
    core = FamilyBot(settings, world.redis, world.app.state.diary_weeks)
    maker: Callable[..., TelegramBot | MaxBot] = TelegramBot if name == "telegram" else MaxBot
    return maker(settings, world.redis, core), core


@pytest.fixture(params=MESSENGERS)
async def messenger(
    request: pytest.FixtureRequest,
    notify: Notify,  # noqa: F811
) -> AsyncIterator[Messenger]:
    reset_standins(notify)
    bot, core = build_bot(request.param, notify)
    await bot.start_polling()
    yield Messenger(request.param, notify, bot, core)
    await bot.stop()
