"""The apps' API client against the real backend: typed answers, token refresh (ahead of time
and when the server says the token expired), ETag caching, retries with backoff, errors."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from mobile.common.api import ApiClient, ApiError, MemoryTokens, SignedOut, Unreachable
from mobile.common.models import LessonSheet, Me, SyncRequest, SyncResponse
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world, mark, today
from tests.support import TEST_PASSWORD, SignedIn


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class FlakyNetwork(httpx.AsyncBaseTransport):
    """A network that drops the first `drops` requests, then carries them to the real app."""

    def __init__(self, inner: httpx.AsyncBaseTransport, drops: int) -> None:
        self.inner = inner
        self.drops = drops
        self.carried: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.drops > 0:
            self.drops -= 1
            raise httpx.ConnectError("network is unreachable", request=request)
        self.carried.append(f"{request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)


def transport(world: Backend) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=world.app, client=("203.0.113.20", 50000))


def client(world: Backend, **kw: Any) -> ApiClient:
    kw.setdefault("transport", transport(world))
    return ApiClient("http://parta.test", MemoryTokens(), backoff=0.01, **kw)


async def login_of(world: Backend, who: SignedIn) -> str:
    from backend.accounts.tables import User

    row = await User.select(User.login).where(User.id == who.user_id).first()
    assert row is not None
    return str(row["login"])


async def test_signs_in_and_reads_typed_answers(world: Backend) -> None:
    jw = await make_journal_world(world)
    api = client(world)
    session = await api.login(await login_of(world, jw.teacher), TEST_PASSWORD)
    assert session.user_id == jw.teacher.user_id
    me = await api.me()
    assert isinstance(me, Me) and me.id == jw.teacher.user_id
    sheet = await api.get(f"/api/v1/journal/lessons/{jw.lessons['today']}", LessonSheet)
    assert sorted(p.id for p in sheet.pupils) == sorted(jw.pupils)
    await api.aclose()


async def test_refreshes_ahead_of_expiry_and_the_old_refresh_token_is_spent(world: Backend) -> None:
    jw = await make_journal_world(world)
    clock = Clock()
    api = client(world, clock=clock)
    first = await api.login(await login_of(world, jw.teacher), TEST_PASSWORD)
    clock.now += timedelta(minutes=15).total_seconds()  # the access token's life has passed
    me = await api.me()
    assert me.id == jw.teacher.user_id
    assert api.stats.refreshes == 1
    second = api.tokens.load()
    assert second is not None and second.refresh_token != first.refresh_token
    # The spent refresh token is refused by the server (it rotated).
    reuse = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first.refresh_token}
    )
    assert reuse.status_code == 401
    await api.aclose()


async def test_refreshes_when_the_server_says_the_token_expired(world: Backend) -> None:
    jw = await make_journal_world(world)
    api = client(world)
    session = await api.login(await login_of(world, jw.teacher), TEST_PASSWORD)
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 60
    claims["iat"] = int(time.time()) - 1000
    claims["jti"] = uuid.uuid4().hex
    session.access_token = jwt.encode(
        claims, world.settings.secret_key.get_secret_value(), algorithm="HS256"
    )
    api.tokens.save(session)  # the client believes it is fresh; the server knows better
    me = await api.me()
    assert me.id == jw.teacher.user_id
    assert api.stats.refreshes == 1
    await api.aclose()


async def test_a_refused_refresh_signs_out(world: Backend) -> None:
    jw = await make_journal_world(world)
    clock = Clock()
    api = client(world, clock=clock)
    session = await api.login(await login_of(world, jw.teacher), TEST_PASSWORD)
    # Someone used the refresh token first (a copied token): the server revokes the session.
    spent = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert spent.status_code == 200
    clock.now += 3600
    with pytest.raises(SignedOut) as caught:
        await api.me()
    assert "Войдите" in caught.value.message
    assert api.tokens.load() is None
    await api.aclose()


async def test_etag_answers_an_unchanged_week_from_the_cache(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    guardian = await guardian_of(world, pupil)
    api = client(world)
    api.tokens.save(_session_of(guardian))
    path = f"/api/v1/diary/students/{pupil}/week"
    params = {"date": today()}
    first = await api.get(path, dict)
    first = await api.get(path, dict, params)
    again = await api.get(path, dict, params)
    assert api.stats.not_modified == 1
    assert again == first
    # A mark changes the week: the server sends it again and the cache follows.
    response = await world.client.post(
        f"/api/v1/journal/lessons/{jw.lessons['today']}/sync",
        json={"operations": [mark(uuid.uuid4().hex, pupil, "5")]},
        headers=jw.teacher.headers,
    )
    assert response.status_code == 200, response.text
    changed = await api.get(path, dict, params)
    assert changed != first
    assert "5" in str(changed)
    assert api.stats.not_modified == 1
    await api.aclose()


def _session_of(who: SignedIn) -> Any:
    from mobile.common.api import Session

    return Session(who.access_token, who.refresh_token, time.time() + 900, who.user_id)


async def test_retries_a_dropped_network_with_backoff(world: Backend) -> None:
    jw = await make_journal_world(world)
    network = FlakyNetwork(transport(world), drops=2)
    api = client(world, transport=network, retries=3)
    api.tokens.save(_session_of(jw.teacher))
    me = await api.me()
    assert me.id == jw.teacher.user_id
    assert api.stats.retries == 2
    assert network.carried == ["GET /api/v1/accounts/me"]
    await api.aclose()


async def test_gives_up_after_its_retries_and_says_so_in_russian(world: Backend) -> None:
    jw = await make_journal_world(world)
    network = FlakyNetwork(transport(world), drops=10)
    api = client(world, transport=network, retries=2)
    api.tokens.save(_session_of(jw.teacher))
    with pytest.raises(Unreachable) as caught:
        await api.me()
    assert api.stats.retries == 2
    assert "Нет связи" in caught.value.message
    assert network.carried == []
    await api.aclose()


async def test_a_sync_is_retried_and_applied_once(world: Backend) -> None:
    """The sync is idempotent by operation ids: a retried call is safe and applies once."""
    jw = await make_journal_world(world)
    network = FlakyNetwork(transport(world), drops=1)
    api = client(world, transport=network)
    api.tokens.save(_session_of(jw.teacher))
    body = SyncRequest(operations=[_op(jw.pupils[0])])
    path = f"/api/v1/journal/lessons/{jw.lessons['today']}/sync"
    answer = await api.post(path, SyncResponse, body, idempotent=True)
    assert [r.status for r in answer.results] == ["applied"]
    repeat = await api.post(path, SyncResponse, body, idempotent=True)
    assert [r.status for r in repeat.results] == ["repeat"]
    sheet = await api.get(f"/api/v1/journal/lessons/{jw.lessons['today']}", LessonSheet)
    assert [(a.student_id, a.status) for a in sheet.attendance] == [(jw.pupils[0], "absent")]
    await api.aclose()


def _op(student: int) -> Any:
    from mobile.common.models import SyncOp

    return SyncOp(op_id=uuid.uuid4().hex, kind="attendance", student_id=student, status="absent")


async def test_a_post_that_is_not_idempotent_is_not_retried(world: Backend) -> None:
    jw = await make_journal_world(world)
    network = FlakyNetwork(transport(world), drops=1)
    api = client(world, transport=network)
    api.tokens.save(_session_of(jw.teacher))
    with pytest.raises(Unreachable):
        await api.post(
            f"/api/v1/journal/lessons/{jw.lessons['today']}/sync",
            SyncResponse,
            SyncRequest(operations=[_op(jw.pupils[0])]),
        )
    assert api.stats.retries == 0
    await api.aclose()


async def test_a_refusal_carries_the_servers_russian_message(world: Backend) -> None:
    jw = await make_journal_world(world)
    api = client(world)
    api.tokens.save(_session_of(jw.teacher))
    bad = SyncRequest(operations=[_op(999_999)])
    with pytest.raises(ApiError) as caught:
        await api.post(f"/api/v1/journal/lessons/{jw.lessons['today']}/sync", SyncResponse, bad)
    assert caught.value.status == 400
    assert caught.value.code == "validation_error"
    assert caught.value.details == {"op_id": bad.operations[0].op_id}
    assert any("а" <= ch <= "я" for ch in caught.value.message)
    await api.aclose()
