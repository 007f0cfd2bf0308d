"""Every field a person can get wrong has a Russian name: an error says «предмет», not
`subject_id`. The fields are read from the API's own OpenAPI document (request bodies, query
parameters), so a new endpoint cannot slip by."""

from __future__ import annotations

from typing import Any

from backend.app import create_app
from backend.i18n import has
from backend.settings import Settings


def _fields(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str]) -> set[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        seen.add(name)
        return _fields(schemas[name], schemas, seen)
    found: set[str] = set()
    for key in ("oneOf", "anyOf", "allOf"):
        for part in schema.get(key, []):
            found |= _fields(part, schemas, seen)
    if "items" in schema:
        found |= _fields(schema["items"], schemas, seen)
    for name, sub in (schema.get("properties") or {}).items():
        found.add(name)
        found |= _fields(sub, schemas, seen)
    return found


def test_every_input_field_has_a_russian_name() -> None:
    app = create_app(Settings())
    document = app.openapi_schema.to_schema()
    schemas = document.get("components", {}).get("schemas", {})
    unnamed: dict[str, set[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            body = (operation.get("requestBody") or {}).get("content", {})
            for media in body.values():
                names |= _fields(media.get("schema") or {}, schemas, set())
            for name in names:
                if not has(f"field.{name}"):
                    unnamed.setdefault(name, set()).add(f"{method.upper()} {path}")
    assert not unnamed, "fields without a Russian name in [field]: " + ", ".join(
        f"{name} ({sorted(where)[0]})" for name, where in sorted(unnamed.items())
    )
