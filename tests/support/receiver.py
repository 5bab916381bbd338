"""A webhook receiver on loopback: records what it gets, answers as scripted."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.servers import LoopThread


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    """Answers the scripted statuses in order (``(status, headers)``), then 200 forever;
    ``delay_s`` before every answer (a slow receiver)."""

    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrivals: int = 0  # requests that reached the handler (before its delay)
    port: int = 0
    _thread: LoopThread | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrivals += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status, headers = self.script.popleft() if self.script else (200, {})
        self.received.append(Received(dict(request.headers), body, status))
        if 300 <= status < 400:
            headers = {**headers, "location": "http://127.0.0.1:9/elsewhere"}
        return web.Response(status=status, headers=headers, text=f"answer {status}")

    def start(self) -> Receiver:
        self._thread = LoopThread("webhook-receiver")
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        self._thread.run(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._thread.run(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    def stop(self) -> None:
        assert self._thread is not None and self._runner is not None
        self._thread.run(self._runner.cleanup())
        self._thread.close()
