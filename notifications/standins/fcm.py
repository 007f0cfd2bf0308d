"""A stand-in for FCM HTTP v1 and Google's OAuth token endpoint.

`POST /token` answers a bearer token for the service account's signed JWT;
`POST /v1/projects/{project}/messages:send` takes a message like FCM does, answers 404
UNREGISTERED for tokens marked unregistered, and 429 with Retry-After when told to.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from notifications.standins.common import Received, SlidingWindow, free_port


def _error(status: int, state: str, message: str, code: str | None) -> web.Response:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
        if code
        else []
    )
    body = {"error": {"code": status, "message": message, "status": state, "details": details}}
    return web.json_response(body, status=status)


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
        self._access_token = secrets.token_urlsafe(16)
        self._runner: web.AppRunner | None = None

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
        body: dict[str, Any] = await request.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        message = body.get("message") or {}
        token = message.get("fid") or message.get("token", "")
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
        return web.json_response({"name": name})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
