"""Random API keys at a fixed rate (open loop), from a process of its own.

``python -m tests.support.key_flood URL COUNT RATE`` sends COUNT chat requests, each with a
new random key, the i-th at start + i/RATE whatever the answers' pace (so a slow gateway
meets the same offered load), and prints one JSON line: the status counts and the seconds
taken. Its own process: its CPU is not the measuring client's event loop.
"""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import sys
import time

import aiohttp

BODY = {"model": "demo/prod", "messages": [{"role": "user", "content": "hello"}]}


async def flood(url: str, count: int, rate: float) -> dict[str, object]:
    statuses: collections.Counter[int] = collections.Counter()
    keys = [f"pg-{secrets.token_hex(24)}" for _ in range(count)]
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(key: str) -> None:
            headers = {"authorization": f"Bearer {key}"}
            async with session.post(url, json=BODY, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1

        began = time.monotonic()
        tasks = []
        for index, key in enumerate(keys):
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(key)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - began
    return {"statuses": {str(k): v for k, v in statuses.items()}, "elapsed_s": elapsed}


if __name__ == "__main__":
    url, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(flood(url, count, rate))))
