"""The notifications worker: relays the outbox to a SAQ queue on Redis and runs its jobs
(fan-out, deliveries, digests). Any number of worker processes share the work: SAQ hands
each job to one of them, and the relay claims outbox rows with `FOR UPDATE SKIP LOCKED`.

`parta worker` runs `run_worker(settings)`; tests and the embedded demo run `NotifyWorker`
inside their own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from saq import CronJob, Job, Status, Worker
from saq.queue.redis import RedisQueue

from backend import bootstrap
from backend.core.days import today_in
from backend.journal.diary import build_weeks_ahead
from backend.journal.lessons import week_start
from backend.settings import Settings
from notifications.channels.base import Channel
from notifications.pipeline import JOB_HEARTBEAT, Pipeline, utcnow
from notifications.recovery import recover_if_emptied

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
    max_token = settings.max_bot_token.get_secret_value()
    if max_token:
        from notifications.channels.max import MaxChannel

        channels["max"] = MaxChannel(max_token, settings.max_api_url)
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


# Seconds between two writes of the phones' push receipts to the deliveries; when none came,
# the next look waits twice as long, up to `RECEIPTS_IDLE_INTERVAL` (a worker at rest sleeps).
RECEIPTS_INTERVAL = 0.5
RECEIPTS_IDLE_INTERVAL = 5.0
QUEUE_CHECK_INTERVAL = 2.0  # seconds between looks at whether the queue's Redis lost its data
# How long a waiting dequeuer blocks in Redis before it asks again. The pop wakes as soon as a
# job comes (on the real server and on the in-process one alike); a short timeout only costs
# every idle worker one request per dequeuer per timeout.
DEQUEUE_TIMEOUT = 10.0

# A job whose worker stops touching it for this long is taken for dead: the sweep (every few
# seconds) gives it to another worker. Running jobs are touched every third of it.
HEARTBEAT = JOB_HEARTBEAT


# SAQ's own sweep script: under its lock, every job of the active list with its stored state;
# nil (not an empty list) when another worker holds the lock, so that the caller can tell
# "nothing taken" from "not my turn".
_TAKEN_JOBS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('SETEX', KEYS[1], ARGV[1], 1)
local id_jobs = {}
for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    id_jobs[i] = {v, redis.call('GET', v)}
end
return id_jobs
"""


# KEYS: active list, queued list, incomplete set, job id. ARGV: the job as the sweep read it,
# the job to store, its score. Requeues the job only if it is unchanged since it was read.
_HAND_ON = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return 0 end
if redis.call('LREM', KEYS[1], 1, KEYS[4]) == 0 then return 0 end
redis.call('SET', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], KEYS[4])
redis.call('RPUSH', KEYS[2], KEYS[4])
return 1
"""


# KEYS: job ids. ARGV: each job as it is to be stored. Stores a running job's heartbeat only
# where the job is still active as stored (a sweep that handed it on wins). One round trip for
# every job a worker is running.
_TOUCH = """
for i, key in ipairs(KEYS) do
  local stored = redis.call('GET', key)
  if stored and string.find(stored, '"status": "active"', 1, true) then
    redis.call('SET', key, ARGV[i])
  end
end
return 0
"""


class NotifyQueue(RedisQueue):
    """SAQ's Redis queue, with a sweep that hands on only jobs whose worker is gone.

    SAQ's own sweep has two habits that cost deliveries under load. It takes any job in the
    active list that is not yet marked active for abandoned, but a worker marks a job active
    only a moment after taking it, and under load that moment is long enough for the sweep to
    run it a second time elsewhere (a duplicate send). And it asks each stuck job to abort and
    waits up to 5 s for its worker to confirm, one job after the other; a worker killed with
    SIGKILL never confirms, so the dozens of jobs it held would come back over minutes.

    Here a job taken but not marked active is handed on only when a sweep saw it so at least
    `HEARTBEAT` seconds before; an active job when its worker stopped touching it (`_alive`)
    for `HEARTBEAT` seconds or it ran past its timeout; and the job goes straight back to the
    queue in one atomic step, without SAQ's abort (whose mark would make the next worker cancel
    it). A live worker whose job looked dead (its event loop stalled for a whole heartbeat)
    would run it alongside the new one: a delivery may then go twice, never be lost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sweep_script: Any = None
        self._hand_on_script: Any = None
        # When a sweep first saw each job taken but not marked active (job id -> ms), shared
        # by the workers: whichever holds the sweep lock next can tell how long it has been.
        self._taken_since = self.namespace("taken_since")
        # The jobs this process is running, touched together (`touch_running`).
        self.running: dict[str, Job] = {}
        self._touch_script: Any = None

    async def touch_running(self) -> int:
        """Tell the sweep that this worker's running jobs live: all of them in one round trip
        (SAQ's `Job.update` takes three round trips a job, and a worker near its capacity runs
        hundreds of jobs at once)."""
        jobs = [job for job in self.running.values() if job.heartbeat]
        if not jobs:
            return 0
        if self._touch_script is None:
            self._touch_script = self.redis.register_script(_TOUCH)
        stamp = int(time.time() * 1000)
        for job in jobs:
            job.touched = stamp
        await self._touch_script(
            keys=[job.id for job in jobs],
            args=[self.serialize(job) for job in jobs],
            client=self.redis,
        )
        return len(jobs)

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        if self._sweep_script is None:
            self._sweep_script = self.redis.register_script(_TAKEN_JOBS)
            self._hand_on_script = self.redis.register_script(_HAND_ON)
        id_jobs = await self._sweep_script(
            keys=[self._sweep, self._active], args=[lock], client=self.redis
        )
        if id_jobs is None:  # another worker's turn: what the sweeps noted stays noted
            return []
        if not id_jobs:
            await self.redis.delete(self._taken_since)
            return []
        now = time.time() * 1000
        seen = {k: float(v) for k, v in (await self.redis.hgetall(self._taken_since)).items()}
        swept: list[bytes] = []
        present: set[bytes] = set()
        for job_id, job_bytes in id_jobs:
            present.add(job_id)
            job = self.deserialize(job_bytes)
            if job is None:
                swept.append(job_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id).zrem(self._incomplete, job_id)
                    await pipe.execute()
                continue
            if job.status in (Status.ACTIVE, Status.ABORTING):
                if not job.stuck:
                    continue
            elif job_id not in seen:
                await self.redis.hset(self._taken_since, job_id, now)
                continue
            elif now - seen[job_id] < HEARTBEAT * 1000:
                continue
            if not job.retryable:
                log.warning("a job whose worker is gone ran out of tries: %s", job.key)
                swept.append(job_id)
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
                continue
            # Back to the queue in one step, and only if nobody touched the job since this
            # sweep read it: a worker killed in the middle of a sweep leaves nothing half
            # done, and two sweeps never queue one job twice. (SAQ aborts first and waits for
            # the worker to confirm; this worker is gone, and an abort mark left behind would
            # make the next worker cancel the job.)
            job.status = Status.QUEUED
            job.error = self.swept_error_message
            job.completed = job.started = 0
            job.progress = 0.0
            job.touched = int(now)
            job.retry_delay, job.retry_backoff = 0.0, False  # at once: the job did nothing wrong
            moved = await self._hand_on_script(
                keys=[self._active, self._queued, self._incomplete, job_id],
                args=[job_bytes, self.serialize(job), job.scheduled],
                client=self.redis,
            )
            if moved:
                log.warning("handed on a job whose worker is gone: %s", job.key)
                swept.append(job_id)
        gone = [k for k in seen if k not in present or k in swept]
        if gone:
            await self.redis.hdel(self._taken_since, *gone)
        return [job_id.decode("utf-8") for job_id in swept]


@contextlib.asynccontextmanager
async def _alive(ctx: dict[str, Any]) -> AsyncIterator[None]:
    """Touch the running job now and then, so the sweep knows its worker lives: with the
    worker's other running jobs (`NotifyQueue.touch_running`, every third of the heartbeat),
    or on its own where the queue is another."""
    job: Job | None = ctx.get("job")
    queue = getattr(ctx.get("worker"), "queue", None)
    if job is not None and isinstance(queue, NotifyQueue):
        queue.running[job.id] = job
        try:
            yield
        finally:
            queue.running.pop(job.id, None)
        return

    async def touch(job: Job) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT / 3)
            with contextlib.suppress(Exception):
                await job.update()

    task = asyncio.create_task(touch(job)) if job is not None and job.heartbeat else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _fanout(
    ctx: dict[str, Any], *, event_ids: list[int] | None = None, event_id: int | None = None
) -> int:
    # `event_id`: a job of one event, as relays before batching enqueued them.
    pipeline: Pipeline = ctx["pipeline"]
    async with _alive(ctx):
        return await pipeline.fanout_many(list(event_ids or ()) + ([event_id] if event_id else []))


async def _deliver(ctx: dict[str, Any], *, delivery_id: int) -> str:
    pipeline: Pipeline = ctx["pipeline"]
    async with _alive(ctx):
        return await pipeline.deliver(delivery_id)


async def _deliver_many(ctx: dict[str, Any], *, delivery_ids: list[int]) -> list[str]:
    pipeline: Pipeline = ctx["pipeline"]
    async with _alive(ctx):
        return await pipeline.deliver_many(delivery_ids)


async def _digest(ctx: dict[str, Any], *, user_id: int, channel: str) -> str:
    pipeline: Pipeline = ctx["pipeline"]
    async with _alive(ctx):
        return await pipeline.digest(user_id, channel)


async def diary_weeks_ahead(ctx: dict[str, Any]) -> int:
    """Nightly: the diary's projection rows of this week and the next for every pupil who has
    none (`backend.journal.diary.build_weeks_ahead`), so the first reads of a new week find
    them. The worker hosts the system's scheduled work (DESIGN.md: "worker")."""
    monday = week_start(today_in())
    async with _alive(ctx):
        built = await build_weeks_ahead(monday)
        built += await build_weeks_ahead(monday + timedelta(days=7))
    log.info("diary weeks built ahead: %d", built)
    return built


async def access_checks(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: "has not arrived" and absent-but-inside (`backend.access.absence`)."""
    # Imported here: the checks pull in the timetable and journal, which a worker that starts
    # must not wait for (an import costs seconds on a busy small machine).
    from backend.access.absence import run_checks

    async with _alive(ctx):
        return await run_checks()


async def retention_purge(ctx: dict[str, Any]) -> dict[str, int]:
    """Nightly: delete what the retention rules no longer keep (`backend.ops.retention`)."""
    from backend.core.storage import LocalStorage
    from backend.ops.retention import purge

    pipeline: Pipeline = ctx["pipeline"]
    settings = pipeline.settings
    async with _alive(ctx):
        _, counts = await purge(settings, LocalStorage(settings.media_root))
    log.info("retention purge: %s", {k: v for k, v in counts.items() if v})
    return counts


async def meals_schedule(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: standing meal orders booked a week ahead, and each school's cut-off run
    once its time has come on the school's clock (`backend.meals.standing.run_schedule`);
    then card top-ups still open at YooKassa after ten minutes are asked about (a lost
    notification must not leave a family's money uncredited), and the requisitions frozen at
    the cut-off are e-mailed to their caterers."""
    from backend.meals import payments, yookassa
    from backend.meals.standing import run_schedule
    from notifications.requisitions import send_requisitions

    async with _alive(ctx):
        result = await run_schedule()
        pipeline: Pipeline | None = ctx.get("pipeline")
        provider = yookassa.from_settings(pipeline.settings) if pipeline else None
        if provider is not None:
            result["payments_synced"] = await payments.sync_pending(provider)
        if pipeline is not None:
            result["requisitions_sent"] = await send_requisitions(pipeline.settings)
        return result


# 00:30 UTC: 03:30 in Moscow, the night everywhere from Kaliningrad to Kamchatka's morning;
# one run per night whichever worker takes it (SAQ keys cron jobs by their time).
CRON_JOBS: list[Any] = [
    CronJob(cast(Any, diary_weeks_ahead), cron="30 0 * * *", timeout=3600, heartbeat=JOB_HEARTBEAT),
    CronJob(cast(Any, access_checks), cron="* * * * *", timeout=55, heartbeat=JOB_HEARTBEAT),
    # 01:30 UTC, after the diary's weeks: the retention rules (one run a night).
    CronJob(cast(Any, retention_purge), cron="30 1 * * *", timeout=3600, heartbeat=JOB_HEARTBEAT),
    CronJob(cast(Any, meals_schedule), cron="* * * * *", timeout=55, heartbeat=JOB_HEARTBEAT),
]

FUNCTIONS: list[Any] = [
    ("fanout", _fanout),
    ("deliver", _deliver),
    ("deliver_many", _deliver_many),
    ("digest", _digest),
]


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
        cron_jobs: list[Any] | None = None,
    ) -> None:
        """`cron_jobs`: the scheduled work this worker takes part in (default `CRON_JOBS`)."""
        self.settings = settings
        self.redis = redis
        self.queue = NotifyQueue(redis, name=settings.notify_queue)
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
            cron_jobs=CRON_JOBS if cron_jobs is None else cron_jobs,
            concurrency=concurrency or settings.notify_concurrency,
            # A job names the worker that runs it: host, process and a tag of its own (one
            # process may run several workers, as the tests do).
            id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            dequeue_timeout=DEQUEUE_TIMEOUT,
            startup=self._startup,
            # Sweep often: a job whose worker was killed is found and retried within seconds.
            timers={"schedule": 1, "sweep": 5, "abort": 1, "worker_info": 10},
            # A worker told to stop (a deploy, a scale-down) lets its sends in flight finish:
            # cut off, they would be sent again by another worker.
            shutdown_grace_period_s=settings.notify_shutdown_grace_seconds,
        )
        self.worker.SIGNALS = []  # the process owner decides about signals
        self.relay = relay
        self._tasks: list[asyncio.Task[Any]] = []
        self._stop = asyncio.Event()

    async def _startup(self, ctx: dict[str, Any]) -> None:
        ctx["pipeline"] = self.pipeline

    async def relay_forever(self) -> None:
        """The outbox to the queue: at once again after a full batch, after
        `notify_relay_interval` after a partial one, and after longer and longer pauses (up to
        `notify_relay_idle_interval`) while the outbox stays empty, so that an idle worker
        does not ask the database twenty times a second."""
        busy = self.settings.notify_relay_interval
        idle = max(busy, self.settings.notify_relay_idle_interval)
        interval = busy
        while not self._stop.is_set():
            try:
                moved = await self.pipeline.relay_once()
            except Exception:
                log.exception("relay failed; trying again")
                moved = 0
            if moved >= self.settings.notify_relay_batch:
                continue
            interval = busy if moved else min(idle, interval * 2)
            await self._pause(interval)

    async def receipts_forever(self) -> None:
        """The phones' push receipts, from Redis to the deliveries: a batch every half second
        while they come, less and less often while none do."""
        interval = RECEIPTS_INTERVAL
        while not self._stop.is_set():
            try:
                written = await self.pipeline.flush_receipts()
            except Exception:
                log.exception("writing push receipts failed; trying again")
                written = 0
            interval = RECEIPTS_INTERVAL if written else min(RECEIPTS_IDLE_INTERVAL, interval * 2)
            await self._pause(interval)

    async def heartbeat_forever(self) -> None:
        """The running jobs' heartbeat, every third of it, all in one round trip."""
        while not self._stop.is_set():
            try:
                await self.queue.touch_running()
            except Exception:
                log.exception("touching the running jobs failed; trying again")
            await self._pause(HEARTBEAT / 3)

    async def watch_queue_forever(self) -> None:
        """Whether the queue's Redis lost its data, every few seconds; if so, what it held is
        enqueued again from the database (notifications/recovery.py)."""
        while not self._stop.is_set():
            try:
                jobs = self.pipeline.jobs
                owed, jobs.owed_recovery = jobs.owed_recovery, False
                try:
                    await recover_if_emptied(
                        self.redis, self.settings.notify_queue, jobs, utcnow(), force=owed
                    )
                except Exception:
                    jobs.owed_recovery = jobs.owed_recovery or owed
                    raise
            except Exception:
                log.exception("checking the queue failed; trying again")
            await self._pause(QUEUE_CHECK_INTERVAL)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def start(self) -> None:
        await self.queue.connect()
        self._tasks.append(asyncio.create_task(self.worker.start()))
        self._tasks.append(asyncio.create_task(self.heartbeat_forever()))
        if self.relay:
            self._tasks.append(asyncio.create_task(self.relay_forever()))
            self._tasks.append(asyncio.create_task(self.receipts_forever()))
            self._tasks.append(asyncio.create_task(self.watch_queue_forever()))

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


async def worker_alive(redis: Redis, queue: str, host: str | None = None) -> bool:
    """Whether a worker of this host (a container's hostname) has reported to Redis lately:
    SAQ writes each worker's info every 10 s (`timers["worker_info"]`) under a key that lives
    11 s, named by the worker's id, which begins with the host's name. A stalled event loop or
    a lost Redis stops the reports. `parta worker --check` (the container's health check)."""
    pattern = f"saq:{queue}:worker_info:{host or socket.gethostname()}:*"
    async for _ in redis.scan_iter(match=pattern, count=1000):
        return True
    return False


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (uvicorn's `standard` extra brings it, and the
    API runs on it already), else asyncio's own. A worker near its capacity spends much of its
    time in the loop and its socket writes: uvloop's, in C, cost it about a fifth less CPU per
    push (docs/performance.md)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of every install but Windows
        return None
    return uvloop.new_event_loop


# Allocations between two young-generation collections of the garbage collector (Python's
# default: 700). A push allocates a few thousand objects (an HTTP request and answer, rows,
# futures); at the default the collector ran every few sends.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Once the process has started: what it built so far (modules, settings, pools) lives as
    long as it does, so the garbage collector stops walking it (`gc.freeze`), and the young
    generation is collected less often. The collector took 14 % of a busy worker's samples."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


async def run_worker(settings: Settings) -> None:
    """`parta worker`: runs until SIGINT/SIGTERM."""
    from backend.logs import configure_logging

    configure_logging(settings)
    # SAQ's waiting dequeuers hold one connection each; the jobs share the rest.
    parta = bootstrap.build(settings, redis_connections=settings.notify_concurrency + 100)
    await parta.start()
    worker = NotifyWorker(settings, parta.redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.start()
    settle_heap()
    log.info("worker started", extra={"channels": sorted(worker.channels)})
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await parta.stop()
