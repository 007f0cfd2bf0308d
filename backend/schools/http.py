"""What the HTTP modules of schools share: guards, path and query parameter types, conversion."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from litestar.params import Parameter

from backend.core.bounds import PathId, QueryId, RequiredQueryId
from backend.core.http import requires
from backend.core.rights import Permission

READ = [requires(Permission.STRUCTURE_READ)]
MANAGE = [requires(Permission.STRUCTURE_MANAGE)]
ShiftPath = Annotated[int, Parameter(ge=1, le=3)]
T = TypeVar("T")


def out(kind: type[T], row: Any) -> T:
    return msgspec.convert(row, kind, strict=False)


def out_list(kind: type[T], rows: list[Any]) -> list[T]:
    return [msgspec.convert(r, kind, strict=False) for r in rows]


__all__ = [
    "MANAGE",
    "READ",
    "PathId",
    "QueryId",
    "RequiredQueryId",
    "ShiftPath",
    "out",
    "out_list",
]
