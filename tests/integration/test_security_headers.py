"""Security headers on every response, Cache-Control on personal data, and /metrics behind
a token (docs/operations.md, decision 0012)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from backend.app import create_app
from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend, running
from tests.support import sign_in


async def test_every_response_says_nosniff_and_no_referrer(world: Backend) -> None:
    for path in ("/health", "/api/v1/accounts/me", "/schema/openapi.json", "/api/v1/nothing"):
        response = await world.client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path


async def test_html_pages_refuse_frames_and_carry_a_content_security_policy(
    world: Backend,
) -> None:
    for path in ("/schema", "/admin/tasks/login"):
        response = await world.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), path
        assert response.headers["x-frame-options"] == "DENY", path
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "object-src 'none'" in policy, path
    staff = await world.client.get("/admin/tasks/login")
    assert "script-src 'self'" in staff.headers["content-security-policy"]
    api = await world.client.get("/api/v1/accounts/me")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_personal_data_is_not_stored_by_caches(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    me = await world.client.get("/api/v1/accounts/me", headers=admin.headers)
    assert me.status_code == 200
    assert me.headers["cache-control"] == "no-store"
    refused = await world.client.get("/api/v1/accounts/me")
    assert refused.headers["cache-control"] == "no-store"
    # The OpenAPI document and the health check hold no personal data: left to the caches.
    assert "no-store" not in (await world.client.get("/health")).headers.get("cache-control", "")


async def test_metrics_answer_only_with_the_token(world: Backend) -> None:
    token = world.settings.metrics_token.get_secret_value()
    assert token  # the test settings set one
    assert (await world.client.get("/metrics")).status_code == 401
    wrong = await world.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    as_admin = await world.client.get("/metrics", headers=admin.headers)
    assert as_admin.status_code == 401  # a person's sign-in is not the scraper's token
    right = await world.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert right.status_code == 200
    assert "parta_requests_total" in right.text


async def test_without_a_token_there_are_no_metrics(world: Backend) -> None:
    settings = world.settings.model_copy(update={"metrics_token": SecretStr("")})
    app = create_app(settings, engine=world.engine, redis=world.redis)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as client:
            response = await client.get("/metrics", headers={"Authorization": "Bearer "})
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"
