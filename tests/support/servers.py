"""Real servers on loopback for tests: the gateway (uvicorn) and the mock upstream (aiohttp).

Each server runs its own event loop in a thread, so tests talk to it over real HTTP
exactly like a client would, and can still reach into its runtime when needed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from opentelemetry.trace import TracerProvider

from previewgate.app import PreviewGateApp
from previewgate.config import Settings
from previewgate.demo.mock_upstream import MockUpstream, bound_port, serve_mock
from previewgate.runtime import Runtime

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class MockServer:
    upstream: MockUpstream
    port: int
    _thread: LoopThread
    _runner: Any
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self._thread.run(self._runner.cleanup())
        self._thread.close()


def start_mock(
    upstream: MockUpstream | None = None, port: int = 0, ssl_context: ssl.SSLContext | None = None
) -> MockServer:
    """The mock upstream on loopback; https when given a server ``ssl_context``."""
    upstream = upstream or MockUpstream()
    thread = LoopThread("mock-upstream")
    runner = thread.run(serve_mock(upstream, "127.0.0.1", port, ssl_context))
    scheme = "https" if ssl_context is not None else "http"
    return MockServer(upstream, bound_port(runner), thread, runner, scheme)


class GatewayServer:
    """The real app under uvicorn, on a free port, in its own loop thread."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider | None = None) -> None:
        self.settings = settings
        self.port = free_port()
        self.thread = LoopThread("gateway")
        self.runtime = Runtime.build(settings, tracer_provider)
        self.app = PreviewGateApp(self.runtime)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            loop="asyncio",
            timeout_graceful_shutdown=10,
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self._serve = asyncio.run_coroutine_threadsafe(self.server.serve(), self.thread.loop)
        self.thread.run(self._wait_started())

    async def _wait_started(self) -> None:
        while not self.server.started:
            if self._serve.done():
                self._serve.result()
            await asyncio.sleep(0.01)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[Runtime], Awaitable[T]]) -> T:
        """Run ``fn(runtime)`` on the gateway's own loop (its engine and caches live there)."""

        async def _call() -> T:
            return await fn(self.runtime)

        return self.thread.run(_call())

    def flush(self) -> None:
        """Block until every finished request's rows are written."""
        self.call(lambda rt: rt.writer.flush())

    def refresh(self) -> None:
        self.call(lambda rt: rt.routing.refresh_now())

    def stop(self) -> None:
        self.server.should_exit = True
        self._serve.result(30)
        self.thread.close()
