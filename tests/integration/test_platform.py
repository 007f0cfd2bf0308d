"""The platform's HTTP conventions: health, readiness, schema, errors, request ids."""

from __future__ import annotations

import contextlib

from tests.conftest import Backend


async def test_health_and_ready(world: Backend) -> None:
    response = await world.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    response = await world.client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_openapi_schema_lists_the_api(world: Backend) -> None:
    response = await world.client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Парта API"
    assert "/api/v1/auth/login" in schema["paths"]
    assert "BearerToken" in str(schema["components"]["securitySchemes"])


async def test_the_api_documentation_page_needs_no_cdn(world: Backend) -> None:
    """/schema is read on school networks that may not reach the internet: its page loads
    its scripts and styles from Parta itself."""
    import re

    page = await world.client.get("/schema")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    assets = re.findall(r'(?:src|href)=["\']([^"\']+\.(?:js|css|png))["\']', page.text)
    assert assets, page.text[:500]
    for url in assets:
        assert url.startswith("/schema/assets/"), url
        asset = await world.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 500, url


async def test_openapi_documents_the_real_error_body(world: Backend) -> None:
    schema = (await world.client.get("/schema/openapi.json")).json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["error", "message"]
    login = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert login["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    # What the document promises is what a bad request really gets.
    answer = await world.client.post("/api/v1/auth/login", json={"identifier": 5})
    assert answer.status_code == 400
    assert set(answer.json()) >= {"error", "message"}
    assert "status_code" not in str(schema["paths"])


async def test_request_id_is_echoed_or_made(world: Backend) -> None:
    response = await world.client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = await world.client.get("/health")
    again = await world.client.get("/health")
    assert len(response.headers["x-request-id"]) == 32
    assert again.headers["x-request-id"] != response.headers["x-request-id"]


async def test_metrics_count_each_route_and_status(world: Backend) -> None:
    import re

    def value(text: str, metric: str, path: str, status: int) -> float:
        labels = f'app_name="parta",method="GET",path="{path}",status_code="{status}"'
        found = re.search(rf"^{metric}\{{{labels}\}} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    scraper = {"Authorization": f"Bearer {world.settings.metrics_token.get_secret_value()}"}
    before = (await world.client.get("/metrics", headers=scraper)).text
    for _ in range(3):
        await world.client.get("/health")
    refused = await world.client.get("/api/v1/accounts/me")  # not signed in
    response = await world.client.get("/metrics", headers=scraper)
    assert response.status_code == 200
    for metric in ("parta_requests_total", "parta_request_duration_seconds_count"):
        assert (
            value(response.text, metric, "/health", 200) - value(before, metric, "/health", 200)
            == 3
        )
    assert refused.status_code == 401
    assert "parta_requests_in_progress" in response.text


async def test_unknown_path_is_a_russian_404(world: Backend) -> None:
    response = await world.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["message"] == "Запрошенный объект не найден."


async def test_the_api_rate_limit_counts_each_client_in_its_window(world: Backend) -> None:
    import httpx

    from backend.app import create_app
    from backend.settings import Settings
    from tests.support import sign_in

    me = await sign_in(world)
    settings = Settings.model_validate(
        {**world.settings.model_dump(), "api_rate_limit_per_minute": 3}
    )
    app = create_app(settings, engine=world.engine, redis=world.redis)

    def client(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://parta.test")

    import asyncio
    import time

    if time.time() % 60 > 55:  # the window is a calendar minute: start inside one
        await asyncio.sleep(60 - time.time() % 60 + 0.1)
    async with client("198.51.100.7") as first, client("198.51.100.8") as second:
        answers = [await first.get("/api/v1/accounts/me", headers=me.headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-limit"] == "3"
        assert answers[0].headers["ratelimit-remaining"] == "2"
        assert answers[2].headers["ratelimit-remaining"] == "0"
        assert 0 < int(answers[0].headers["ratelimit-reset"]) <= 60
        refused = answers[3].json()
        assert refused["error"] == "too_many_requests" and refused["message"]
        # Another client has its own count; /health is never limited.
        assert (await second.get("/api/v1/accounts/me", headers=me.headers)).status_code == 200
        assert (await first.get("/health")).status_code == 200


async def test_processes_share_the_rate_limit_count_through_redis(world: Backend) -> None:
    """Each process counts its own requests and adds them to Redis in batches, and learns the
    others' counts from Redis's answer: a client spread over two processes is counted whole
    once each process has exchanged its counts."""
    import asyncio
    import time

    import httpx

    from backend.app import create_app
    from backend.settings import Settings
    from tests.support import sign_in

    me = await sign_in(world)
    settings = Settings.model_validate(
        {**world.settings.model_dump(), "api_rate_limit_per_minute": 3}
    )
    one, two = (create_app(settings, engine=world.engine, redis=world.redis) for _ in range(2))

    def client(app: object) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://parta.test")

    if time.time() % 60 > 55:
        await asyncio.sleep(60 - time.time() % 60 + 0.1)
    async with client(one) as first, client(two) as second:
        got = [await first.get("/api/v1/accounts/me", headers=me.headers) for _ in range(2)]
        assert [a.status_code for a in got] == [200, 200]
        await one.stores.get("rate_limit").counts.settled()  # type: ignore[attr-defined]
        # The second process has not heard of this client yet: it counts its own request and
        # learns the total (3) when it sends it.
        assert (await second.get("/api/v1/accounts/me", headers=me.headers)).status_code == 200
        await two.stores.get("rate_limit").counts.settled()  # type: ignore[attr-defined]
        refused = await second.get("/api/v1/accounts/me", headers=me.headers)
        assert refused.status_code == 429
        assert refused.headers["ratelimit-remaining"] == "0"
        await two.stores.get("rate_limit").counts.settled()  # type: ignore[attr-defined]
        [key] = await world.redis.keys("parta:ratelimit:*198.51.100.9*")
        assert int(await world.redis.get(key)) == 4  # every request, refused ones too


async def test_a_busy_process_sends_its_counts_in_paced_batches(world: Backend) -> None:
    """The first count goes to Redis at once; while requests keep coming, the next batch waits
    a pause and takes everything counted meanwhile, so a busy process makes a few Redis calls
    a second, not one per request."""
    import asyncio
    import uuid

    from backend.core.rate_limit import BATCH_PAUSE, SharedCounts

    counts = SharedCounts(world.redis, lifetime=61)
    key = f"parta:test:ratelimit:{uuid.uuid4().hex}"

    async def in_redis() -> int:
        return int(await world.redis.get(key) or 0)

    assert [counts.hit(key) for _ in range(5)] == [1, 2, 3, 4, 5]
    await asyncio.sleep(BATCH_PAUSE / 5)
    assert await in_redis() == 5  # sent at once
    assert [counts.hit(key) for _ in range(5)] == [6, 7, 8, 9, 10]
    await asyncio.sleep(BATCH_PAUSE / 5)
    assert await in_redis() == 5  # the next batch waits its pause
    await counts.settled()
    assert await in_redis() == 10
    await world.redis.delete(key)


async def test_a_cancelled_transaction_gives_its_connection_back(world: Backend) -> None:
    """A task cancelled anywhere in a transaction (a job at its timeout, a stopping worker)
    must not keep its pooled connection: the pool would run dry."""
    import asyncio

    import pytest

    from backend.core.db import transaction
    from backend.schools.tables import Region

    if world.kind != "postgres":
        pytest.skip("SQLite has no connection pool")
    pool = world.engine.pool
    assert pool is not None

    async def work() -> None:
        async with transaction():
            await Region.select(Region.id)
            await asyncio.sleep(0.01)

    for n in range(200):
        task = asyncio.create_task(work())
        for _ in range(n % 7):  # cancel at a different point each time: begin, query, sleep
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # Every connection can still be taken at once.
    held = [await asyncio.wait_for(pool.acquire(), 2) for _ in range(pool.get_max_size())]
    for connection in held:
        await pool.release(connection)
