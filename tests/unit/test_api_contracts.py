"""The apps' contracts are in the OpenAPI document: every GET under the diary, the journal and
messaging says what it answers, with fields (a JSON object's properties, or a list of such),
or else a declared non-JSON media type (a file, an event stream)."""

from __future__ import annotations

from typing import Any

from backend.app import create_app
from backend.settings import Settings

PREFIXES = ("/api/v1/diary", "/api/v1/journal", "/api/v1/messaging")
NOT_JSON = {"application/octet-stream", "text/event-stream"}


def _has_fields(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> bool:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if depth > 4:
        return False
    if schema.get("properties"):
        return True
    if schema.get("type") == "array":
        return _has_fields(schema.get("items") or {}, schemas, depth + 1)
    return any(
        _has_fields(part, schemas, depth + 1)
        for key in ("oneOf", "anyOf", "allOf")
        for part in schema.get(key, [])
    )


def test_every_get_of_the_apps_declares_its_answer_with_fields() -> None:
    document = create_app(Settings()).openapi_schema.to_schema()
    schemas = document.get("components", {}).get("schemas", {})
    checked, missing = [], []
    for path, item in sorted(document["paths"].items()):
        operation = item.get("get")
        if operation is None or not path.startswith(PREFIXES):
            continue
        checked.append(path)
        answers = [r for code, r in operation["responses"].items() if code.startswith("2")]
        contents = [c for r in answers for c in (r.get("content") or {}).items()]
        good = any(
            _has_fields(media.get("schema") or {}, schemas)
            if kind == "application/json"
            else kind in NOT_JSON
            for kind, media in contents
        )
        if not good:
            missing.append(path)
    assert len(checked) >= 14, checked
    assert missing == [], f"GETs whose answer has no declared fields: {missing}"


def test_the_diary_week_declares_its_lessons() -> None:
    document = create_app(Settings()).openapi_schema.to_schema()
    schemas = document["components"]["schemas"]
    answer = document["paths"]["/api/v1/diary/students/{student_id}/week"]["get"]["responses"]
    ref = answer["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[ref]["properties"]) == {"student_id", "week_start", "days"}
    assert "WeekLesson" in " ".join(schemas)
