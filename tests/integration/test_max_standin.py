"""The MAX Bot API stand-in speaks MAX's published formats: maxapi's real client (the library
the channel and the bot use) reads its answers, polls its updates with a marker, edits,
answers buttons and subscribes webhooks; errors come as MAX sends them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from maxapi import Bot
from maxapi.exceptions.max import InvalidToken, MaxApiError
from maxapi.types.attachments.buttons import CallbackButton
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from notifications.max_client import error_code, max_bot
from notifications.standins.max import MaxStandIn

TOKEN = "test-max-token"


@pytest.fixture
async def max_api() -> AsyncIterator[MaxStandIn]:
    standin = MaxStandIn(TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def bot(max_api: MaxStandIn) -> AsyncIterator[Bot]:
    client = max_bot(TOKEN, max_api.base_url)
    yield client
    await client.close_session()


async def test_a_wrong_token_is_refused(max_api: MaxStandIn) -> None:
    wrong = max_bot("not-the-token", max_api.base_url)
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    await wrong.close_session()


async def test_a_keyboard_round_trip_with_an_edit(max_api: MaxStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "parta_bot"

    await max_api.start_bot(501, payload="code-123456")
    polled = await bot.get_updates(timeout=1)
    assert [u["update_type"] for u in polled["updates"]] == ["bot_started"]
    assert polled["updates"][0]["payload"] == "code-123456"
    marker = polled["marker"]

    keyboard = InlineKeyboardBuilder()
    keyboard.row(
        CallbackButton(text="← Неделя", payload="week:-1"),
        CallbackButton(text="Неделя →", payload="week:1"),
    )
    sent = await bot.send_message(chat_id=501, text="Дневник", attachments=[keyboard.as_markup()])
    assert sent is not None and sent.message.body is not None
    mid = sent.message.body.mid
    assert max_api.received.items[0]["buttons"] == [["← Неделя", "Неделя →"]]

    callback_id = await max_api.press(mid, "week:1")
    polled = await bot.get_updates(marker=marker, timeout=1)
    (pressed,) = polled["updates"]
    assert pressed["update_type"] == "message_callback"
    assert pressed["callback"]["payload"] == "week:1"
    assert pressed["message"]["body"]["mid"] == mid
    # The marker committed the first update: it does not come again.
    again = await bot.get_updates(marker=polled["marker"], timeout=0)
    assert again["updates"] == []

    await bot.send_callback(callback_id=callback_id, notification="Следующая неделя")
    await bot.edit_message(message_id=mid, text="Дневник, неделя 2")
    assert max_api.messages[mid].text == "Дневник, неделя 2"
    # maxapi sends `attachments: []` with an edit, which in MAX removes them all: an edit
    # must carry its keyboard again (the bot's adapter does).
    assert max_api.keyboard(mid) == []
    assert [e["message_id"] for e in max_api.edits] == [mid]
    assert max_api.answers[0]["notification"] == "Следующая неделя"


async def test_a_blocked_dialog_and_too_many_requests(max_api: MaxStandIn, bot: Bot) -> None:
    max_api.dialog(601)
    max_api.dialog(602)
    await max_api.block(601)
    with pytest.raises(MaxApiError) as refused:
        await bot.send_message(chat_id=601, text="Отметка")
    assert refused.value.code == 403 and error_code(refused.value) == "chat.denied"

    await bot.send_message(chat_id=602, text="Первое")
    with pytest.raises(MaxApiError) as limited:  # one a second per chat
        await bot.send_message(chat_id=602, text="Второе")
    assert limited.value.code == 429 and error_code(limited.value) == "too.many.requests"
    assert [m["text"] for m in max_api.received.items] == ["Первое"]

    with pytest.raises(MaxApiError) as unknown:
        await bot.send_message(chat_id=999, text="Кому?")
    assert unknown.value.code == 404


async def test_a_subscription_sends_updates_with_its_secret(max_api: MaxStandIn, bot: Bot) -> None:
    from aiohttp import web

    from notifications.standins.common import free_port

    seen: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Max-Bot-Api-Secret"), await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/max", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/max"
        with pytest.warns(UserWarning):  # maxapi warns that the URL is not https
            await bot.subscribe_webhook(url=url, secret="s3cret-value")
        assert [s.url for s in (await bot.get_subscriptions()).subscriptions] == [url]
        # Long polling is not allowed while subscribed (MAX answers 405).
        with pytest.raises(MaxApiError) as polling:
            await bot.get_updates(timeout=0)
        assert polling.value.code == 405
        await max_api.send_text(701, "/start")
        import asyncio

        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        secret, update = seen[0]
        assert secret == "s3cret-value"
        assert update["update_type"] == "message_created"
        assert update["message"]["body"]["text"] == "/start"
        await bot.unsubscribe_webhook(url=url)
        assert max_api.subscriptions == []
    finally:
        await runner.cleanup()
