"""The notifications worker: relays the outbox to a SAQ queue on Redis and runs its jobs
(fan-out, deliveries, digests). Any number of worker processes share the work: SAQ hands
each job to one of them, and the relay claims outbox rows with `FOR UPDATE SKIP LOCKED`.

`parta worker` runs `run_worker(settings)`; tests and the embedded demo run `NotifyWorker`
inside their own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from saq import Worker
from saq.queue.redis import RedisQueue

from backend.core import db
from backend.core.redis import make_redis
from backend.settings import Settings
from notifications.channels.base import Channel
from notifications.pipeline import Pipeline, utcnow

log = logging.getLogger("parta.notify.worker")


def build_channels(settings: Settings, pipeline_ref: list[Pipeline]) -> dict[str, Channel]:
    """The channels the settings configure; a channel without settings is simply absent (its
    deliveries are skipped and the next channel takes over)."""
    channels: dict[str, Channel] = {}
    if settings.fcm_credentials_file:
        from notifications.channels.push import PushChannel

        channels["push"] = PushChannel(
            settings.fcm_credentials_file, settings.fcm_project_id, settings.fcm_url
        )
    token = settings.telegram_bot_token.get_secret_value()
    if token:
        from notifications.channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(token, settings.telegram_api_url)
    if settings.smtp_host and settings.smtp_port:
        from notifications.channels.email import EmailChannel

        channels["email"] = EmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
        )
    use_http = settings.sms_http_url and (
        settings.sms_http_provider == "http" or not settings.sms_smpp_host
    )
    if use_http:
        from notifications.channels.sms import HttpSmsChannel

        channels["sms"] = HttpSmsChannel(
            settings.sms_http_url, settings.sms_http_token.get_secret_value(), settings.sms_sender
        )
    elif settings.sms_smpp_host:
        from notifications.channels.sms import SmppChannel

        async def receipt(provider_id: str, state: str) -> None:
            if pipeline_ref:
                await pipeline_ref[0].on_receipt(provider_id, state)

        channels["sms"] = SmppChannel(
            settings.sms_smpp_host,
            settings.sms_smpp_port,
            settings.sms_smpp_system_id,
            settings.sms_smpp_password.get_secret_value(),
            settings.sms_sender,
            on_receipt=receipt,
        )
    return channels


async def _fanout(
    ctx: dict[str, Any], *, event_ids: list[int] | None = None, event_id: int | None = None
) -> int:
    # `event_id`: a job of one event, as relays before batching enqueued them.
    pipeline: Pipeline = ctx["pipeline"]
    return await pipeline.fanout_many(list(event_ids or ()) + ([event_id] if event_id else []))


async def _deliver(ctx: dict[str, Any], *, delivery_id: int) -> str:
    pipeline: Pipeline = ctx["pipeline"]
    return await pipeline.deliver(delivery_id)


async def _digest(ctx: dict[str, Any], *, user_id: int, channel: str) -> str:
    pipeline: Pipeline = ctx["pipeline"]
    return await pipeline.digest(user_id, channel)


FUNCTIONS: list[Any] = [("fanout", _fanout), ("deliver", _deliver), ("digest", _digest)]


class NotifyWorker:
    """One worker: a SAQ worker for the jobs and a relay task for the outbox."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        *,
        channels: dict[str, Channel] | None = None,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int | None = None,
        relay: bool = True,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = RedisQueue(redis, name=settings.notify_queue)
        if type(redis).__module__.startswith("fakeredis"):
            # The in-process Redis of the embedded mode has no INFO command, which SAQ asks
            # only to learn the server's version, and its BLMOVE returns at once instead of
            # blocking (fakeredis 2.40), which turns SAQ's waiting dequeuers into a busy loop
            # that starves the event loop. Tell SAQ it speaks Redis 6.0: it then waits with
            # BRPOPLPUSH, which fakeredis blocks on properly.
            self.queue._version = (6, 0, 0)
        ref: list[Pipeline] = []
        self.channels = channels if channels is not None else build_channels(settings, ref)
        self.pipeline = Pipeline(settings, redis, self.queue, self.channels, clock=clock)
        ref.append(self.pipeline)
        self.worker = Worker(
            self.queue,
            functions=FUNCTIONS,
            concurrency=concurrency or settings.notify_concurrency,
            # Blocking pops return now and then (the in-process Redis of the embedded mode
            # does not wake a blocked pop otherwise).
            dequeue_timeout=1.0,
            startup=self._startup,
            # Sweep often: a job whose worker was killed is found and retried within seconds.
            timers={"schedule": 1, "sweep": 5, "abort": 1, "worker_info": 10},
        )
        self.worker.SIGNALS = []  # the process owner decides about signals
        self.relay = relay
        self._tasks: list[asyncio.Task[Any]] = []
        self._stop = asyncio.Event()

    async def _startup(self, ctx: dict[str, Any]) -> None:
        ctx["pipeline"] = self.pipeline

    async def relay_forever(self) -> None:
        interval = self.settings.notify_relay_interval
        while not self._stop.is_set():
            try:
                moved = await self.pipeline.relay_once()
            except Exception:
                log.exception("relay failed; trying again")
                moved = 0
            if moved < self.settings.notify_relay_batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), interval)

    async def start(self) -> None:
        await self.queue.connect()
        self._tasks.append(asyncio.create_task(self.worker.start()))
        if self.relay:
            self._tasks.append(asyncio.create_task(self.relay_forever()))

    async def stop(self) -> None:
        self._stop.set()
        await self.worker.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()


async def run_worker(settings: Settings) -> None:
    """`parta worker`: runs until SIGINT/SIGTERM."""
    from backend.logs import configure_logging

    configure_logging(settings)
    engine = db.make_engine(settings)
    db.bind_engine(engine)
    await db.open_engine(engine, settings)
    redis = make_redis(settings)
    worker = NotifyWorker(settings, redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.start()
    log.info("worker started", extra={"channels": sorted(worker.channels)})
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await redis.aclose()
        await db.close_engine(engine)
