"""The family app's reads and actions (`mobile.family.data`) against the real backend: the bot's
one-time code the settings screen asks for links the person's chat (Telegram, MAX) when the bot
redeems it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.errors import ValidationFailed
from backend.messaging import links
from mobile.common.api import ApiClient, MemoryTokens
from mobile.family.cache import Cache
from mobile.family.data import FamilyData
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world
from tests.integration.mobile.test_client import transport
from tests.support import TEST_PASSWORD


async def test_the_settings_code_links_the_guardians_chat(world: Backend, tmp_path: Path) -> None:
    jw = await make_journal_world(world)
    guardian = await guardian_of(world, jw.pupils[0])
    api = ApiClient("http://parta.test", MemoryTokens(), transport=transport(world))
    await api.login(guardian.login, TEST_PASSWORD)
    data = FamilyData(api, Cache(tmp_path / "family.sqlite"))

    link = await data.chat_link("telegram")

    assert link.messenger == "telegram" and len(link.code) == 8
    chat_id = 700_001
    owner = await links.redeem_code(world.redis, world.settings, "telegram", chat_id, link.code)
    assert owner == guardian.user_id
    # spent: the deep link's payload of the same code links nothing more
    with pytest.raises(ValidationFailed):
        await links.redeem_code(world.redis, world.settings, "telegram", chat_id + 1, link.payload)
    # MAX the same way, by the deep link's payload this time
    link = await data.chat_link("max")
    owner = await links.redeem_code(world.redis, world.settings, "max", chat_id, link.payload)
    assert link.messenger == "max" and owner == guardian.user_id
    await api.aclose()
