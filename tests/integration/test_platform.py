"""The platform's HTTP conventions: health, readiness, schema, errors, request ids."""

from __future__ import annotations

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
    assert len(response.headers["x-request-id"]) == 32


async def test_metrics_are_exposed(world: Backend) -> None:
    await world.client.get("/health")
    response = await world.client.get("/metrics")
    assert response.status_code == 200
    assert "parta_requests_total" in response.text


async def test_unknown_path_is_a_russian_404(world: Backend) -> None:
    response = await world.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["message"] == "Запрошенный объект не найден."
