"""A stand-in for an HTTP SMS gateway: `POST /send` with JSON `{to, text, sender, reference}`."""

from __future__ import annotations

from aiohttp import web

from notifications.standins.common import Received, free_port, on_a_free_port
from notifications.templates import sms_parts


class SmsGatewayStandIn:
    def __init__(self, token: str = "gateway-token") -> None:  # noqa: S107 - a stand-in
        self.port = free_port()
        self.token = token
        self.received = Received()
        self.answer_429: list[int] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if self.answer_429:
            retry = self.answer_429.pop(0)
            self.received.reject(to=body.get("to"), status=429)
            return web.json_response(
                {"error": "rate limited"}, status=429, headers={"Retry-After": str(retry)}
            )
        text = str(body.get("text", ""))
        n = len(self.received.items) + 1
        parts = sms_parts(text)
        self.received.add(
            id=f"gw{n}", to=body.get("to"), text=text, parts=parts, reference=body.get("reference")
        )
        return web.json_response({"id": f"gw{n}", "parts": parts})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self.send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        runner = self._runner
        await on_a_free_port(self, lambda: web.TCPSite(runner, "127.0.0.1", self.port).start())

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
