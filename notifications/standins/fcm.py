"""A stand-in for FCM HTTP v1 and Google's OAuth token endpoint.

`POST /token` answers a bearer token for the service account's signed JWT;
`POST /v1/projects/{project}/messages:send` takes a message like FCM does, answers 404
UNREGISTERED for tokens marked unregistered, and 429 with Retry-After when told to.

With `receipts_url` set it also plays the phones: for each push it accepted that names its
delivery, it posts the receipt the Parta app posts on receiving one (the delivery's id and the
device token) to that URL, as a phone would a moment after FCM handed it the message.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from notifications.standins.common import Received, SlidingWindow, free_port, on_a_free_port


def _error(status: int, state: str, message: str, code: str | None) -> web.Response:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
        if code
        else []
    )
    body = {"error": {"code": status, "message": message, "status": state, "details": details}}
    return web.json_response(body, status=status)


async def post_receipt(
    session: aiohttp.ClientSession, url: str, delivery_id: int, token: str
) -> int:
    """The Parta app's receipt for a push, as a phone posts it (three tries); the API's
    HTTP status, 0 when no answer came."""
    status = 0
    for attempt in range(3):
        try:
            body = {"delivery_id": delivery_id, "token": token}
            async with session.post(url, json=body) as response:
                status = response.status
                if status < 500:
                    break
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.5 * (attempt + 1))
    return status


class FcmStandIn:
    def __init__(self, project_id: str = "parta-demo", rate: float | None = None) -> None:
        self.project_id = project_id
        self.port = free_port()
        self.received = Received()
        self.unregistered: set[str] = set()
        self.tokens_issued = 0
        self.answer_429: list[float] = []  # Retry-After values to answer next, one per request
        self.window = SlidingWindow(rate) if rate else None
        self.delay = 0.0  # seconds each answer takes (a slow provider: sends stay in flight)
        self.unavailable = False  # answer 503 UNAVAILABLE to every send (an outage)
        # The phones' receipts: where to post them ("" = phones without the app's receipts)
        # and what each post got back (delivery id, HTTP status; 0 when it never got through).
        self.receipts_url = ""
        self.receipts: list[tuple[int, int]] = []
        # Or phones elsewhere (a benchmark's own process): told of each push instead.
        self.on_push: Callable[[int, str], None] | None = None
        self._access_token = secrets.token_urlsafe(16)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._phones: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_credentials(self, path: Path) -> Path:
        """A service-account file with a fresh RSA key whose token_uri points here."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        data = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": secrets.token_hex(8),
            "private_key": pem,
            "client_email": f"parta@{self.project_id}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{self.base_url}/token",
        }
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": self._access_token, "expires_in": 3600, "token_type": "Bearer"}
        )

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self._access_token}":
            return _error(401, "UNAUTHENTICATED", "Request had invalid credentials.", None)
        if request.match_info["project"] != self.project_id:
            return _error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        try:
            body: dict[str, Any] = await request.json()
        except ConnectionResetError:
            # The sender died mid-request (a worker killed by SIGKILL): no message arrived.
            return web.Response(status=400)
        if self.delay:
            await asyncio.sleep(self.delay)
        message = body.get("message") or {}
        token = message.get("fid") or message.get("token", "")
        if self.unavailable:
            self.received.reject(token=token, status=503)
            return _error(503, "UNAVAILABLE", "The service is currently unavailable.", None)
        if self.answer_429:
            retry = self.answer_429.pop(0)
            self.received.reject(token=token, status=429)
            response = _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED")
            response.headers["Retry-After"] = str(int(retry))
            return response
        if self.window is not None:
            wait = self.window.hit("project")
            if wait:
                self.received.reject(token=token, status=429)
                response = _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED")
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        if token in self.unregistered:
            self.received.reject(token=token, status=404)
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        n = len(self.received.items) + 1
        name = f"projects/{self.project_id}/messages/{n}"
        notification = message.get("notification") or {}
        self.received.add(
            name=name,
            token=token,
            title=notification.get("title", ""),
            body=notification.get("body", ""),
            data=message.get("data") or {},
            tag=((message.get("android") or {}).get("notification") or {}).get("tag", ""),
        )
        delivery = (message.get("data") or {}).get("delivery_id", "")
        if self.on_push is not None and delivery.isdigit():
            self.on_push(int(delivery), token)
        elif self.receipts_url and delivery.isdigit():
            task = asyncio.create_task(self._phone_receipt(int(delivery), token))
            self._phones.add(task)
            task.add_done_callback(self._phones.discard)
        return web.json_response({"name": name})

    async def _phone_receipt(self, delivery_id: int, token: str) -> None:
        """What the app does on the phone that got a push: tell Parta, trying a few times."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        status = await post_receipt(self._session, self.receipts_url, delivery_id, token)
        self.receipts.append((delivery_id, status))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        runner = self._runner
        await on_a_free_port(self, lambda: web.TCPSite(runner, "127.0.0.1", self.port).start())

    async def stop(self) -> None:
        if self._phones:
            await asyncio.wait(set(self._phones), timeout=5)
        if self._session is not None:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()
