"""The apps' HTTP client of the Parta API: typed answers, token refresh, ETag caching, retries.

One `ApiClient` per signed-in person. Every call goes through `request`, which
- refreshes the access token shortly before it expires, and once more when the server refuses
  it (expired or invalid); the refresh token rotates, so the new pair is saved at once;
- answers a GET from the ETag cache when the server says 304 Not Modified;
- retries with exponential backoff (and jitter) when the network fails or the server is busy
  (502/503/504, 429 with Retry-After), for GETs and for calls the caller marks idempotent
  (the journal's sync is: every operation carries its client id);
- raises `Unreachable` when the server cannot be reached, `ApiError` with the server's Russian
  message otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

from mobile.common.i18n import t
from mobile.common.models import Me, TokenPair

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Refresh this long before the access token's end, so a request never leaves with a token that
# expires on the way.
REFRESH_MARGIN_S = 60.0


class ApiError(Exception):
    """The server refused (status, machine code, Russian message) or could not be reached."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, retry_after: float = 0
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after


class Unreachable(ApiError):
    """No answer: no network, the server down, a timeout."""

    def __init__(self, cause: str = "", sent: bool = True) -> None:
        super().__init__(0, "unreachable", t("error.unreachable"), details=cause)
        # False only when the request surely never left (no connection was made): then the
        # server cannot have acted on it.
        self.sent = sent


class SignedOut(ApiError):
    """The session ended (refresh refused): sign in again."""


@dataclass
class Session:
    """The tokens of a signed-in person and when the access token expires (client clock)."""

    access_token: str
    refresh_token: str
    access_expires_at: float
    user_id: int


class TokenStore(Protocol):
    def load(self) -> Session | None: ...
    def save(self, session: Session) -> None: ...
    def clear(self) -> None: ...


class MemoryTokens:
    def __init__(self) -> None:
        self.session: Session | None = None

    def load(self) -> Session | None:
        return self.session

    def save(self, session: Session) -> None:
        self.session = session

    def clear(self) -> None:
        self.session = None


class FileTokens:
    """Tokens in a file only its owner may read (the app's private directory on Android)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Session | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Session(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, session: Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(session.__dict__, f)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class EtagCache(Protocol):
    def get(self, key: str) -> tuple[str, bytes] | None: ...
    def put(self, key: str, etag: str, body: bytes) -> None: ...


class MemoryEtags:
    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.entries: dict[str, tuple[str, bytes]] = {}

    def get(self, key: str) -> tuple[str, bytes] | None:
        return self.entries.get(key)

    def put(self, key: str, etag: str, body: bytes) -> None:
        self.entries.pop(key, None)
        self.entries[key] = (etag, body)
        while len(self.entries) > self.limit:
            self.entries.pop(next(iter(self.entries)))


@dataclass
class Stats:
    """What the client did, for the sync state shown to people and for tests and figures."""

    requests: int = 0
    retries: int = 0
    refreshes: int = 0
    not_modified: int = 0


class ApiClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenStore | None = None,
        *,
        etags: EtagCache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens or MemoryTokens()
        self.etags = etags or MemoryEtags()
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self.stats = Stats()
        self._refresh_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "Accept-Language": "ru"},
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    @base_url.setter
    def base_url(self, value: str) -> None:
        """Another server (the sign-in screen's address field)."""
        self._http.base_url = httpx.URL(value.rstrip("/"))

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ session

    @property
    def signed_in(self) -> bool:
        return self.tokens.load() is not None

    def _keep(self, pair: TokenPair) -> Session:
        session = Session(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            access_expires_at=self.clock() + pair.expires_in,
            user_id=pair.user_id,
        )
        self.tokens.save(session)
        return session

    async def login(self, identifier: str, password: str) -> Session:
        pair = await self.request(
            "POST",
            "/api/v1/auth/login",
            TokenPair,
            json={"identifier": identifier, "password": password},
            auth=False,
        )
        return self._keep(pair)

    async def activate(
        self,
        code: str,
        password: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        login: str | None = None,
    ) -> Session:
        """Make the account of an activation code (a parent's or pupil's first sign-in)."""
        body: dict[str, str] = {"code": code, "password": password}
        for name, value in (("phone", phone), ("email", email), ("login", login)):
            if value:
                body[name] = value
        pair = await self.request(
            "POST", "/api/v1/auth/activate", TokenPair, json=body, auth=False, idempotent=False
        )
        return self._keep(pair)

    async def logout(self) -> None:
        try:
            await self.request("POST", "/api/v1/auth/logout", None, retry=False)
        finally:
            self.tokens.clear()

    async def me(self) -> Me:
        return await self.get("/api/v1/accounts/me", Me)

    async def _refresh(self, stale: Session) -> Session:
        """Exchange the refresh token once, even when several requests find the token old."""
        async with self._refresh_lock:
            current = self.tokens.load()
            if current is None:
                raise SignedOut(401, "not_authenticated", t("error.signed_out"))
            if current.access_token != stale.access_token:
                return current  # another request refreshed while this one waited
            try:
                pair = await self.request(
                    "POST",
                    "/api/v1/auth/refresh",
                    TokenPair,
                    json={"refresh_token": current.refresh_token},
                    auth=False,
                    idempotent=False,
                )
            except Unreachable:
                raise
            except ApiError as exc:
                if exc.status in (400, 401):
                    self.tokens.clear()
                    raise SignedOut(exc.status, exc.code, t("error.signed_out")) from exc
                raise
            self.stats.refreshes += 1
            return self._keep(pair)

    async def _session(self) -> Session:
        session = self.tokens.load()
        if session is None:
            raise SignedOut(401, "not_authenticated", t("error.signed_out"))
        if session.access_expires_at - self.clock() < REFRESH_MARGIN_S:
            session = await self._refresh(session)
        return session

    # ------------------------------------------------------------------ requests

    async def get(self, path: str, type_: type[T], params: Mapping[str, Any] | None = None) -> T:
        return await self.request("GET", path, type_, params=params)

    async def post(
        self, path: str, type_: type[T], json: Any = None, *, idempotent: bool = False
    ) -> T:
        return await self.request("POST", path, type_, json=json, idempotent=idempotent)

    async def upload(
        self, path: str, type_: type[T], file_name: str, content: bytes, field: str = "data"
    ) -> T:
        return await self.request(
            "POST", path, type_, files={field: (file_name, content)}, idempotent=False
        )

    async def request(
        self,
        method: str,
        path: str,
        type_: type[T] | None,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        auth: bool = True,
        idempotent: bool | None = None,
        retry: bool = True,
    ) -> Any:
        retriable = retry and (method == "GET" if idempotent is None else idempotent)
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        cache_key = f"{path}?{httpx.QueryParams(query)}" if method == "GET" else ""
        body = msgspec.json.encode(json) if json is not None else None
        refreshed = False
        attempt = 0
        while True:
            headers: dict[str, str] = {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            session = await self._session() if auth else None
            if session is not None:
                headers["Authorization"] = f"Bearer {session.access_token}"
            cached = self.etags.get(cache_key) if cache_key else None
            if cached is not None:
                headers["If-None-Match"] = cached[0]
            self.stats.requests += 1
            try:
                response = await self._http.request(
                    method, path, params=query, content=body, files=files, headers=headers
                )
            except httpx.TransportError as exc:
                if retriable and attempt < self.retries:
                    attempt += 1
                    await self._pause(attempt, 0)
                    continue
                never_left = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                raise Unreachable(type(exc).__name__, sent=not never_left) from exc
            if response.status_code == 304 and cached is not None:
                self.stats.not_modified += 1
                return _decode(cached[1], type_)
            # Litestar answers an expired token as invalid: either way, refresh once.
            if (
                response.status_code == 401
                and session is not None
                and not refreshed
                and _error_code(response) in ("token_expired", "token_invalid")
            ):
                refreshed = True
                await self._refresh(session)
                continue
            if response.status_code in RETRY_STATUSES and retriable and attempt < self.retries:
                attempt += 1
                await self._pause(attempt, _retry_after(response))
                continue
            if response.status_code >= 400:
                raise _error(response)
            etag = response.headers.get("ETag")
            if cache_key and etag:
                self.etags.put(cache_key, etag, response.content)
            return _decode(response.content, type_)

    async def download(self, path: str) -> bytes:
        """A file's bytes (a homework attachment), with the session's token."""
        for attempt in range(2):
            session = await self._session()
            try:
                response = await self._http.get(
                    path, headers={"Authorization": f"Bearer {session.access_token}"}
                )
            except httpx.TransportError as exc:
                raise Unreachable(type(exc).__name__) from exc
            if response.status_code == 401 and attempt == 0:
                await self._refresh(session)
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response.content
        raise SignedOut(401, "not_authenticated", t("error.signed_out"))

    async def events(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[tuple[str, str]]:
        """Server-sent events of `path` as (event, data), reconnecting when the server ends
        the stream; `Unreachable` when the network goes."""
        while True:
            session = await self._session()
            headers = {
                "Authorization": f"Bearer {session.access_token}",
                "Accept": "text/event-stream",
            }
            event, data = "message", ""
            try:
                async with self._http.stream(
                    "GET", path, params=dict(params or {}), headers=headers, timeout=None
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise _error(response)
                    async for line in response.aiter_lines():
                        if not line:
                            if data:
                                yield event, data
                            event, data = "message", ""
                        elif line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data += line[5:].strip()
            except httpx.TransportError as exc:
                raise Unreachable(type(exc).__name__) from exc

    async def _pause(self, attempt: int, retry_after: float) -> None:
        self.stats.retries += 1
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        delay = max(retry_after, delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter
        await asyncio.sleep(min(delay, self.max_backoff))

    async def reachable(self) -> bool:
        """Does the server answer at all (for the connection indicator)?"""
        try:
            response = await self._http.get("/health", timeout=3)
        except httpx.TransportError:
            return False
        return response.status_code == 200


def _param(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _decode(content: bytes, type_: type[T] | None) -> Any:
    if type_ is None:
        return None
    if not content:
        return None
    return msgspec.json.decode(content, type=type_)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0


def _error(response: httpx.Response) -> ApiError:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = str(data.get("error") or "http_error")
    message = str(data.get("message") or t("error.server", status=response.status_code))
    if response.status_code == 401:
        return SignedOut(401, code, message, data.get("details"))
    return ApiError(
        response.status_code, code, message, data.get("details"), _retry_after(response)
    )
