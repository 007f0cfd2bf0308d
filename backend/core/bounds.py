"""The ranges of the numbers the API takes: an id, a version, a count. A number outside them is
the asker's mistake and answers 400 naming the field, before it reaches the database (where a
32-bit column would overflow) or the logic (where 2**70 would be taken at its word).

Litestar's OpenAPI generator drops a bound of 0 beside `| None` and the bounds of a list's items;
`documented(...)` repeats them through `extra_json_schema`, so the document says what msgspec
checks (tests/unit/test_openapi_truth.py walks the document for integers without a range)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import Schema
from litestar.params import Parameter

MAX_ID = 2_147_483_647  # ids and versions are 32-bit in the database


def documented(**schema: Any) -> dict[str, Any]:
    """`extra_json_schema` that Litestar copies into the OpenAPI document as it is."""
    return {"extra": schema}


def items_between(low: int, high: int) -> dict[str, Any]:
    """The bounds of a list's integer items, for the OpenAPI document."""
    return documented(items=Schema(type="integer", minimum=low, maximum=high))  # type: ignore[arg-type]


# In bodies (msgspec):
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID, extra_json_schema=documented(minimum=0))]
ID_ITEMS = items_between(1, MAX_ID)
# In paths and queries (Litestar parameters):
PathId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Parameter(ge=1, le=MAX_ID)]
RequiredQueryId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
