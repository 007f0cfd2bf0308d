"""`parta bot`: the family bot as a process of its own (registered with the `parta` command
through the `parta.commands` entry point)."""

from __future__ import annotations

import asyncio

import click

from backend.i18n import t
from backend.settings import Settings


@click.command(help=t("cli.help.bot"))
def bot() -> None:
    """Run the family bot (Telegram; long polling or webhooks, PARTA_BOT_MODE)."""
    from bots.runner import run_bot

    asyncio.run(run_bot(Settings()))
