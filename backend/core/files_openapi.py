"""Declaring file answers in the OpenAPI document: one route, several media types.

Litestar documents a handler's 200 answer in one media type. A report answers JSON, XLSX or PDF
by its `format` parameter, and a statement XLSX or PDF; `answers_in(...)` gives the route an
operation class that declares each of them (schemathesis checks the answer's Content-Type
against the document)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Schema

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
CSV = "text/csv"


def answers_in(*media_types: str, keep_json: bool = False) -> Any:
    """An `operation_class` whose 200 answer is declared as each file type (bytes), beside
    JSON when the route also answers JSON."""

    @dataclass
    class FileOperation(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if ok is None or isinstance(ok, dict) or not hasattr(ok, "content"):
                return
            content = dict(ok.content or {}) if keep_json else {}
            binary = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
            for media in media_types:
                content[media] = OpenAPIMediaType(schema=binary)
            ok.content = content

    return FileOperation
