"""The OpenAPI document tells the truth about what the API takes and answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.app import create_app
from backend.settings import Settings

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{where / 'db.sqlite'}",
        redis_url="memory://",
        media_root=where / "media",
    )
    return create_app(settings).openapi_schema.to_schema()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _bounded(schema: dict[str, Any], side: str) -> bool:
    return side in schema or f"exclusive{side.capitalize()}" in schema


def unbounded_integers(
    schema: dict[str, Any],
    where: str,
    components: dict[str, Any],
    inherited: tuple[bool, bool] = (False, False),
    seen: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """Every place under `schema` where an integer lacks a lower or an upper bound (Litestar
    puts the bounds of `int | None` beside the `oneOf`, so they are inherited; in JSON Schema
    an `items` beside the `oneOf` applies to the array branch too)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from unbounded_integers(
                components[name], where, components, (False, False), seen | {name}
            )
        return
    low = inherited[0] or _bounded(schema, "minimum")
    high = inherited[1] or _bounded(schema, "maximum")
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            if "items" in schema and "items" in sub:
                sub = {k: v for k, v in sub.items() if k != "items"}
            yield from unbounded_integers(sub, where, components, (low, high), seen)
    kind = schema.get("type")
    if (kind == "integer" or (isinstance(kind, list) and "integer" in kind)) and not (low and high):
        yield where
    for name, sub in (schema.get("properties") or {}).items():
        yield from unbounded_integers(sub, f"{where}.{name}", components, (False, False), seen)
    if isinstance(schema.get("items"), dict):
        yield from unbounded_integers(
            schema["items"], f"{where}[]", components, (False, False), seen
        )
    if isinstance(schema.get("additionalProperties"), dict):
        yield from unbounded_integers(
            schema["additionalProperties"], f"{where}{{}}", components, (False, False), seen
        )


def test_every_integer_the_api_takes_has_a_range(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    found: list[str] = []
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{method} {path} ?{parameter['name']}"
            found.extend(unbounded_integers(parameter.get("schema", {}), where, components))
        for media in (operation.get("requestBody") or {}).get("content", {}).values():
            found.extend(
                unbounded_integers(media.get("schema", {}), f"{method} {path} body", components)
            )
    assert not found, "integers without a range:\n" + "\n".join(found)


def _schemas_under(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _schemas_under(item)
    elif isinstance(value, list):
        for item in value:
            yield from _schemas_under(item)


def test_times_of_day_are_declared_as_times_of_day(document: dict[str, Any]) -> None:
    lesson = document["components"]["schemas"]["Lesson"]["properties"]
    for name in ("starts_at", "ends_at"):
        branches = lesson[name]["oneOf"]
        text = next(b for b in branches if b.get("type") == "string")
        assert text.get("format") != "duration", text
        assert text["pattern"].startswith("^([01]\\d|2[0-3])"), text
    durations = [s for s in _schemas_under(document) if s.get("format") == "duration"]
    assert not durations, "the API sends no durations, yet the document declares some"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/v1/auth/login", "429"),
        ("post", "/api/v1/auth/activate", "429"),
        ("post", "/api/v1/auth/password-reset", "429"),
        ("post", "/api/v1/delegates/{delegate_id}/revoke", "409"),
        ("get", "/api/v1/accounts/me", "429"),  # the API's rate limit holds everywhere
        ("post", "/api/v1/auth/login", "413"),  # a body past the limit
    ],
)
def test_answers_the_api_gives_are_declared(
    document: dict[str, Any], method: str, path: str, status: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    assert status in responses, sorted(responses)
    assert responses[status]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_inbox_stream_is_declared_as_server_sent_events(document: dict[str, Any]) -> None:
    ok = document["paths"]["/api/v1/messaging/inbox/stream"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]


def test_file_answers_are_declared_in_their_media_types(document: dict[str, Any]) -> None:
    """A report answers JSON, XLSX or PDF by `format`; exports and statements are files: the
    document declares each type (schemathesis found PDFs answered where JSON was declared)."""
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    expected = {
        "/api/v1/reports/classes/{class_id}/performance": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/reports/schools/{school_id}/performance": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/reports/schools/{school_id}/attendance": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/reports/schools/{school_id}/quality": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/reports/schools/{school_id}/completeness": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/reports/schools/{school_id}/at-risk": {
            "application/json",
            xlsx,
            "application/pdf",
        },
        "/api/v1/meals/pupils/{student_id}/statement/file": {xlsx, "application/pdf"},
        "/api/v1/schools/{school_id}/exports/{kind}": {"text/csv", xlsx},
    }
    for path, types in expected.items():
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == types, (path, sorted(content))
