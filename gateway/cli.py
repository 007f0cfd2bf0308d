"""`parta gateway`: the on-site process (registered through the `parta.commands` entry point).

Configured from the environment: PARTA_GATEWAY_URL (the server), PARTA_GATEWAY_ID and
PARTA_GATEWAY_KEY (from the school's gateway registration), PARTA_GATEWAY_DB (the outbox file),
PARTA_GATEWAY_SPOOL (a JSON-lines file of passes to read), and for ZKTeco panels posting
their passes (gateway/adapters/zkteco.py): PARTA_GATEWAY_ZKTECO_LISTEN (host:port the panels
are pointed at), PARTA_GATEWAY_ZKTECO_DOORS (SERIAL:DOOR=POINT[:in|out],...),
PARTA_GATEWAY_ZKTECO_CARD_FORMAT (wiegand34 by default) and PARTA_GATEWAY_TIME_ZONE (the
panels' clock, Europe/Moscow by default). PARTA_GATEWAY_CONTROLLER_SKEW_SECONDS: how far the
controllers' clock is off this computer's (what a batch's `sent_at` says; the simulator's
--skew-seconds).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from backend.i18n import t

if TYPE_CHECKING:
    from gateway.adapters.base import Adapter
    from gateway.adapters.zkteco import ZktecoPushAdapter
    from gateway.outbox import Outbox


def zkteco_adapter(listen: str, outbox: Outbox) -> ZktecoPushAdapter:
    from zoneinfo import ZoneInfo

    from gateway.adapters.zkteco import ZktecoConfig, ZktecoPushAdapter, parse_doors

    _, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise click.UsageError(t("cli.gateway.bad_setting", name="PARTA_GATEWAY_ZKTECO_LISTEN"))
    try:
        doors = parse_doors(os.environ.get("PARTA_GATEWAY_ZKTECO_DOORS", ""))
    except ValueError:
        raise click.UsageError(
            t("cli.gateway.bad_setting", name="PARTA_GATEWAY_ZKTECO_DOORS")
        ) from None
    config = ZktecoConfig(
        doors=doors,
        time_zone=ZoneInfo(os.environ.get("PARTA_GATEWAY_TIME_ZONE", "Europe/Moscow")),
        card_format=os.environ.get("PARTA_GATEWAY_ZKTECO_CARD_FORMAT", "wiegand34"),
    )
    return ZktecoPushAdapter(config, outbox)


@click.command(help=t("cli.help.gateway"))
def gateway() -> None:
    from gateway.adapters.jsonl import JsonLinesAdapter
    from gateway.outbox import Outbox
    from gateway.run import run_gateway
    from gateway.uploader import Uploader, make_client

    def need(name: str) -> str:
        value = os.environ.get(name, "")
        if not value:
            raise click.UsageError(t("cli.gateway.missing", name=name))
        return value

    url, gateway_id, key = (
        need("PARTA_GATEWAY_URL"),
        need("PARTA_GATEWAY_ID"),
        need("PARTA_GATEWAY_KEY"),
    )
    outbox = Outbox(os.environ.get("PARTA_GATEWAY_DB", "parta-gateway.sqlite"))
    adapters: list[Adapter] = []
    listeners: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
    if os.environ.get("PARTA_GATEWAY_SPOOL") or not os.environ.get("PARTA_GATEWAY_ZKTECO_LISTEN"):
        adapters.append(JsonLinesAdapter(need("PARTA_GATEWAY_SPOOL")))
    if listen := os.environ.get("PARTA_GATEWAY_ZKTECO_LISTEN"):
        zk = zkteco_adapter(listen, outbox)
        adapters.append(zk)
        host, _, port = listen.rpartition(":")
        listeners.append(lambda stop: zk.serve(host or "0.0.0.0", int(port), stop))  # noqa: S104

    skew_text = os.environ.get("PARTA_GATEWAY_CONTROLLER_SKEW_SECONDS", "0")
    try:
        skew = int(skew_text)
    except ValueError:
        raise click.UsageError(
            t("cli.gateway.bad_setting", name="PARTA_GATEWAY_CONTROLLER_SKEW_SECONDS")
        ) from None

    async def main() -> None:
        async with make_client(url) as client:
            uploader = Uploader(outbox, client, int(gateway_id), key)
            if skew:
                uploader.controller_clock = lambda: datetime.now(UTC) + timedelta(seconds=skew)
            await run_gateway(outbox, adapters, uploader, listeners=listeners)

    asyncio.run(main())
