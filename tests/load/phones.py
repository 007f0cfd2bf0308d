"""The phones of a benchmark: posts the Parta app's push receipts to the API, in a process of
its own so that their cost does not slow the FCM stand-in that tells of the pushes.

Reads "delivery_id token" lines on stdin (one per push the FCM stand-in accepted) and posts
each to the URL given as the only argument, many at once. At the end of its input it prints
as JSON the API's answers ({"204": n, ...}; "0" for posts that never got an answer) and how
late the receipts were (seconds from the push to the API's answer: p50, p99, max).

    python tests/load/phones.py http://127.0.0.1:8000/api/v1/messaging/push-receipts
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from notifications.standins.fcm import post_receipt

IN_FLIGHT = 50


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answers: dict[str, int] = {}
    lags: list[float] = []
    slots = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def post(delivery_id: int, token: str, pushed: float) -> None:
            async with slots:
                status = await post_receipt(session, url, delivery_id, token)
            answers[str(status)] = answers.get(str(status), 0) + 1
            lags.append(time.monotonic() - pushed)

        while line := await reader.readline():
            delivery, token = line.decode().split()
            task = asyncio.create_task(post(int(delivery), token, time.monotonic()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    lags.sort()
    late = {
        "p50": round(statistics.median(lags), 3) if lags else 0,
        "p99": round(lags[int(len(lags) * 0.99)], 3) if lags else 0,
        "max": round(lags[-1], 3) if lags else 0,
    }
    print(json.dumps({"answers": answers, "late": late}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
