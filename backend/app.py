"""The application factory: `create_app(settings)` builds the Litestar app; nothing runs at import.

The services, engine and Redis come from the composition root (`backend.bootstrap.build`);
the lifespan starts and stops them. Everything a request needs is reached through `app.state`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.static_files import create_static_files_router
from piccolo.engine.base import Engine
from redis.asyncio import Redis
from swagger_ui_bundle import swagger_ui_path

from backend import bootstrap
from backend.access.api import CONTROLLERS as ACCESS_CONTROLLERS
from backend.accounts.api import AccountsController, AuthController
from backend.admin.piccolo import piccolo_admin_handler
from backend.admin.tasks import AdminTasksController, admin_start
from backend.audit.api import AuditController
from backend.core.embedded import Companion
from backend.core.http import (
    RequestIdMiddleware,
    add_security_headers,
    client_ip,
    provide_actor,
    provide_principal,
    trusted_networks,
)
from backend.core.http_errors import EXCEPTION_HANDLERS, document_errors
from backend.core.metrics import PrometheusMetricsMiddleware, metrics_controller
from backend.core.openapi_types import TimeOfDaySchemaPlugin
from backend.core.rate_limit import CounterRateLimitMiddleware, RateLimitStore
from backend.core.text_input import ControlCharacterMiddleware
from backend.journal.api import DiaryController, JournalController, MarkingCatalogController
from backend.logs import configure_logging
from backend.meals.api import CONTROLLERS as MEALS_CONTROLLERS
from backend.messaging.api import MessagingController
from backend.ops.api import health, ready, root
from backend.ops.metrics import SystemMetrics
from backend.reports.api import ReportsController
from backend.schools.people.api import CONTROLLERS as PEOPLE_CONTROLLERS
from backend.schools.structure.api import STRUCTURE_CONTROLLERS
from backend.schools.timetable.api import TIMETABLE_CONTROLLERS
from backend.settings import Settings
from backend.web.pages import TEMPLATES
from backend.web.routes import CONTROLLERS as STAFF_WEB

API_VERSION = "1.0.0"
# The API documentation's page scripts are served by Parta itself (the swagger-ui-bundle
# package), so /schema works on a school network with no way out to a CDN.
SWAGGER_ASSETS = "/schema/assets"


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    redis: Redis | None = None,
    route_handlers: list[Any] | None = None,
    companions: Sequence[Companion] = (),
) -> Litestar:
    """Build the API. `engine`/`redis` may be passed in to share them with the caller (the
    embedded demo runs the worker in the same process); the app then does not close them.
    `companions` (backend.core.embedded) start after the database opens and stop before it
    closes."""
    configure_logging(settings)
    parta = bootstrap.build(settings, engine=engine, redis=redis)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await parta.start()
        parta.revoked_sessions.start()
        # Everything built so far (modules, the app, its routes) lives as long as the process:
        # move it out of the garbage collector's sight, so its full collections stay short
        # instead of pausing every request for ~150 ms now and then, and collect less often
        # (a request makes a few hundred short-lived objects). Diary reads: p99 190 -> 30 ms.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        started: list[Companion] = []
        try:
            for companion in companions:
                await companion.start()
                started.append(companion)
            yield
        finally:
            for companion in reversed(started):
                await companion.stop()
            await parta.revoked_sessions.stop()
            await parta.stop()

    rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.api_rate_limit_per_minute),
        exclude=bootstrap.UNAUTHENTICATED_PATHS,
        middleware_class=CounterRateLimitMiddleware,
        identifier_for_request=client_ip,
    )
    prometheus = PrometheusConfig(
        app_name="parta",
        prefix="parta",
        group_path=True,
        middleware_class=PrometheusMetricsMiddleware,
    )

    system_metrics = SystemMetrics(parta.engine, parta.redis, settings.notify_queue)
    metrics = metrics_controller(
        settings.metrics_token.get_secret_value(), refresh=system_metrics.refresh
    )
    handlers: list[Any] = [
        root,
        health,
        ready,
        *([metrics] if metrics else []),
        AuthController,
        AccountsController,
        AuditController,
        *PEOPLE_CONTROLLERS,
        *STRUCTURE_CONTROLLERS,
        *TIMETABLE_CONTROLLERS,
        admin_start,
        AdminTasksController,
        piccolo_admin_handler(),
        *STAFF_WEB,
        JournalController,
        MarkingCatalogController,
        DiaryController,
        ReportsController,
        MessagingController,
        *MEALS_CONTROLLERS,
        *ACCESS_CONTROLLERS,
        *(route_handlers or []),
        create_static_files_router(
            path=SWAGGER_ASSETS, directories=[swagger_ui_path], include_in_schema=False
        ),
    ]
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "engine": parta.engine,
                "redis": parta.redis,
                "accounts": parta.accounts,
                "diary_weeks": parta.diary_weeks,
                "revoked_sessions": parta.revoked_sessions,
                "storage": parta.storage,
                "payments": parta.payments,
                "system_metrics": system_metrics,
                "trusted_networks": trusted_networks(settings.trusted_proxies),
            }
        ),
        dependencies={"actor": Provide(provide_actor), "principal": Provide(provide_principal)},
        middleware=[
            RequestIdMiddleware(),
            prometheus.middleware,
            rate_limit.middleware,
            ControlCharacterMiddleware(),
        ],
        before_send=[add_security_headers],
        on_app_init=[parta.jwt_auth.on_app_init],
        stores={"rate_limit": RateLimitStore(parta.redis, namespace="parta:ratelimit")},
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[TimeOfDaySchemaPlugin()],
        template_config=TEMPLATES,
        cors_config=CORSConfig(allow_origins=settings.cors_origins)
        if settings.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="Парта API",
            version=API_VERSION,
            description="Электронный журнал и дневник, питание, проходы и уведомления.",
            path="/schema",
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
                ),
                # Scalar's page loads its script from a CDN: only where the browser can reach it.
                ScalarRenderPlugin(path="/scalar"),
            ],
        ),
        request_max_body_size=settings.request_max_body_bytes,
        logging_config=None,
        debug=False,
    )
    # The document is built once; say in it what the errors really look like.
    document_errors(app.openapi_schema)
    return app
