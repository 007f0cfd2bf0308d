"""HTTP endpoints of messaging: /api/v1/messaging (devices, preferences, inbox and its live
stream for the apps; announcements, delivery statistics and dead letters for schools)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import Body, FromQuery, Parameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.core.bounds import PathId, QueryId
from backend.core.errors import ValidationFailed
from backend.core.http import PUBLIC, ActorDep, Limit, Offset, requires, signed_in
from backend.core.rights import Permission
from backend.messaging import links, services
from backend.messaging import schemas as s
from backend.messaging.deliveries import INBOX_CHANNEL

NOTIFY = [requires(Permission.NOTIFY_SCHOOL)]


def _as(kind: type[Any], rows: list[dict[str, Any]]) -> list[Any]:
    return [msgspec.convert(r, kind, from_attributes=False, strict=False) for r in rows]


class MessagingController(Controller):
    path = "/api/v1/messaging"
    tags = ["Уведомления"]

    # ---- devices -----------------------------------------------------------------------------

    @post(
        "/devices",
        guards=[signed_in],
        status_code=HTTP_201_CREATED,
        summary="Зарегистрировать устройство для push-уведомлений",
    )
    async def register_device(
        self, actor: ActorDep, data: Annotated[s.DeviceCreate, Body()]
    ) -> s.Device:
        row = await services.register_device(actor, data.token, data.platform)
        return msgspec.convert(row, s.Device)

    @get("/devices", guards=[signed_in], summary="Мои устройства")
    async def list_devices(self, actor: ActorDep) -> list[s.Device]:
        return _as(s.Device, await services.list_devices(actor))

    @delete("/devices/{device_id:int}", guards=[signed_in], summary="Отключить устройство")
    async def unregister_device(self, actor: ActorDep, device_id: PathId) -> None:
        await services.unregister_device(actor, device_id)

    # ---- linked chats ------------------------------------------------------------------------

    @post(
        "/chat-links",
        guards=[signed_in],
        status_code=HTTP_201_CREATED,
        summary="Получить одноразовый код для привязки чата с ботом (Telegram)",
        description=(
            "Родитель, доверенное лицо или ученик получает ссылку на бота и короткий код. "
            "Ссылка и код действуют несколько минут и только один раз; пароль боту не нужен."
        ),
    )
    async def chat_link(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        data: Annotated[s.ChatLinkIn, Body()],
    ) -> s.ChatLink:
        row = await links.issue_code(
            actor, request.app.state.redis, request.app.state.settings, data.messenger
        )
        return msgspec.convert(row, s.ChatLink)

    # ---- preferences -------------------------------------------------------------------------

    @post(
        "/push-receipts",
        opt=PUBLIC,
        status_code=HTTP_204_NO_CONTENT,
        summary="Push-уведомление получено телефоном",
        description=(
            "Приложение, получив push, сообщает его delivery_id и токен своего устройства. "
            "Вход не нужен: токен знают только телефон, FCM и «Парта». Доставка отмечается "
            "доставленной (в течение секунды) и после сбоя сервера не отправляется повторно."
        ),
    )
    async def push_receipt(
        self, request: Request[Any, Any, Any], data: Annotated[s.PushReceiptIn, Body()]
    ) -> None:
        await services.confirm_push(request.app.state.redis, data.delivery_id, data.token)

    @get("/preferences", guards=[signed_in], summary="Мои настройки уведомлений")
    async def list_preferences(self, actor: ActorDep) -> list[s.Preference]:
        return _as(s.Preference, await services.list_preferences(actor))

    @put(
        "/preferences",
        guards=[signed_in],
        status_code=HTTP_200_OK,
        summary="Задать настройку уведомлений (вид события, ребёнок)",
    )
    async def set_preference(
        self, actor: ActorDep, data: Annotated[s.PreferenceIn, Body()]
    ) -> s.Preference:
        row = await services.set_preference(actor, msgspec.structs.asdict(data))
        return msgspec.convert(row, s.Preference)

    # ---- inbox -------------------------------------------------------------------------------

    @get("/inbox", guards=[signed_in], summary="Мои уведомления")
    async def inbox(
        self,
        actor: ActorDep,
        student_id: QueryId = None,
        unread: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> s.InboxPage:
        rows, total, unread_count = await services.inbox(
            actor, student_id=student_id, unread=unread, limit=limit, offset=offset
        )
        return s.InboxPage(_as(s.InboxItem, rows), total, unread_count, limit, offset)

    @post(
        "/inbox/read",
        guards=[signed_in],
        status_code=HTTP_200_OK,
        summary="Отметить уведомления прочитанными (или непрочитанными)",
    )
    async def mark_read(self, actor: ActorDep, data: Annotated[s.ReadIn, Body()]) -> s.ReadOut:
        if (data.ids is None) == (not data.all):
            raise ValidationFailed(key="notify.error.read_which")
        return s.ReadOut(await services.mark_read(actor, None if data.all else data.ids, data.read))

    @get(
        "/inbox/stream",
        guards=[signed_in],
        summary="Новые уведомления по мере появления (SSE)",
        media_type="text/event-stream",  # what the document declares (schemathesis checks it)
    )
    async def stream(
        self,
        actor: ActorDep,
        request: Request[Any, Any, Any],
        seconds: Annotated[int, Parameter(ge=0, le=300)] = 60,
    ) -> ServerSentEvent:
        """Server-sent events: first `hello` with the unread count, then one `notification`
        per new item. The stream ends after `seconds`; EventSource reconnects by itself."""
        redis = request.app.state.redis
        _, _, unread = await services.inbox(actor, student_id=None, unread=True, limit=1, offset=0)

        async def events() -> AsyncGenerator[ServerSentEventMessage, None]:
            yield ServerSentEventMessage(
                data=json.dumps({"unread": unread}), event="hello", retry=3000
            )
            if seconds == 0:
                return
            pubsub = redis.pubsub()
            await pubsub.subscribe(INBOX_CHANNEL.format(actor.user_id))
            deadline = time.monotonic() + seconds
            try:
                while time.monotonic() < deadline:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        await asyncio.sleep(0.05)
                        continue
                    data = message["data"]
                    yield ServerSentEventMessage(
                        data=data.decode() if isinstance(data, bytes) else str(data),
                        event="notification",
                    )
            finally:
                await pubsub.unsubscribe()
                await pubsub.aclose()

        return ServerSentEvent(events())

    # ---- schools -----------------------------------------------------------------------------

    @post(
        "/announcements",
        guards=NOTIFY,
        status_code=HTTP_201_CREATED,
        summary="Объявление всем семьям школы или одного класса",
    )
    async def announce(
        self, actor: ActorDep, data: Annotated[s.AnnouncementIn, Body()]
    ) -> s.AnnouncementOut:
        event_id = await services.announce(
            actor, data.school_id, data.title, data.text, data.urgent, data.class_id
        )
        return s.AnnouncementOut(event_id)

    @get(
        "/schools/{school_id:int}/delivery-stats",
        guards=NOTIFY,
        summary="Статистика доставок школы по каналам и статусам",
    )
    async def statistics(
        self, actor: ActorDep, school_id: PathId, since: FromQuery[datetime | None] = None
    ) -> list[s.DeliveryStat]:
        return _as(s.DeliveryStat, await services.school_statistics(actor, school_id, since))

    @get(
        "/schools/{school_id:int}/dead-letters",
        guards=NOTIFY,
        summary="Недоставленные уведомления школы",
    )
    async def dead_letters(
        self, actor: ActorDep, school_id: PathId, limit: Limit = 50, offset: Offset = 0
    ) -> s.DeadLetterPage:
        rows, total = await services.dead_letters(actor, school_id, limit, offset)
        return s.DeadLetterPage(_as(s.DeadLetter, rows), total, limit, offset)

    @post(
        "/deliveries/{delivery_id:int}/replay",
        guards=NOTIFY,
        status_code=HTTP_200_OK,
        summary="Повторить недоставленное уведомление",
    )
    async def replay(self, actor: ActorDep, delivery_id: PathId) -> s.ReadOut:
        await services.replay(actor, delivery_id)
        return s.ReadOut(1)
