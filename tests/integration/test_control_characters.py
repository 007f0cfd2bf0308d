"""A control character in any text the API takes answers 400 naming the field, never 500 and
never stored: the test walks the OpenAPI document, so a new endpoint is covered by itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend
from tests.support import sign_in

NUL = "\u0000"
METHODS = ("get", "put", "post", "delete", "patch")


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_text(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return (kind == "string" or (isinstance(kind, list) and "string" in kind)) and (
        schema.get("format") not in ("date", "date-time", "time", "binary", "duration")
    )


def text_fields(
    schema: dict[str, Any], components: dict[str, Any], depth: int = 0
) -> Iterator[tuple[str, Any]]:
    """(path as the API names it, a body with NUL in that one field) for each string field."""
    schema = _resolve(schema, components)
    if depth > 6:
        return
    branches = [_resolve(b, components) for b in schema.get("oneOf", []) + schema.get("anyOf", [])]
    for branch in branches:
        yield from text_fields(branch, components, depth + 1)
    for name, sub in (schema.get("properties") or {}).items():
        sub_resolved = _resolve(sub, components)
        options = [sub_resolved] + [
            _resolve(b, components)
            for b in sub_resolved.get("oneOf", []) + sub_resolved.get("anyOf", [])
        ]
        if any(_is_text(o) and "enum" not in o and "const" not in o for o in options):
            yield name, {name: NUL + "x"}
        for option in options:
            if option.get("type") == "object" or "properties" in option:
                for path, body in text_fields(option, components, depth + 1):
                    yield f"{name}.{path}", {name: body}
            items = option.get("items")
            if isinstance(items, dict):
                items = _resolve(items, components)
                if _is_text(items) and "enum" not in items:
                    yield f"{name}[0]", {name: [NUL + "x"]}
                for path, body in text_fields(items, components, depth + 1):
                    yield f"{name}[0].{path}", {name: [body]}


def fill_path(path: str, parameters: list[dict[str, Any]]) -> str:
    for parameter in parameters:
        if parameter["in"] != "path":
            continue
        schema = parameter.get("schema", {})
        value = schema.get("enum", ["1" if schema.get("type") == "integer" else "pupils"])[0]
        path = path.replace("{" + parameter["name"] + "}", str(value))
    return path


async def test_every_text_field_and_query_parameter_refuses_a_nul(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    document = (await world.client.get("/schema/openapi.json")).json()
    components = document["components"]["schemas"]
    checked: list[str] = []
    failures: list[str] = []
    for raw_path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            parameters = operation.get("parameters", [])
            url = fill_path(raw_path, parameters)
            cases: list[tuple[str, dict[str, Any]]] = []
            for parameter in parameters:
                if parameter["in"] == "query":
                    cases.append((parameter["name"], {"params": {parameter["name"]: NUL}}))
                elif parameter["in"] == "path" and parameter.get("schema", {}).get("type") == (
                    "string"
                ):
                    bad = raw_path.replace("{" + parameter["name"] + "}", "%00")
                    cases.append((parameter["name"], {"url": fill_path(bad, parameters)}))
            body_schema = (
                (operation.get("requestBody") or {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            if body_schema:
                for field, body in text_fields(body_schema, components):
                    cases.append((field, {"json": body}))
            for field, request in cases:
                response = await world.client.request(
                    method.upper(),
                    request.get("url", url),
                    params=request.get("params"),
                    json=request.get("json"),
                    headers=admin.headers,
                )
                where = f"{method.upper()} {raw_path} {field}"
                checked.append(where)
                if response.status_code != 400:
                    failures.append(f"{where}: {response.status_code} {response.text[:150]}")
                    continue
                body = response.json()
                named = (body.get("details") or [{}])[0].get("field")
                if named != field or "управляющ" not in body["message"]:
                    failures.append(f"{where}: {body}")
    assert not failures, f"{len(failures)} of {len(checked)}:\n" + "\n".join(failures)
    assert len(checked) > 150, checked  # the walk found the API's texts


async def test_signing_in_with_a_nul_is_refused_before_any_account_is_looked_up(
    world: Backend,
) -> None:
    response = await world.client.post(
        "/api/v1/auth/login", json={"identifier": "ivanov\u0000", "password": "x"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "validation_error",
        "message": "Поле «телефон, e-mail или логин» содержит недопустимый управляющий символ.",
        "details": [
            {
                "field": "identifier",
                "message": "Поле «телефон, e-mail или логин» содержит недопустимый управляющий "
                "символ.",
            }
        ],
    }


async def test_tabs_in_queries_del_and_c1_are_refused_but_line_breaks_in_bodies_pass(
    world: Backend,
) -> None:
    # Refused elsewhere as they are refused here: a tab in a query, DEL or a C1 character.
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    for bad in ("a\tb", "a\x7fb", "a\x85b"):
        response = await world.client.get(
            "/api/v1/audit", params={"action": bad}, headers=admin.headers
        )
        assert response.status_code == 400, (bad, response.text)
    raw_del = await world.client.post(
        "/api/v1/auth/login",
        content=b'{"identifier": "a\x7fb", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert raw_del.status_code == 400, raw_del.text
    # A multi-line text goes through (tests/integration/journal/test_sync.py stores one).
    fine = await world.client.post(
        "/api/v1/auth/login", json={"identifier": "a\nb\tc\r", "password": "x"}
    )
    assert fine.status_code == 401, fine.text
