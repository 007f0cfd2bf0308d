"""One place where every failure becomes `{"error", "message", "details"}` with a Russian message.

Litestar's own exceptions (validation, 401/403/404/405/413/429) and our `DomainError`s are mapped
here; anything else is logged with its traceback and answered with a neutral 500.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from backend.core.errors import DomainError, ValidationFailed
from backend.core.forms import FILE_PART
from backend.i18n import has, t

log = structlog.get_logger("parta.http")

_STATUS_CODES = {
    400: ("bad_request", "error.bad_request"),
    401: ("not_authenticated", "error.not_authenticated"),
    403: ("forbidden", "error.forbidden"),
    404: ("not_found", "error.not_found"),
    405: ("method_not_allowed", "error.method_not_allowed"),
    409: ("conflict", "error.conflict"),
    413: ("body_too_large", "error.body_too_large"),
    415: ("unsupported_media_type", "error.unsupported_media_type"),
    429: ("too_many_requests", "error.too_many_requests"),
    503: ("service_unavailable", "error.service_unavailable"),
}

_UNKNOWN = re.compile(r"unknown field `([^`]+)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_MISSING_PARAM = re.compile(r"Missing required (?:\w+ )?parameter '([^']+)'")
_AT = re.compile(r"at `\$\.?([^`]*)`")
_BOUND = re.compile(r"Expected `\w+` (>=|<=|>|<) ([-\d.]+)")
_LENGTH = re.compile(r"Expected `[\w\[\], ]+` of length (>=|<=) (\d+)")
_OPS = {">=": "не меньше", "<=": "не больше", ">": "больше", "<": "меньше"}


def field_label(name: str) -> str:
    """A field's name as a person reads it: the catalogue's `field.<name>`, else the name."""
    last = name.rsplit(".", 1)[-1].split("[", 1)[0]
    return t(f"field.{last}") if has(f"field.{last}") else name


def _field_error(item: dict[str, Any]) -> dict[str, Any]:
    """Turn one msgspec/Litestar validation message into a Russian one, keeping the field path."""
    raw = str(item.get("message", ""))
    where = _AT.search(raw)
    key = str(item.get("key") or "")
    # Litestar names the field in `key` ("data" alone is the whole body, not a field).
    field = (where.group(1) if where else "") or ("" if key == "data" else key)
    if m := _UNKNOWN.search(raw):
        name = f"{field}.{m.group(1)}" if field else m.group(1)
        return {"field": name, "message": t("error.unknown_field", field=field_label(name))}
    if m := _MISSING.search(raw) or _MISSING_PARAM.search(raw):
        name = f"{field}.{m.group(1)}" if field and _MISSING.search(raw) else m.group(1)
        return {"field": name, "message": t("error.missing_field", field=field_label(name))}
    label = field_label(field) if field else "?"
    if m := _LENGTH.search(raw):
        if m.group(1) == ">=" and m.group(2) in ("1", "0"):
            return {"field": field, "message": t("error.empty_field", field=label)}
        return {
            "field": field,
            "message": t("error.length_field", field=label, op=_OPS[m.group(1)], n=m.group(2)),
        }
    if m := _BOUND.search(raw):
        return {
            "field": field,
            "message": t("error.range_field", field=label, op=_OPS[m.group(1)], n=m.group(2)),
        }
    if raw.startswith("Unsupported type") and key == FILE_PART:
        return {"field": FILE_PART, "message": t("error.file_part", part=FILE_PART)}
    if "Invalid enum value" in raw:
        return {"field": field, "message": t("error.choice_field", field=label)}
    if raw.startswith("Expected") or "Invalid" in raw:
        if not field:
            return {"field": "", "message": t("error.wrong_body")}
        return {"field": field, "message": t("error.wrong_type", field=label)}
    return {"field": field, "message": t("error.validation")}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details}


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=body, status_code=status, headers=headers, media_type="application/json"
    )


def domain_error_handler(_: Request, exc: DomainError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
    return _response(exc.status_code, error_body(exc.code, exc.message, exc.details), headers)


def _size(n: int) -> str:
    """A byte count as a person reads it: «20 МБ», «512 КБ»."""
    if n >= 2**20:
        return f"{n / 2**20:.0f} МБ"
    if n >= 2**10:
        return f"{n / 2**10:.0f} КБ"
    return f"{n} байт"


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        if not extra and (m := _MISSING_PARAM.search(str(exc.detail))):
            # Litestar names a missing query/header/cookie parameter only in its text.
            extra = [{"message": str(exc.detail), "key": m.group(1)}]
        details = [_field_error(e) for e in extra if isinstance(e, dict)]
        first = details[0]["message"] if len(details) == 1 else t("error.validation")
        return _response(400, error_body("validation_error", first, details or None))
    if str(exc.detail) == "Invalid multipart/form-data":
        message = t("error.bad_form", part=FILE_PART)
        details = [{"field": FILE_PART, "message": message}]
        return _response(400, error_body("validation_error", message, details))
    if isinstance(exc.__cause__, SerializationException) or "decoding" in str(exc.detail).lower():
        return _response(400, error_body("malformed_json", t("error.malformed_json")))
    code, key = _STATUS_CODES.get(status, ("error", "error.bad_request"))
    params: dict[str, Any] = {}
    if status == 413:
        # The limit of the route that refused (an upload route allows more than the app).
        handler = request.scope.get("route_handler")
        limit = getattr(handler, "resolve_request_max_body_size", lambda: None)()
        if not isinstance(limit, int):
            app_limit = request.app.request_max_body_size
            limit = app_limit if isinstance(app_limit, int) else 0
        params["limit"] = _size(limit)
    if status == 429:
        params["seconds"] = (exc.headers or {}).get("Retry-After", "60")
    if isinstance(exc, NotAuthorizedException) and "expired" in str(exc.detail).lower():
        code, key = "token_expired", "error.token_expired"
    elif (
        isinstance(exc, NotAuthorizedException) and "no jwt token found" in str(exc.detail).lower()
    ):
        code, key = "not_authenticated", "error.not_authenticated"
    elif isinstance(exc, NotAuthorizedException) and "token" in str(exc.detail).lower():
        code, key = "token_invalid", "error.token_invalid"
    elif isinstance(exc, PermissionDeniedException):
        code, key = "forbidden", "error.forbidden"
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail, path=request.url.path)
        code, key = (
            ("service_unavailable", "error.service_unavailable")
            if status == 503
            else (
                "internal_error",
                "error.internal",
            )
        )
    return _response(status, error_body(code, t(key, **params)), headers=exc.headers)


def out_of_range_handler(request: Request, exc: OverflowError) -> Response:
    """A number or date too large for the database or the calendar (an id of 2**63, the year
    9999 plus a week) can only come from the request: it is the asker's mistake, not ours."""
    log.info("out_of_range_input", path=request.url.path, error=str(exc))
    return _response(400, error_body("validation_error", t("error.out_of_range")))


def _caused_by_overflow(exc: BaseException | None) -> bool:
    """asyncpg wraps the driver's OverflowError (an int beyond int4/int8) in a DataError."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OverflowError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    if _caused_by_overflow(exc):
        return out_of_range_handler(request, OverflowError(str(exc)))
    log.exception("unhandled_error", path=request.url.path, error=repr(exc))
    return _response(
        HTTP_500_INTERNAL_SERVER_ERROR, error_body("internal_error", t("error.internal"))
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    OverflowError: out_of_range_handler,
    Exception: unexpected_error_handler,
}


# ---- the error body in the OpenAPI document ----------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {
            "type": "string",
            "description": "Код ошибки для программ: bad_request, not_found, conflict…",
        },
        "message": {"type": "string", "description": "Что не так: по-русски, для человека"},
        "details": {
            "description": "Подробности, если есть: ошибки по полям или противоречащие значения",
        },
    },
    "examples": [
        {
            "error": "not_found",
            "message": "Запрошенный объект не найден.",
            "details": None,
        }
    ],
}


def document_errors(schema: Any) -> None:
    """Make every 4xx/5xx response of the OpenAPI document say what the API really answers:
    `{"error", "message", "details"}` (Litestar documents its own `{"status_code", "detail"}`)."""
    from litestar.openapi.spec import Components, OpenAPIMediaType, OpenAPIResponse, Reference
    from litestar.openapi.spec import Schema as OpenAPISchema

    components = schema.components or Components()
    schemas = dict(components.schemas or {})
    schemas["Error"] = OpenAPISchema(
        type="object",  # type: ignore[arg-type]
        required=ERROR_SCHEMA["required"],
        properties={
            name: OpenAPISchema(**spec) for name, spec in ERROR_SCHEMA["properties"].items()
        },
        examples=ERROR_SCHEMA["examples"],
    )
    components.schemas = schemas
    schema.components = components
    error_ref = Reference(ref="#/components/schemas/Error")
    for path, path_item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            responses = operation.responses or {}
            for code in list(responses):
                if not code.isdigit() or int(code) < 400:
                    continue
                old = responses[code]
                description = getattr(old, "description", "") or ""
                responses[code] = OpenAPIResponse(
                    description=_error_description(int(code), description),
                    content={"application/json": OpenAPIMediaType(schema=error_ref)},
                )
            for code in _always_possible(path, method, operation):
                responses.setdefault(
                    code,
                    OpenAPIResponse(
                        description=_error_description(int(code), ""),
                        content={"application/json": OpenAPIMediaType(schema=error_ref)},
                    ),
                )
            operation.responses = responses


def _always_possible(path: str, method: str, operation: Any) -> tuple[str, ...]:
    """The errors an API operation can answer whatever its handler does: no or a bad token,
    no right, nothing there, the API's rate limit (429, every route under /api), a body past
    the limit (413), and for a write a conflict with stored data (409: a version moved on, a
    login taken, a delegation already revoked...)."""
    if not path.startswith("/api/"):
        return ()
    codes = ["401", "403", "404", "429"]
    if operation.request_body is not None:
        codes.append("413")
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
    return tuple(codes)


def _error_description(code: int, fallback: str) -> str:
    known = _STATUS_CODES.get(code)
    return t(known[1]) if known else fallback


def validation_failed(exc: Exception) -> ValidationFailed:
    """A msgspec validation error of a body built from a form (the staff web) as the API words
    it: the same Russian message naming the field."""
    return ValidationFailed(_field_error({"message": str(exc)})["message"])
