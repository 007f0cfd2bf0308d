"""`parta worker`: the notifications worker as a process of its own (registered with the
`parta` command through the `parta.commands` entry point)."""

from __future__ import annotations

import asyncio

import click

from backend.i18n import t
from backend.settings import Settings


@click.command(help=t("cli.help.worker"))
def worker() -> None:
    """Run the background worker (notification deliveries, digests, receipts)."""
    from notifications.worker import event_loop_factory, run_worker

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run_worker(Settings()))
