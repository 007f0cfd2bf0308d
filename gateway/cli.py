"""`parta gateway`: the on-site process (registered through the `parta.commands` entry point).

Configured from the environment: PARTA_GATEWAY_URL (the server), PARTA_GATEWAY_ID and
PARTA_GATEWAY_KEY (from the school's gateway registration), PARTA_GATEWAY_DB (the outbox file),
PARTA_GATEWAY_SPOOL (a JSON-lines file of passes to read).
"""

from __future__ import annotations

import asyncio
import os

import click
import httpx

from backend.i18n import t


@click.command(help=t("cli.help.gateway"))
def gateway() -> None:
    from gateway.adapters.jsonl import JsonLinesAdapter
    from gateway.outbox import Outbox
    from gateway.run import run_gateway
    from gateway.uploader import Uploader

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
    adapters = [JsonLinesAdapter(need("PARTA_GATEWAY_SPOOL"))]

    async def main() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            uploader = Uploader(outbox, client, int(gateway_id), key)
            await run_gateway(outbox, adapters, uploader)

    asyncio.run(main())
