"""An adversarial partner checkpoint on loopback, for the blindness tests (issue 11).

A raw asyncio HTTP/1.1 server, so the test controls every byte: status lines outside HTTP's
range, header values, body framing, line endings and the points where the body is split
into separate writes. It learns the secrets of the slot that calls it from the request
itself (``model`` = internal id, ``Authorization`` = the key, its own base URL and
host:port) and answers with tests/support/leaky_answers.py's scenarios.

Behaviour is chosen by the last user message, like the demo mock's ``#mock:``:
``#leak:<scenario> [eol=lf|cr|crlf] [split=eol|N,N,...]`` (see ``leaky_answers.SCENARIOS``),
or ``#script:<name>`` for a :class:`Reply` a test registered with :meth:`LeakyUpstream.script`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from tests.support.leaky_answers import BUILDERS, EOLS, Reply, Secrets
from tests.support.leaky_formats import FORMAT_BUILDERS
from tests.support.servers import LoopThread

LEAK = "#leak:"
SCRIPT = "#script:"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    scenario: str


def split_body(body: bytes, plan: str) -> list[bytes]:
    """``eol``: cut after every CR and LF; ``N,N,...``: cut at those offsets (mod length)."""
    if not body:
        return [body]
    if plan == "eol":
        cuts = {i + 1 for i, b in enumerate(body) if b in (10, 13)}
    elif plan:
        cuts = {int(p) % len(body) for p in plan.split(",") if p}
    else:
        return [body]
    edges = [0, *sorted(c for c in cuts if 0 < c < len(body)), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def _options(content: str) -> tuple[str, dict[str, str]]:
    words = content[len(LEAK) :].split()
    options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return words[0], options


def _last_user_text(body: dict[str, Any]) -> str:
    """The last user turn's text, in a chat, Messages or Responses body."""
    turns = body.get("messages") or body.get("input") or []
    if isinstance(turns, str):
        return turns
    for message in reversed(turns):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list) and content and isinstance(content[-1], dict):
                content = content[-1].get("text")
            return content if isinstance(content, str) else ""
    return ""


class LeakyUpstream:
    """The server; ``start()`` binds a free loopback port in its own loop thread."""

    def __init__(self, piece_pause_s: float = 0.002) -> None:
        # A short pause between pieces makes each one a separate read on the gateway's side
        # (framing, not timing: no assertion depends on it).
        self.piece_pause_s = piece_pause_s
        self.seen: list[Seen] = []
        self.scripts: dict[str, Reply] = {}
        self.port = 0
        self._thread: LoopThread | None = None
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def secrets(self, internal_id: str, api_key: str) -> Secrets:
        return Secrets(internal_id, api_key, self.base_url, self.host_port)

    def script(self, name: str, reply: Reply) -> None:
        self.scripts[name] = reply

    def start(self) -> LeakyUpstream:
        self._thread = LoopThread("leaky-upstream")
        self._server = self._thread.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        assert self._thread is not None and self._server is not None
        server = self._server

        async def _close() -> None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

        self._thread.run(_close())
        self._thread.close()

    # -- one connection, one exchange ------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.loads(raw)
            reply, scenario = self._reply(path, headers, body)
            self.seen.append(Seen(path, headers, body, scenario))
            await self._send(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the gateway hung up: that is its right (e.g. a size cap)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        head = [reply.status_line, *(f"{n}: {v}".encode() for n, v in reply.headers)]
        head.append(b"connection: close")
        size = sum(map(len, reply.pieces))
        if reply.framing == "length":
            head.append(b"content-length: %d" % size)
        elif reply.framing == "chunked":
            head.append(b"transfer-encoding: chunked")
        writer.write(b"\r\n".join(head) + b"\r\n\r\n")
        await writer.drain()
        for n, piece in enumerate(reply.pieces):
            if n and self.piece_pause_s:
                await asyncio.sleep(self.piece_pause_s)
            if reply.framing == "chunked":
                piece = b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b""
            writer.write(piece)
            await writer.drain()
        if reply.repeat is not None:
            block, times = reply.repeat
            for _ in range(times):
                writer.write(block)
                await writer.drain()
        if reply.framing == "chunked":
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    def _reply(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[Reply, str]:
        text = _last_user_text(body)
        if text.startswith(SCRIPT):
            name = text[len(SCRIPT) :].split()[0]
            return self.scripts[name], f"script:{name}"
        if not text.startswith(LEAK):
            return Reply(pieces=[b'{"error": "no scenario"}'], status_line=b"HTTP/1.1 400 Bad"), ""
        scenario, options = _options(text)
        key = headers.get("authorization", "").removeprefix("Bearer ") or headers.get(
            "x-api-key", ""
        )
        s = self.secrets(str(body.get("model")), key)
        builder = BUILDERS.get(scenario) or FORMAT_BUILDERS[scenario]
        reply = builder(s, EOLS[options.get("eol", "lf")], options)
        if not reply.pieces or len(reply.pieces) == 1:
            reply.pieces = split_body(b"".join(reply.pieces), options.get("split", ""))
        return reply, scenario
