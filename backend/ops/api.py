"""`/health` says the process answers; `/ready` says its database and Redis answer too."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get
from litestar.datastructures import State
from litestar.response import Redirect, Response

from backend.core.db import ping
from backend.core.http import PUBLIC


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    redis: str


@get("/", opt=PUBLIC, include_in_schema=False)
async def root() -> Redirect:
    """There is no web page yet at the root: send people to the API's documentation."""
    return Redirect(path="/schema")


@get("/health", opt=PUBLIC, tags=["Служебное"], summary="Процесс жив", cache_control=None)
async def health() -> Health:
    return Health(status="ok")


@get("/ready", opt=PUBLIC, tags=["Служебное"], summary="База данных и Redis доступны")
async def ready(state: State) -> Response[Readiness]:
    database = redis = "ok"
    try:
        await ping(state.engine)
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    try:
        await state.redis.ping()
    except Exception as exc:
        redis = f"error: {type(exc).__name__}"
    ok = database == "ok" and redis == "ok"
    body: Any = Readiness(status="ok" if ok else "unavailable", database=database, redis=redis)
    return Response(body, status_code=200 if ok else 503)
