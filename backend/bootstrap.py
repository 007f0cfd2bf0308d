"""The composition root: every Parta process (the API, the worker, the commands, the bot) starts
here, so a change made in any of them has the same effects.

`build(settings)` makes the database engine, Redis and the services from the settings passed
in; `Parta.start()` binds the engine to every context's tables, opens it and subscribes the
listeners between contexts (the diary follows the timetable, decision 0354); `Parta.stop()`
undoes it. `running(settings)` does both around a block, for commands.

The registry of bounded contexts lives here too: which modules hold tables, in dependency order.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType

from litestar.security.jwt import JWTAuth
from piccolo.conf.apps import AppConfig
from piccolo.engine.base import Engine
from piccolo.table import Table, sort_table_classes
from redis.asyncio import Redis

from backend.accounts.passwords import Passwords
from backend.accounts.services import AccountsService
from backend.accounts.tokens import AccessTokens, RevokedSessions, build_jwt_auth
from backend.core import db
from backend.core.db_index import Index, Trigger
from backend.core.redis import make_redis
from backend.core.storage import LocalStorage
from backend.journal.diary import refresh_projections
from backend.journal.timetable_follow import follow_timetable
from backend.journal.weeks import DiaryWeeks
from backend.meals.payments import Payments
from backend.schools import services as schools
from backend.schools.people import services as people
from backend.settings import Settings

# The bounded contexts, in dependency order. Each module defines its tables and `APP_CONFIG`
# (a new context adds its `tables` module here; `backend.piccolo_conf` reads this list too).
CONTEXT_MODULES: tuple[str, ...] = (
    "backend.schools.tables",
    "backend.accounts.tables",
    "backend.audit.tables",
    "backend.events.tables",
    "backend.admin.tables",
    "backend.journal.tables",
    "backend.messaging.tables",
    "backend.meals.tables",
    "backend.access.tables",
)

# Paths the API answers without a token (the JWT middleware is built with the services).
UNAUTHENTICATED_PATHS = ["^/$", "^/schema", "^/metrics", "^/health$", "^/ready$"]


def context_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in CONTEXT_MODULES]


def app_configs() -> list[AppConfig]:
    return [module.APP_CONFIG for module in context_modules()]


def all_tables() -> list[type[Table]]:
    tables: list[type[Table]] = []
    for config in app_configs():
        tables.extend(config.table_classes)
    return sort_table_classes(tables)


def all_indexes() -> list[Index]:
    indexes: list[Index] = []
    for module in context_modules():
        indexes.extend(getattr(module, "INDEXES", []))
    return indexes


def all_triggers() -> list[Trigger]:
    triggers: list[Trigger] = []
    for module in context_modules():
        triggers.extend(getattr(module, "TRIGGERS", []))
    return triggers


def token_secret(settings: Settings) -> str:
    """Production refuses to start without a real secret; demo and tests may make one up."""
    if settings.environment == "production" or settings.secret_key.get_secret_value():
        return settings.require_secret()
    return secrets.token_urlsafe(48)


@dataclass
class Parta:
    """One process's engine, Redis and services, built from its settings."""

    settings: Settings
    engine: Engine
    redis: Redis
    jwt_auth: JWTAuth
    accounts: AccountsService
    revoked_sessions: RevokedSessions
    diary_weeks: DiaryWeeks
    storage: LocalStorage
    payments: Payments
    owns_engine: bool = True
    owns_redis: bool = True
    _unsubscribe: list[Callable[[], None]] = field(default_factory=list)

    async def start(self) -> None:
        """Bind and open the engine, then subscribe the listeners between contexts."""
        db.bind_engine(self.engine, all_tables())
        await db.open_engine(self.engine, self.settings)
        self.subscribe()

    def subscribe(self) -> None:
        """Listeners that must run in whichever process makes the change."""
        if not self._unsubscribe:
            self._unsubscribe.append(follow_timetable(self.diary_weeks))

    async def stop(self) -> None:
        """Unsubscribe, stop background rebuilds, close what this object opened."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        await self.diary_weeks.close()
        if self.owns_engine:
            await db.close_engine(self.engine)
        if self.owns_redis:
            await self.redis.aclose()


def build(
    settings: Settings,
    *,
    engine: Engine | None = None,
    redis: Redis | None = None,
    redis_connections: int | None = None,
) -> Parta:
    """Build everything a process needs; opens nothing. An `engine` or `redis` passed in is
    shared with the caller (the embedded demo runs the worker in the API's process) and is not
    closed by `Parta.stop()`. `redis_connections`: see `backend.core.redis.make_redis`."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    jwt_auth = build_jwt_auth(token_secret(settings), lifetime, UNAUTHENTICATED_PATHS)
    the_redis = redis or make_redis(settings, connections=redis_connections)
    revoked_sessions = RevokedSessions(the_redis)
    accounts = AccountsService(
        settings,
        the_redis,
        Passwords(fast=settings.environment == "test"),
        AccessTokens(jwt_auth, lifetime),
        revoked_sessions,
        place_scope=schools.scope_target,
        code_activated=people.account_activated,
    )
    return Parta(
        settings=settings,
        engine=engine or db.make_engine(settings),
        redis=the_redis,
        jwt_auth=jwt_auth,
        accounts=accounts,
        revoked_sessions=revoked_sessions,
        diary_weeks=DiaryWeeks(refresh=refresh_projections),
        storage=LocalStorage(settings.media_root),
        payments=Payments.from_settings(settings),
        owns_engine=engine is None,
        owns_redis=redis is None,
    )


@asynccontextmanager
async def running(settings: Settings, **kwargs: object) -> AsyncIterator[Parta]:
    """Build, start, and stop at the end of the block (commands and scripts)."""
    parta = build(settings, **kwargs)  # type: ignore[arg-type]
    await parta.start()
    try:
        yield parta
    finally:
        await parta.stop()


async def create_tables(engine: Engine) -> None:
    """Create every context's tables, indexes and triggers directly (tests, benchmarks);
    production and the demo use migrations."""
    await db.create_tables(engine, all_tables(), all_indexes(), all_triggers())


async def migrate() -> None:
    """Apply every context's migrations (`parta migrate`)."""
    await db.migrate(app_configs())
