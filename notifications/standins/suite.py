"""All stand-ins together, with the settings that point Parta's worker at them, and a page that
lists what each received (`parta demo` serves it)."""

from __future__ import annotations

import asyncio
import html
import json
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from backend.settings import Settings
from notifications.standins.common import free_port
from notifications.standins.fcm import FcmStandIn
from notifications.standins.smpp import SmppStandIn
from notifications.standins.smsgw import SmsGatewayStandIn
from notifications.standins.smtp import SmtpStandIn
from notifications.standins.telegram import TelegramStandIn

BOT_TOKEN = "123456:PARTA-STAND-IN"


class StandIns:
    def __init__(self, directory: Path, *, telegram_enforce: bool = True) -> None:
        self.directory = directory
        self.fcm = FcmStandIn()
        self.telegram = TelegramStandIn(enforce=telegram_enforce)
        self.smpp = SmppStandIn()
        self.sms_gateway = SmsGatewayStandIn()
        self.smtp = SmtpStandIn()
        self.page_port = free_port()
        self._page: web.AppRunner | None = None

    def all(self) -> dict[str, Any]:
        return {
            "push": self.fcm,
            "telegram": self.telegram,
            "sms_smpp": self.smpp,
            "sms_http": self.sms_gateway,
            "email": self.smtp,
        }

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.credentials = self.fcm.write_credentials(self.directory / "fcm-service-account.json")
        for standin in self.all().values():
            await standin.start()

    def start_in_thread(self) -> None:
        """Run the stand-ins on an event loop of their own, in a thread, like the remote
        services they stand for: a client that blocks (google-auth fetches its token
        synchronously) must not block the server it is waiting for."""
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="parta-standins", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("stand-ins did not start")

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the stand-ins' loop (from another thread) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def stop_thread(self) -> None:
        self.call(self.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def stop(self) -> None:
        if self._page:
            await self._page.cleanup()
        for standin in self.all().values():
            await standin.stop()

    def settings(self, base: Settings, *, sms: str = "smpp") -> dict[str, Any]:
        """Settings fields that point the worker at the stand-ins."""
        return {
            "fcm_credentials_file": str(self.credentials),
            "fcm_project_id": self.fcm.project_id,
            "fcm_url": self.fcm.base_url,
            "telegram_bot_token": SecretStr(BOT_TOKEN),
            "telegram_api_url": self.telegram.base_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.smtp.port,
            "sms_smpp_host": "127.0.0.1" if sms == "smpp" else "",
            "sms_smpp_port": self.smpp.port,
            "sms_smpp_system_id": "parta",
            "sms_smpp_password": SecretStr("secret"),
            "sms_http_url": self.sms_gateway.url if sms == "http" else "",
            "sms_http_token": SecretStr(self.sms_gateway.token),
            "sms_http_provider": sms,
        }

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        return {name: list(s.received.items) for name, s in self.all().items()}

    async def serve_page(self) -> str:
        """An HTML page (and `/received.json`) listing what each stand-in received."""

        async def page(_: web.Request) -> web.Response:
            parts = ["<h1>Что получили заглушки внешних сервисов</h1>"]
            for name, items in self.summary().items():
                parts.append(f"<h2>{html.escape(name)}: {len(items)}</h2><ol>")
                for item in items[-50:][::-1]:
                    shown = {k: v for k, v in item.items() if k not in ("html", "raw_subject")}
                    shown_json = json.dumps(shown, ensure_ascii=False, default=str)
                    parts.append(f"<li><code>{html.escape(shown_json)}</code></li>")
                parts.append("</ol>")
            body = (
                '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
                '<meta http-equiv="refresh" content="3"><title>Доставки</title></head><body>'
                + "".join(parts)
                + "</body></html>"
            )
            return web.Response(text=body, content_type="text/html")

        async def data(_: web.Request) -> web.Response:
            return web.json_response(
                self.summary(), dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str)
            )

        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_get("/received.json", data)
        self._page = web.AppRunner(app, access_log=None)
        await self._page.setup()
        await web.TCPSite(self._page, "127.0.0.1", self.page_port).start()
        return f"http://127.0.0.1:{self.page_port}/"
