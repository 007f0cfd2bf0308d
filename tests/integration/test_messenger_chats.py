"""Chats linked by the family bot, one table for Telegram and MAX: a chat is unique per
messenger, a person has one chat per messenger, /stop and a blocked bot unlink it."""

from __future__ import annotations

import pytest

from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.errors import ValidationFailed
from backend.messaging import deliveries
from backend.messaging import services as messaging
from backend.messaging.tables import MessengerChat
from tests.conftest import Backend
from tests.support import make_user


async def test_the_same_number_is_two_chats_in_two_messengers(world: Backend) -> None:
    anna, _ = await make_user(world)
    boris, _ = await make_user(world)
    await messaging.link_chat(Actor.system(), anna, "telegram", 777)
    await messaging.link_chat(Actor.system(), boris, "max", 777)
    assert await messaging.chat_owner("telegram", 777) == anna
    assert await messaging.chat_owner("max", 777) == boris
    assert await deliveries.messenger_chats("max", [anna, boris]) == {boris: "777"}
    assert await deliveries.messenger_chats("telegram", [anna, boris]) == {anna: "777"}


async def test_a_person_has_one_chat_per_messenger(world: Backend) -> None:
    anna, _ = await make_user(world)
    await messaging.link_chat(Actor.system(), anna, "max", 1)
    await messaging.link_chat(Actor.system(), anna, "telegram", 5)
    await messaging.link_chat(Actor.system(), anna, "max", 2)  # a new phone
    assert await messaging.chat_owner("max", 1) is None
    assert await messaging.chat_owner("max", 2) == anna
    assert await messaging.chat_owner("telegram", 5) == anna  # the other messenger stays
    old = await MessengerChat.select().where(MessengerChat.chat_id == 1).first()
    assert old["unlinked_reason"] == "relinked"


async def test_stop_and_a_blocked_bot_unlink_and_are_audited(world: Backend) -> None:
    anna, _ = await make_user(world)
    boris, _ = await make_user(world)
    await messaging.link_chat(Actor.system(), anna, "max", 10)
    await messaging.link_chat(Actor.system(), boris, "max", 11)
    await messaging.link_chat(Actor.system(), boris, "telegram", 11)
    assert await messaging.unlink_chat(Actor.system(), "max", 10, "stopped") == anna
    assert await messaging.unlink_chat(Actor.system(), "max", 10, "stopped") is None
    assert await messaging.chat_owner("max", 10) is None
    # The worker switches off a MAX dialog that blocked the bot; the Telegram chat with the
    # same number is another chat and stays.
    await deliveries.switch_off("max", ["11"])
    assert await messaging.chat_owner("max", 11) is None
    assert await messaging.chat_owner("telegram", 11) == boris
    blocked = await MessengerChat.select().where(
        (MessengerChat.messenger == "max") & (MessengerChat.chat_id == 11)
    )
    assert [r["unlinked_reason"] for r in blocked] == ["blocked"]
    audited = await AuditEntry.select(AuditEntry.action, AuditEntry.object_type).where(
        AuditEntry.object_type == "max_chat"
    )
    assert sorted(r["action"] for r in audited) == ["create", "create", "delete"]


async def test_an_unknown_messenger_is_refused(world: Backend) -> None:
    anna, _ = await make_user(world)
    with pytest.raises(ValidationFailed):
        await messaging.link_chat(Actor.system(), anna, "icq", 1)
    assert await MessengerChat.count() == 0
