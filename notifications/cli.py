"""`parta worker`: the notifications worker as a process of its own (registered with the
`parta` command through the `parta.commands` entry point)."""

from __future__ import annotations

import asyncio

import click

from backend.i18n import t
from backend.settings import Settings


@click.command(help=t("cli.help.worker"))
@click.option("--check", is_flag=True, help=t("cli.option.worker_check"))
def worker(check: bool) -> None:
    """Run the background worker (notification deliveries, digests, receipts); `--check`:
    exit 0 when a worker of this host reports to Redis (a container's health check)."""
    from notifications.worker import event_loop_factory, run_worker

    if check:
        raise SystemExit(asyncio.run(_check(Settings())))
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run_worker(Settings()))


async def _check(settings: Settings) -> int:
    from backend.core.redis import make_redis
    from notifications.worker import worker_alive

    redis = make_redis(settings)
    try:
        alive = await worker_alive(redis, settings.notify_queue)
    finally:
        await redis.aclose()
    click.echo(t("cli.worker_alive" if alive else "cli.worker_silent"), err=not alive)
    return 0 if alive else 1
