"""Access tokens (short-lived JWTs carrying the grants) and opaque one-time secrets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from datetime import timedelta
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from redis.asyncio import Redis

from backend.core.rights import Grant, Principal

REVOKED_SESSION_KEY = "parta:auth:revoked-session:{sid}"
REVOKED_SESSIONS = "parta:auth:revoked-sessions"  # sorted set: session id -> until (epoch s)
REVOKED_CHANNEL = "parta:auth:revoked"  # pub/sub: a session id, as it is revoked
# A person's grants were taken away at <since>: their access tokens issued before it are stale.
# In the sorted set and on the channel as "grants:<user id>:<since>", beside the session ids.
GRANTS_CHANGED_KEY = "parta:auth:grants-changed:{uid}"
_GRANTS = "grants:"

log = logging.getLogger("parta.auth")


def digest(secret: str) -> str:
    """What we keep of a refresh token or a one-time code: never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def new_numeric_code(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def new_activation_code() -> str:
    """Easy to type from a paper slip: 12 characters without look-alikes, in groups of four."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def normalize_activation_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


class VerifiedTokensMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware that remembers tokens it has verified.

    An app sends the same access token with every request for up to its lifetime; checking the
    signature and building the principal again each time was a tenth of a diary read. A token
    seen before (the exact same string) and not yet expired skips both; whether its session was
    revoked (logout) is still asked on every request, so a logout takes effect at once.
    """

    remembered = 4096  # tokens per worker process

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        verified: OrderedDict[str, tuple[float, AuthenticationResult]] = self.__dict__.setdefault(
            "_verified", OrderedDict()
        )
        hit = verified.get(encoded_token)
        if hit is None or hit[0] <= time.time():
            result = await super().authenticate_token(encoded_token, connection)
            verified[encoded_token] = (result.auth.exp.timestamp(), result)
            if len(verified) > self.remembered:
                verified.popitem(last=False)
            return result
        result = hit[1]
        if self.revoked_token_handler and await self.revoked_token_handler(result.auth, connection):
            raise NotAuthorizedException()
        return result


class KeyCheckedOnceHMAC(HMACAlgorithm):
    """PyJWT's HMAC, checking a secret once rather than for every token.

    Before each signature check PyJWT makes sure the HMAC secret is not an asymmetric key, an
    SSH key, a DER certificate or a JWK (trying to parse it as JSON): a third of the time a
    token's verification takes. Parta signs with one secret for the life of the process, so
    the outcome of those checks is remembered per secret; a secret that fails them still
    fails every time (nothing is remembered then).
    """

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._checked: dict[str | bytes, bytes] = {}

    def prepare_key(self, key: str | bytes) -> bytes:
        prepared = self._checked.get(key)
        if prepared is None:
            prepared = super().prepare_key(key)
            if len(self._checked) < 8:  # the app's secret, and a few made up by tests
                self._checked[key] = prepared
        return prepared


def check_hmac_keys_once() -> None:
    """Have PyJWT verify HS256 tokens with `KeyCheckedOnceHMAC` (idempotent)."""
    if not isinstance(jwt.get_algorithm_by_name(ALGORITHM), KeyCheckedOnceHMAC):
        jwt.unregister_algorithm(ALGORITHM)
        jwt.register_algorithm(ALGORITHM, KeyCheckedOnceHMAC(HMACAlgorithm.SHA256))


ALGORITHM = "HS256"


def build_jwt_auth(
    secret: str, lifetime: timedelta, exclude: list[str]
) -> JWTAuth[Principal, Token]:
    """Litestar's JWT support, wired to read principals from tokens and honour logouts."""
    check_hmac_keys_once()
    return JWTAuth[Principal, Token](
        algorithm=ALGORITHM,
        retrieve_user_handler=retrieve_principal,
        revoked_token_handler=is_session_revoked,
        token_secret=secret,
        default_token_expiration=lifetime,
        exclude=exclude,
        exclude_opt_key="exclude_from_auth",
        description="Токен доступа из /api/v1/auth/login",
        authentication_middleware_class=VerifiedTokensMiddleware,
    )


class AccessTokens:
    """Issues access tokens through Litestar's JWT support and reads principals back from them."""

    def __init__(self, jwt_auth: JWTAuth[Principal, Token], lifetime: timedelta) -> None:
        self.jwt_auth = jwt_auth
        self.lifetime = lifetime

    @classmethod
    def unused(cls) -> AccessTokens:
        """For commands that create accounts but never sign anyone in."""
        return cls(build_jwt_auth(secrets.token_urlsafe(48), timedelta(0), []), timedelta(0))

    def issue(self, user_id: int, grants: list[Grant], session_id: str, name: str) -> str:
        return self.jwt_auth.create_token(
            identifier=str(user_id),
            token_expiration=self.lifetime,
            token_unique_jwt_id=uuid.uuid4().hex,
            token_extras={
                "sid": session_id,
                # When it was issued, to the microsecond (`iat` counts whole seconds): a grant
                # revoked in the same second as a refresh must not pass or stop the new token.
                "t": time.time(),
                "name": name,
                "grants": [g.to_claim() for g in grants],
            },
        )


def principal_from_token(token: Token) -> Principal:
    extras: dict[str, Any] = token.extras or {}
    return Principal(
        user_id=int(token.sub),
        grants=tuple(Grant.from_claim(c) for c in extras.get("grants", [])),
        session_id=str(extras.get("sid", "")),
        display_name=str(extras.get("name", "")),
    )


async def retrieve_principal(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal:
    """Litestar's `retrieve_user_handler`: the token is the whole truth, no database trip."""
    return principal_from_token(token)


class RevokedSessions:
    """Which sessions are revoked (logout, a reused refresh token, a password change), known in
    each API process without a Redis round trip per request.

    Revoking writes the session to Redis (a key per session with the access tokens' lifetime,
    and a sorted set by expiry) and publishes its id. Each process follows the channel: on
    (re)subscribing it loads the sorted set, then adds what is published. While it follows, a
    check is a dictionary lookup; when it does not (not started, connection lost) a check asks
    Redis, as before. A message in flight when a request arrives is the only window, the same as
    that request arriving a moment earlier.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # Pub/sub channels are shared by every database of a Redis server: the channel names
        # the database, or two installations (or two test runs) on one server would revoke
        # each other's users' tokens by user id.
        pool = getattr(redis, "connection_pool", None)
        database = getattr(pool, "connection_kwargs", {}).get("db", 0) if pool else 0
        self.channel = f"{REVOKED_CHANNEL}:{database}"
        self._until: dict[str, float] = {}
        self._grants_changed: dict[int, float] = {}  # user id -> since (epoch s)
        self._live = False
        self._task: asyncio.Task[None] | None = None

    def _note(self, member: str, until: float) -> None:
        if member.startswith(_GRANTS):
            _, uid, since = member.split(":")
            user_id = int(uid)
            self._grants_changed[user_id] = max(
                self._grants_changed.get(user_id, 0.0), float(since)
            )
        else:
            self._until[member] = until

    async def grants_changed(self, user_id: int, seconds: int) -> None:
        """A grant of this person was revoked: their access tokens issued until now carry it,
        so every process refuses them from now on (the app refreshes and gets the grants that
        are left). Kept as long as such a token can live."""
        since = time.time()
        member = f"{_GRANTS}{user_id}:{since}"
        until = since + seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(GRANTS_CHANGED_KEY.format(uid=user_id), str(since), ex=seconds)
            pipe.zadd(REVOKED_SESSIONS, {member: until})
            pipe.zremrangebyscore(REVOKED_SESSIONS, 0, time.time())
            pipe.publish(self.channel, f"{member} {until}")
            await pipe.execute()
        self._note(member, until)

    async def grants_changed_since(self, user_id: int, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` carries grants since taken away."""
        if self._live:
            since = self._grants_changed.get(user_id)
        else:
            raw = await self.redis.get(GRANTS_CHANGED_KEY.format(uid=user_id))
            since = float(raw) if raw else None
        return since is not None and issued_at < since

    async def revoke(self, session_id: str, seconds: int) -> None:
        until = time.time() + seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(REVOKED_SESSION_KEY.format(sid=session_id), "1", ex=seconds)
            pipe.zadd(REVOKED_SESSIONS, {session_id: until})
            pipe.zremrangebyscore(REVOKED_SESSIONS, 0, time.time())
            pipe.publish(self.channel, f"{session_id} {until}")
            await pipe.execute()
        self._until[session_id] = until

    async def is_revoked(self, session_id: str) -> bool:
        if not session_id:
            return True
        if self._live:
            return self._until.get(session_id, 0.0) > time.time()
        return bool(await self.redis.exists(REVOKED_SESSION_KEY.format(sid=session_id)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        self._live = False
        if self._task is not None:
            self._task.cancel()
            # A shutdown never hangs on this: the subscription is given a few seconds to close.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5)
            self._task = None

    async def _follow(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                now = time.time()
                known: list[tuple[Any, float]] = await self.redis.zrangebyscore(
                    REVOKED_SESSIONS, now, "+inf", withscores=True
                )  # type: ignore[assignment]
                for member, until in known:
                    sid = member.decode() if isinstance(member, bytes) else str(member)
                    self._note(sid, float(until))
                self._until = {k: v for k, v in self._until.items() if v > now}
                # A change older than a day no longer matters: tokens live minutes.
                self._grants_changed = {
                    k: v for k, v in self._grants_changed.items() if v > now - 86400
                }
                self._live = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                    if message is None:
                        continue
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    sid, _, until_text = text.partition(" ")
                    self._note(sid, float(until_text or time.time() + 3600))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("following revoked sessions failed; asking Redis until it is back")
            finally:
                self._live = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 2)
            await asyncio.sleep(1)


async def is_session_revoked(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Litestar's `revoked_token_handler`: a revoked session's tokens are refused at once."""
    revoked: RevokedSessions = connection.app.state.revoked_sessions
    extras = token.extras or {}
    if await revoked.is_revoked(str(extras.get("sid", ""))):
        return True
    issued = extras.get("t")
    issued_at = float(issued) if isinstance(issued, int | float) else token.iat.timestamp()
    if await revoked.grants_changed_since(int(token.sub), issued_at):
        # Not an ended session: the app refreshes its token and goes on with what is left.
        raise NotAuthorizedException("Token expired: the grants it carries have changed")
    return False
