"""Signing in to the staff pages (the web admin's tasks and the staff web): one mechanism.

The sign-in form posts a login and password to the accounts service (with its throttling); the
access token is kept in an HttpOnly, SameSite=Strict cookie limited to `/admin` and read back
here, checked for revocation like a bearer token. Every form (and every HTMX request, in the
`X-CSRF-Token` header) carries a CSRF token that must equal a second cookie (double submit).
Decisions 0101 and 1000.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from backend.accounts.services import AccountsService
from backend.accounts.tokens import REVOKED_SESSION_KEY, principal_from_token
from backend.core.context import Actor
from backend.core.errors import Forbidden
from backend.core.http import client_ip
from backend.core.rights import Principal

TOKEN_COOKIE = "parta_admin"
CSRF_COOKIE = "parta_admin_csrf"
COOKIE_PATH = "/admin"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/admin/tasks/login"


def _token_secret(request: Request[Any, Any, Any]) -> tuple[str, str]:
    accounts: AccountsService = request.app.state.accounts
    auth = accounts.tokens.jwt_auth
    return auth.token_secret, auth.algorithm


async def principal_from_cookie(request: Request[Any, Any, Any]) -> Principal | None:
    raw = request.cookies.get(TOKEN_COOKIE)
    if not raw:
        return None
    secret, algorithm = _token_secret(request)
    try:
        token = Token.decode(raw, secret, algorithm)
    except NotAuthorizedException:
        return None
    sid = (token.extras or {}).get("sid")
    if not sid or await request.app.state.redis.exists(REVOKED_SESSION_KEY.format(sid=sid)):
        return None
    return principal_from_token(token)


def actor_of(request: Request[Any, Any, Any], principal: Principal) -> Actor:
    return Actor(
        principal=principal,
        ip=client_ip(request),
        request_id=str(request.scope.get("state", {}).get("request_id", "")),
        user_agent=request.headers.get("user-agent", "")[:300],
    )


def csrf_token(request: Request[Any, Any, Any]) -> str:
    return request.cookies.get(CSRF_COOKIE, "")


def check_csrf(request: Request[Any, Any, Any], form: dict[str, Any] | None = None) -> None:
    """The form's `csrf` field (or the `X-CSRF-Token` header) must equal the CSRF cookie;
    refused before anything else is looked at."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = str((form or {}).get("csrf", "")) or request.headers.get(CSRF_HEADER, "")
    if not expected or not secrets.compare_digest(expected, given):
        raise Forbidden(key="admin.csrf")


def csrf_cookie(value: str) -> Cookie:
    return Cookie(key=CSRF_COOKIE, value=value, path=COOKIE_PATH, samesite="strict", httponly=True)


def token_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    return Cookie(
        key=TOKEN_COOKIE,
        value=token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )
