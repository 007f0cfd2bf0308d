"""The notifications companion of the embedded mode (`parta demo`).

It runs the local stand-ins for the outside services (FCM, the Telegram and MAX Bot APIs, an
SMPP centre, an HTTP SMS gateway, an SMTP server, YooKassa's API and payment page) on a thread
of their own, points a worker (and the API's payments) at them and runs that worker on the
API's event loop, sharing its in-process Redis. The page
`/demo/deliveries` lists what each stand-in received, so a newcomer can watch a mark or an
announcement arrive. Found by `backend.core.embedded` through the `parta.embedded` entry point.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from pathlib import Path
from typing import Any

from litestar import MediaType, Response, get
from redis.asyncio import Redis

from backend.core.http import PUBLIC
from backend.i18n import t
from backend.meals.payments import NOTIFICATIONS_PATH as PAYMENT_NOTIFICATIONS_PATH
from backend.messaging.services import PUSH_RECEIPTS_PATH
from backend.settings import Settings
from notifications.standins.suite import StandIns
from notifications.worker import NotifyWorker

PAGE = "/demo/deliveries"
SHOWN = 50  # the latest messages per stand-in on the page


class EmbeddedNotifications:
    def __init__(self, settings: Settings, redis: Redis, directory: Path) -> None:
        self.settings = settings
        self.redis = redis
        self.standins = StandIns(directory / "standins")
        self.worker: NotifyWorker | None = None

    async def start(self) -> None:
        # Starting the stand-ins blocks until their servers listen: not on the API's loop.
        await asyncio.to_thread(self.standins.start_in_thread)
        # The FCM stand-in plays the phones too: their app's receipts go to this API.
        wildcard = self.settings.host in ("0.0.0.0", "::")  # noqa: S104 (a comparison)
        host = "127.0.0.1" if wildcard else self.settings.host
        self.standins.fcm.receipts_url = f"http://{host}:{self.settings.port}{PUSH_RECEIPTS_PATH}"
        # YooKassa's stand-in notifies this API of the payments its page "pays".
        api = f"http://{host}:{self.settings.port}"
        self.standins.yookassa.notify_url = api + PAYMENT_NOTIFICATIONS_PATH
        fields = {name: getattr(self.settings, name) for name in Settings.model_fields}
        worker_settings = Settings.model_validate(
            {
                **fields,
                **self.standins.settings(self.settings),
                # Sends to the local stand-ins take milliseconds: Ctrl-C need not wait long.
                "notify_shutdown_grace_seconds": 2,
            }
        )
        # SAQ warns at every stop that its timers "did not finish": noise on the newcomer's
        # terminal after Ctrl-C.
        logging.getLogger("saq").setLevel(logging.ERROR)
        self.worker = NotifyWorker(worker_settings, self.redis)
        await self.worker.start()

    def settings_overrides(self) -> dict[str, Any]:
        """The API's payments go to the YooKassa stand-in (its port is chosen already)."""
        return self.standins.payment_settings(self.settings)

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await asyncio.to_thread(self.standins.stop_thread)

    def received(self) -> dict[str, list[dict[str, Any]]]:
        return self.standins.summary()

    def route_handlers(self) -> list[Any]:
        companion = self

        @get(PAGE, opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
        async def page() -> Response[str]:
            return Response(render_page(companion.received()), media_type=MediaType.HTML)

        @get(f"{PAGE}.json", opt=PUBLIC, include_in_schema=False)
        async def data() -> dict[str, list[dict[str, Any]]]:
            return json.loads(json.dumps(companion.received(), ensure_ascii=False, default=str))

        return [page, data]

    def describe(self, url: str) -> list[str]:
        return [
            t("cli.demo_deliveries", url=f"{url}{PAGE}"),
            t("cli.demo_payments", url=url),
        ]


def render_page(received: dict[str, list[dict[str, Any]]]) -> str:
    parts = [f"<h1>{html.escape(t('notify.demo.page_title'))}</h1>"]
    parts.append(f"<p>{html.escape(t('notify.demo.page_hint'))}</p>")
    for name, items in received.items():
        label = t(f"notify.demo.standin.{name}")
        parts.append(f"<h2>{html.escape(label)}: {len(items)}</h2><ol reversed>")
        for item in items[-SHOWN:][::-1]:
            shown = {k: v for k, v in item.items() if k not in ("html", "raw_subject")}
            text = json.dumps(shown, ensure_ascii=False, default=str)
            parts.append(f"<li><code>{html.escape(text)}</code></li>")
        parts.append("</ol>")
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="3">'
        f"<title>{html.escape(t('notify.demo.page_title'))}</title></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
