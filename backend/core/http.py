"""HTTP conventions shared by every controller: the actor, guards, pagination, request ids."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Generic, TypeVar

import msgspec
import structlog
from litestar import HttpMethod, Request
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import Parameter
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from backend.core.context import Actor
from backend.core.errors import Forbidden, NotAuthenticated
from backend.core.rights import Permission, Principal, Role

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
# A request id names a request in the logs; it is no secret. The process's random prefix and a
# counter make it unique without asking the system for random bytes on every request (a forked
# process takes a prefix of its own).
_id_prefix = ""
_id_counter = itertools.count(1)


def _new_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = uuid.uuid4().hex[:16], itertools.count(1)


_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def _new_request_id() -> str:
    return f"{_id_prefix}{next(_id_counter):016x}"


T = TypeVar("T")


# Pagination parameters: `?limit=50&offset=0` on every list.
Limit = Annotated[int, Parameter(ge=1, le=500, description="Сколько записей вернуть")]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000_000, description="Сколько записей пропустить")]


@dataclass
class FileForm:
    """An upload: a multipart form whose file travels in the part `data` (FILE_PART). A form
    without it, or with text in its place, answers 400 naming the part."""

    data: UploadFile


class Page(msgspec.Struct, Generic[T]):
    """A page of a list: `items`, how many there are in all, and where this page starts."""

    items: list[T]
    total: int
    limit: int
    offset: int


def trusted_networks(proxies: list[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str, trusted: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address a request comes from: the connection's peer, or, when the peer is a trusted
    proxy (`PARTA_TRUSTED_PROXIES`), the first address of X-Forwarded-For that is not one,
    counting from the right (the addresses left of it are whatever the client wrote)."""
    client = connection.client
    peer = client.host if client else ""
    trusted = connection.app.state.get("trusted_networks") or ()
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthenticated()
    return user


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """Dependency: who is asking, from where, under which request id."""
    user = request.scope.get("user")
    return Actor(
        principal=user if isinstance(user, Principal) else None,
        ip=client_ip(request),
        request_id=str(request.scope.get("state", {}).get("request_id", "")),
        user_agent=request.headers.get("user-agent", "")[:300],
    )


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


# Guards are coroutines: Litestar runs a plain function guard in a thread pool, a hop per request
# that cost the hot diary path more than the check itself.


def requires(*permissions: Permission) -> Callable[..., Awaitable[None]]:
    """Guard: the caller holds at least one of `permissions` somewhere. Scope is then checked
    by the service against the object (a teacher of school A is refused school B's pupils)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not any(principal.has_permission(p) for p in permissions):
            raise Forbidden()

    guard.__name__ = "requires_" + "_or_".join(p.value.replace(".", "_") for p in permissions)
    guard.__qualname__ = guard.__name__
    return guard


def requires_role(*roles: Role) -> Callable[..., Awaitable[None]]:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not principal_of(connection).has_role(*roles):
            raise Forbidden()

    guard.__name__ = "requires_role_" + "_or_".join(r.value for r in roles)
    return guard


class _GuardedInPlace(HTTPRouteHandler):
    """Litestar's route handler, handing guards the handler itself rather than a copy of it.
    (Litestar copies the handler, some sixty fields, for every guard of every request, in case
    a guard changes it: 6 % of a diary read's time. Parta's guards only look at the
    connection.)"""

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]


def hot_get(path: str, **kwargs: Any) -> HTTPRouteHandler:
    """`@get` for the API's hottest reads (the diary's week): see `_GuardedInPlace`."""
    return _GuardedInPlace(path, http_method=HttpMethod.GET, **kwargs)


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: any signed-in person (their own profile, logout)."""
    principal_of(connection)


# Marks a handler as reachable without signing in (Litestar's JWT middleware skips it).
PUBLIC: dict[str, Any] = {"exclude_from_auth": True, "public": True}


def add_headers(message: HTTPResponseStartEvent, headers: list[tuple[bytes, bytes]]) -> None:
    """Add headers no one else sets to a response's start message. (Litestar's
    `MutableScopeHeaders` looks for an existing header of the same name first: a scan of the
    response's headers for every one set, on every response.)"""
    message["headers"] = [*message.get("headers", ()), *headers]


# Security headers (decision 0012). Every response: no type sniffing, no referrer. HTML pages
# refuse to be framed; Parta's own staff pages run no script but their own, while the API's
# documentation pages (Swagger's inline start-up, Scalar's CDN script) and the mounted Piccolo
# admin keep their scripts and get the rest of the policy. JSON gets the policy of a document
# that should never render anything. Personal data (all of /api/v1) is not stored by any cache,
# except where a handler chose its own Cache-Control (the diary's week: `private, no-cache`,
# so that its ETag can still be revalidated on the family's own device).
_COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_HTML_BASE = b"object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
_HTML_OWN = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; " + _HTML_BASE
)
_HTML_THIRD_PARTY_PATHS = ("/schema", "/admin")
_API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
_NO_STORE = (b"cache-control", b"no-store")


def security_headers(path: str, headers: Any) -> list[tuple[bytes, bytes]]:
    """The headers to add to a response to `path` that already carries `headers` (a header the
    handler set itself is left as it is)."""
    content_type = b""
    present: set[bytes] = set()
    for name, value in headers:
        lowered = name.lower()
        present.add(lowered)
        if lowered == b"content-type":
            content_type = value
    added = list(_COMMON_HEADERS)
    if content_type.startswith(b"text/html"):
        own = not path.startswith(_HTML_THIRD_PARTY_PATHS) or path.startswith("/admin/tasks")
        added.append((b"content-security-policy", _HTML_OWN if own else _HTML_BASE))
        added.append((b"x-frame-options", b"DENY"))
    else:
        added.append((b"content-security-policy", _API_POLICY))
    if path.startswith("/api/"):
        added.append(_NO_STORE)
    return [header for header in added if header[0] not in present]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook of the app: it sees every response, also those the router or the
    sign-in middleware answer before any route's middleware runs (404, 401)."""
    if message["type"] == "http.response.start":
        add_headers(message, security_headers(scope["path"], message.get("headers", ())))


class RequestIdMiddleware(ASGIMiddleware):
    """Gives each request an id (or keeps the caller's), logs with it, and echoes it back."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != "http":
            await next_app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == _REQUEST_ID_KEY), b"").decode()
        request_id = incoming[:64] if incoming.isprintable() and incoming else _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        echoed = (_REQUEST_ID_KEY, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(message, [echoed])
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


# Handler parameters filled by dependencies (Litestar 3 wants them marked, not inferred).
ActorDep = NamedDependency[Actor]
PrincipalDep = NamedDependency[Principal]
