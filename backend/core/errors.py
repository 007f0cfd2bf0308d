"""Domain errors: one type per failure, each mapped once to an HTTP status and a Russian message.

Services raise these; `backend.core.http_errors` turns them (and Litestar's own exceptions) into
`{"error": code, "message": text, "details": ...}` responses.
"""

from __future__ import annotations

from typing import Any

from backend.i18n import t


class DomainError(Exception):
    """Base of every expected failure. `code` is stable for clients; `message` is for people."""

    status_code = 400
    code = "bad_request"
    message_key = "error.bad_request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        key: str | None = None,
        **params: Any,
    ) -> None:
        self.message = message if message is not None else t(key or self.message_key, **params)
        self.details = details
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_error"
    message_key = "error.validation"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"
    message_key = "error.not_authenticated"


class InvalidCredentials(DomainError):
    status_code = 401
    code = "invalid_credentials"
    message_key = "auth.invalid_credentials"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    message_key = "error.forbidden"


class NotFound(DomainError):
    """Also used where an object exists but the asker may not know it does."""

    status_code = 404
    code = "not_found"
    message_key = "error.not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message_key = "error.conflict"


class Throttled(DomainError):
    status_code = 429
    code = "too_many_requests"
    message_key = "error.too_many_requests"

    def __init__(self, *, retry_after: int, key: str | None = None, **params: Any) -> None:
        self.retry_after = retry_after
        params.setdefault("seconds", retry_after)
        params.setdefault("minutes", max(1, (retry_after + 59) // 60))
        super().__init__(key=key, details={"retry_after": retry_after}, **params)
