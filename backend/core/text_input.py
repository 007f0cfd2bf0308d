"""Control characters are refused in one place: every query parameter, path parameter and
string of a JSON body (values and keys) passes `ControlCharacterMiddleware` before any handler
sees it (decision 0010).

A NUL cannot be stored by PostgreSQL at all (it answered 500), and SQLite stored what the
docs promise to refuse. Query and path values may hold no control character; a JSON string may
hold line breaks and tabs (texts people type: topics, homework, comments), nothing else of
category Cc (U+0000-U+001F, U+007F-U+009F). A field that must be one line says so itself
(`backend.core.forms.clean_text`). A lone surrogate never gets this far: the JSON decoder
refuses it as malformed. The answer is 400 naming the field, in Russian.

Cheap on the hot path: a request without a body and without `%` in its query costs two scans
of short strings; a JSON body is parsed a second time only when its bytes hold an escaped or a
raw control character.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from backend.core.errors import ValidationFailed
from backend.i18n import t

_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In a JSON text: an escaped control character (\u0000-\u001f, \u007f-\u009f) or a raw DEL or
# C1 character (JSON allows those unescaped). Raw C0 characters are malformed JSON already.
_JSON_SUSPECT = re.compile(rb"\\u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\x7f|\xc2[\x80-\x9f]")
_JSON_TYPES = (b"application/json", b"application/vnd.api+json")


def refuse(field: str) -> ValidationFailed:
    from backend.core.http_errors import field_label

    message = t("error.control_char", field=field_label(field))
    return ValidationFailed(message, details=[{"field": field, "message": message}])


def first_control_in(value: Any, where: str = "") -> str | None:
    """The path (`operations[0].text`) of the first string of a decoded JSON value holding a
    control character other than a line break or a tab, or None."""
    if isinstance(value, str):
        return where if _CONTROL_BUT_LINES.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _ANY_CONTROL.search(key):
                return path
            if (found := first_control_in(item, path)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := first_control_in(item, f"{where}[{index}]")) is not None:
                return found
    return None


def check_query(query_string: bytes) -> None:
    if not query_string:
        return
    text = query_string.decode("latin-1")
    if "%" not in text and not _ANY_CONTROL.search(text):
        return
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        if _ANY_CONTROL.search(name):
            raise refuse(_ANY_CONTROL.sub("?", name))
        if _ANY_CONTROL.search(value):
            raise refuse(name)


def check_path(scope: Scope) -> None:
    if not _ANY_CONTROL.search(scope["path"]):
        return
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, str) and _ANY_CONTROL.search(value):
            raise refuse(name)
    raise refuse("path")


def _body_limit(scope: Scope) -> int:
    handler = scope.get("route_handler")
    limit = getattr(handler, "resolve_request_max_body_size", lambda: None)()
    if isinstance(limit, int):
        return limit
    app_limit = scope["app"].request_max_body_size
    return app_limit if isinstance(app_limit, int) else 1_048_576


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() in _JSON_TYPES
    return False


class ControlCharacterMiddleware(ASGIMiddleware):
    """See the module's docstring."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != "http":
            await next_app(scope, receive, send)
            return
        check_path(scope)
        check_query(scope.get("query_string", b""))
        if scope.get("method") in ("GET", "HEAD", "OPTIONS") or not _is_json(scope):
            await next_app(scope, receive, send)
            return
        # Read the body (no more than the route takes: past that Litestar answers 413) and
        # hand it on unchanged.
        limit = _body_limit(scope)
        chunks: list[bytes] = []
        size, more = 0, True
        last: ReceiveMessage | None = None
        while more and size <= limit:
            message = await receive()
            if message["type"] != "http.request":
                last = message
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if not more and last is None and _JSON_SUSPECT.search(body):
            try:
                decoded = msgspec.json.decode(body)
            except msgspec.DecodeError:
                decoded = None  # malformed: the handler's decoder says so
            if (field := first_control_in(decoded)) is not None:
                raise refuse(field)
        replayed = False

        async def replay() -> ReceiveMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                if last is not None:
                    return last
                whole: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": more}
                return whole
            return await receive()

        await next_app(scope, replay, send)
