"""All stand-ins together, with the settings that point Parta's worker at them and a summary of
what each received (`parta demo` shows it at /demo/deliveries: notifications/embedded.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from backend.settings import Settings
from notifications.standins.fcm import FcmStandIn
from notifications.standins.max import MaxStandIn
from notifications.standins.smpp import SmppStandIn
from notifications.standins.smsgw import SmsGatewayStandIn
from notifications.standins.smtp import SmtpStandIn
from notifications.standins.telegram import TelegramStandIn
from notifications.standins.yookassa import YooKassaStandIn

BOT_TOKEN = "123456:PARTA-STAND-IN"
MAX_BOT_TOKEN = "parta-max-stand-in-token"


class StandIns:
    # The suite that runs now in this process: the demo's other companions (the family bot)
    # talk to the same stand-ins as the worker.
    running: ClassVar[StandIns | None] = None

    def __init__(self, directory: Path, *, telegram_enforce: bool = True) -> None:
        self.directory = directory
        self.fcm = FcmStandIn()
        self.telegram = TelegramStandIn(enforce=telegram_enforce)
        self.max = MaxStandIn(MAX_BOT_TOKEN, enforce=telegram_enforce)
        self.smpp = SmppStandIn()
        self.sms_gateway = SmsGatewayStandIn()
        self.smtp = SmtpStandIn()
        self.yookassa = YooKassaStandIn()

    def all(self) -> dict[str, Any]:
        return {
            "push": self.fcm,
            "telegram": self.telegram,
            "max": self.max,
            "sms_smpp": self.smpp,
            "sms_http": self.sms_gateway,
            "email": self.smtp,
            "yookassa": self.yookassa,
        }

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for standin in self.all().values():
            await standin.start()
        # After the start: a stand-in whose port was taken meanwhile listens on another one,
        # and the credentials name the FCM stand-in's token address.
        self.credentials = self.fcm.write_credentials(self.directory / "fcm-service-account.json")
        StandIns.running = self

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
        if StandIns.running is self:
            StandIns.running = None
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
            "max_bot_token": SecretStr(MAX_BOT_TOKEN),
            "max_api_url": self.max.base_url,
            "max_bot_username": self.max.username,
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

    def payment_settings(self, base: Settings) -> dict[str, Any]:
        """Settings fields that point the API's payments at the YooKassa stand-in, whose
        notifications come from this machine (127.0.0.1), not from YooKassa's ranges."""
        return {
            "yookassa_shop_id": self.yookassa.shop_id,
            "yookassa_secret_key": SecretStr(self.yookassa.secret_key),
            "yookassa_api_url": self.yookassa.base_url,
            "yookassa_notification_networks": [
                *base.yookassa_notification_networks,
                "127.0.0.1/32",
                "::1/128",
            ],
        }

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        return {name: list(s.received.items) for name, s in self.all().items()}
