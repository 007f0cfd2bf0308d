"""Request metrics for Prometheus (`/metrics`): Litestar's plugin, with its label sets kept.

Litestar's `PrometheusMiddleware` builds a `Request`, a dict of labels and a `functools.wraps`
copy of `send` on every request, and looks its metrics' children up four times (each a lock
and a tuple). On the diary benchmark that was a seventh of a request's cost. This middleware
writes the same metrics with the same labels (method, route template, status, app name), but
keeps each label set's children once found. Configurations it does not cover (extra labels,
exemplars, excluded methods, ungrouped paths) go through Litestar's own code.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from litestar import get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController, PrometheusMiddleware
from litestar.response import Response
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from backend.core.errors import NotAuthenticated

_Children = tuple[Any, Any, Any]  # request count, request time, error count


class PrometheusMetricsMiddleware(PrometheusMiddleware):
    _in_progress: dict[tuple[str, str], Any]
    _children: dict[tuple[str, str, int], _Children]

    def _plain(self, scope: Scope) -> bool:
        config = self._config
        return (
            scope["type"] == "http"
            and config.group_path
            and not config.labels
            and not config.exemplars
            and not config.excluded_http_methods
        )

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        return {
            "method": method,
            "path": path,
            "status_code": status,
            "app_name": self._config.app_name,
        }

    def _gauge(self, method: str, path: str) -> Any:
        cache = self.__dict__.setdefault("_in_progress", {})
        gauge = cache.get((method, path))
        if gauge is None:
            labels = self._labels(method, path, 200)
            gauge = cache[(method, path)] = self.requests_in_progress(labels).labels(
                *labels.values()
            )
        return gauge

    def _counters(self, method: str, path: str, status: int) -> _Children:
        cache = self.__dict__.setdefault("_children", {})
        children = cache.get((method, path, status))
        if children is None:
            labels = self._labels(method, path, status)
            values = [*labels.values()]
            children = cache[(method, path, status)] = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                self.requests_error_count(labels).labels(*values),
            )
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._plain(scope):
            await super().__call__(scope, receive, send)
            return
        method, path = scope["method"], scope["path_template"]  # type: ignore[typeddict-item]
        status, started, ended = 200, perf_counter(), 0.0

        async def timed_send(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                ended = perf_counter()
            await send(message)

        gauge = self._gauge(method, path)
        gauge.inc()
        try:
            await self.app(scope, receive, timed_send)
        finally:
            gauge.dec()
            count, duration, errors = self._counters(method, path, status)
            if status >= HTTP_500_INTERNAL_SERVER_ERROR:
                errors.inc()
            count.inc()
            duration.observe(ended - started if ended else 0)


def metrics_controller(
    token: str, refresh: Callable[[], Awaitable[None]] | None = None
) -> type[PrometheusController] | None:
    """`/metrics` for a scraper that sends `Authorization: Bearer <token>`; no token, no route
    (the figures tell an outsider which routes are busy, when, and which fail). `refresh`
    reads the system's own figures before they are rendered (`backend.ops.metrics`)."""
    if not token:
        return None
    expected = f"Bearer {token}".encode()

    async def scraper_only(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            raise NotAuthenticated()

    class MetricsController(PrometheusController):
        guards = [scraper_only]

        @get(include_in_schema=False)
        async def get(self) -> Response[bytes]:
            if refresh is not None:
                await refresh()
            return Response(
                generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

    return MetricsController
