"""The phones of a benchmark: posts the Parta app's push receipts to the API, in a process of
its own so that their cost does not slow the FCM stand-in that tells of the pushes.

Reads "delivery_id token" lines on stdin (one per push the FCM stand-in accepted) and posts
each to the URL given as the only argument, many at once. At the end of its input it prints
the API's answers as JSON ({"204": n, ...}; "0" for posts that never got an answer).

    python tests/load/phones.py http://127.0.0.1:8000/api/v1/messaging/push-receipts
"""

from __future__ import annotations

import asyncio
import json
import sys
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
    slots = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def post(delivery_id: int, token: str) -> None:
            async with slots:
                status = await post_receipt(session, url, delivery_id, token)
            answers[str(status)] = answers.get(str(status), 0) + 1

        while line := await reader.readline():
            delivery, token = line.decode().split()
            task = asyncio.create_task(post(int(delivery), token))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
