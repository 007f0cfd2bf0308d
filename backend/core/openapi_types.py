"""How the OpenAPI document describes types Litestar gets wrong: a time of day (`datetime.time`)
is sent as "08:30:00", which Litestar declares as an ISO 8601 duration."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

TIME_OF_DAY_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"


class TimeOfDaySchemaPlugin(OpenAPISchemaPlugin):
    """`datetime.time` is a time of day as msgspec writes it ("08:30:00"), in the school's
    time zone. Not `format: time` (RFC 3339 wants an offset there, which these do not carry)."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            type="string",  # type: ignore[arg-type]
            pattern=TIME_OF_DAY_PATTERN,
            description="Время суток по часам школы, ЧЧ:ММ:СС",
            examples=["08:30:00"],
        )
