"""The sweep hands on a job that a killed worker took and never started, even when two
workers take turns sweeping (a sweep that finds the lock held must not forget what it saw)."""

from __future__ import annotations

import time

from saq import Job, Status

from notifications.worker import HEARTBEAT, NotifyQueue
from tests.integration.notifications.conftest import Notify


async def test_a_job_taken_by_a_dead_worker_is_handed_on_across_sweep_turns(
    notify: Notify,
) -> None:
    redis = notify.world.redis
    queue = NotifyQueue(redis, name=f"{notify.settings.notify_queue}-sweep")
    queue._version = (6, 0, 0)  # as NotifyWorker tells SAQ (the in-process Redis too)
    await queue.connect()
    await queue.enqueue(Job(function="fanout", key="fanout:1:50", heartbeat=HEARTBEAT))
    taken = await queue.dequeue(timeout=1)  # a worker takes it and dies before starting it
    assert taken is not None and taken.status == Status.QUEUED

    assert await queue.sweep(lock=60) == []  # first seen taken: noted, not handed on yet
    assert await redis.hexists(queue._taken_since, taken.id)
    # Another worker's turn while the first one's lock holds: it must not forget the note.
    assert await queue.sweep(lock=60) == []
    assert await redis.hexists(queue._taken_since, taken.id)

    # A heartbeat later, the next sweep hands the job on to the queue.
    await redis.hset(queue._taken_since, taken.id, (time.time() - HEARTBEAT - 1) * 1000)
    await redis.delete(queue._sweep)  # the lock has expired
    assert await queue.sweep(lock=60) == [taken.id]
    again = await queue.dequeue(timeout=1)
    assert again is not None and again.key == "fanout:1:50" and again.error == "swept"
    await queue.disconnect()
