"""The worker's scheduled work: the nightly job is queued through SAQ like any other job."""

from __future__ import annotations

from saq import Job

from notifications.worker import CRON_JOBS
from tests.integration.notifications.conftest import Notify


async def test_the_nightly_diary_job_is_scheduled_by_the_worker(notify: Notify) -> None:
    worker = await notify.start(cron_jobs=CRON_JOBS)
    await worker.worker.schedule()  # what SAQ's upkeep does every second
    job = await worker.queue.job("cron:diary_weeks_ahead")
    assert isinstance(job, Job)
    assert job.function == "diary_weeks_ahead" and job.scheduled > 0
    assert job.timeout == 3600
