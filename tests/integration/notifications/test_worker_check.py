"""`parta worker --check` (the worker container's health check): a worker of this host is
alive while it reports to Redis, and another host's worker does not count."""

from __future__ import annotations

import socket

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
