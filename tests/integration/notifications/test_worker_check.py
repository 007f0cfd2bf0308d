"""`parta worker --check` (the worker container's health check): a worker of this host is
alive while it reports to Redis, and another host's worker does not count."""

from __future__ import annotations

import socket

from notifications.jobs import utcnow
from notifications.worker import worker_alive
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import wait_for


async def test_a_running_worker_reports_itself_alive_by_its_host(notify: Notify) -> None:
    redis, queue = notify.world.redis, notify.settings.notify_queue
    assert not await worker_alive(redis, queue)  # nothing runs yet
    await notify.start()
    await wait_for(lambda: worker_alive(redis, queue), seconds=5)  # its first report
    assert await worker_alive(redis, queue, host=socket.gethostname())
    assert not await worker_alive(redis, queue, host="another-host")
    assert not await worker_alive(redis, queue + "-other")  # another queue's workers


async def test_a_delivery_redis_refused_is_owed_to_a_forced_recovery(notify: Notify) -> None:
    """A delivery's row is committed before its job; when Redis refuses the job (a restart
    under way), the delivery is not lost: the worker's next queue watch enqueues every live
    delivery again from the database, though the queue's mark says it is whole."""
    from redis.asyncio import Redis
    from saq.queue.redis import RedisQueue

    from notifications.jobs import Jobs
    from notifications.recovery import QUEUE_MARK, recover_if_emptied

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = Redis.from_url(f"redis://127.0.0.1:{closed}/0", socket_connect_timeout=1)
    jobs = Jobs(RedisQueue(down, name="owed-test"))
    await jobs.enqueue_delivery(4242, 0, None)  # refused: logged, owed, not raised
    assert jobs.owed_recovery
    await down.aclose()

    redis, queue = notify.world.redis, notify.settings.notify_queue
    await redis.set(QUEUE_MARK.format(queue=queue), "1")  # the queue looks whole
    up = Jobs(RedisQueue(redis, name=queue))
    assert not await recover_if_emptied(redis, queue, up, utcnow())
    assert await recover_if_emptied(redis, queue, up, utcnow(), force=True)
