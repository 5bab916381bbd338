"""Server-sent events, read incrementally: the one parser of the relay and the evidence.

Two layers:

- `SseLines` splits bytes into lines at LF, CR or CRLF (the three line ends the SSE spec
  allows), whatever the chunk boundaries, keeping each line's own terminator so a relay can
  put the bytes back exactly as they came. A line longer than ``max_line`` bytes raises
  `SseTooLarge` as soon as it is seen, so memory stays bounded by the cap.
- `SseEvents` turns lines into event payloads: ``data:`` lines only (comments, ``event:``,
  ``id:`` and ``retry:`` fields carry nothing the gateway keeps), parsed as JSON. A data line
  whose payload is a JSON document on its own is dispatched at once rather than at the blank
  line: it costs no latency, and when the event goes on with more data lines their join could
  not have been valid JSON anyway. Otherwise data lines accumulate until the blank line, as
  the spec says, and their join (with ``\\n``) is parsed then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

import orjson

DEFAULT_MAX_LINE = 8 * 1024 * 1024
_ENDS = (b"\n", b"\r")
_EOL = re.compile(rb"\r\n?|\n")


class SseTooLarge(Exception):
    """A line or an event grew past the cap."""


class SseLines:
    """Incremental line splitter; see the module docstring.

    ``skip_long`` drops an over-long line (and resumes at the next line end) instead of
    raising: for readers that keep what they can, whatever the split points.
    """

    __slots__ = ("_after_cr", "_max", "_skip_long", "_skipping", "_tail", "_tail_len")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, *, skip_long: bool = False) -> None:
        self._max = max_line
        self._skip_long = skip_long
        self._skipping = False
        self._tail: list[bytes] = []  # pieces of the unterminated last line (list: stays linear)
        self._tail_len = 0
        self._after_cr = False  # the last line ended in CR: a leading LF completes its CRLF

    def single_event(self, chunk: bytes) -> bytes | None:
        """The data line of ``chunk`` (with its LF) when the chunk is exactly one whole
        ``data:`` event with LF line ends and nothing is held from before, else None.

        Upstreams usually send one event per write; this spares them the general path.
        """
        if (
            self._tail
            or self._after_cr
            or self._skipping
            or len(chunk) > self._max
            or not chunk.startswith(b"data:")
            or not chunk.endswith(b"\n\n")
            or chunk.count(b"\n") != 2
            or b"\r" in chunk
        ):
            return None
        return chunk[:-1]

    def _too_long(self) -> None:
        if not self._skip_long:
            raise SseTooLarge(f"an SSE line exceeds {self._max} bytes")
        self._tail.clear()
        self._tail_len = 0
        self._skipping = True

    def feed(self, chunk: bytes) -> tuple[bytes, list[bytes]]:
        """``(lead, lines)``: ``lead`` is ``b"\\n"`` when the chunk opens by finishing the previous
        line's CRLF (raw bytes, no line of their own), else ``b""``; ``lines`` are the lines
        completed by this chunk, each with its terminator."""
        lead = b""
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 10:
                lead, chunk = b"\n", chunk[1:]
        marker: list[bytes] = []
        if self._skipping and chunk:
            end = _EOL.search(chunk)
            if end is None:
                return lead, []
            self._skipping = False
            marker = [b""]  # the dropped line ends here
            self._after_cr = end.group() == b"\r" and end.end() == len(chunk)
            chunk = chunk[end.end() :]
        if not chunk:
            return lead, marker
        if b"\n" not in chunk and b"\r" not in chunk:
            self._tail_len += len(chunk)
            self._tail.append(chunk)
            if self._tail_len > self._max:
                self._too_long()
            return lead, marker
        if self._tail:
            self._tail.append(chunk)
            chunk = b"".join(self._tail)
            self._tail.clear()
            self._tail_len = 0
        lines = marker + chunk.splitlines(True) if marker else chunk.splitlines(True)
        if not lines[-1].endswith(_ENDS):
            tail = lines.pop()
            self._tail.append(tail)
            self._tail_len = len(tail)
        else:
            self._after_cr = chunk[-1] == 13
        if len(chunk) > self._max:
            # The cap is on a line's content: where a CRLF is split must not matter.
            if any(
                len(line) > self._max and len(strip_line_end(line)) > self._max for line in lines
            ):
                if not self._skip_long:
                    raise SseTooLarge(f"an SSE line exceeds {self._max} bytes")
                # An empty item (no terminator) marks the dropped line for the event reader.
                lines = [b"" if len(strip_line_end(line)) > self._max else line for line in lines]
            if self._tail_len > self._max:
                self._too_long()
        return lead, lines

    def finish(self) -> list[bytes]:
        """The unterminated last line, if any (the stream ended without a line end)."""
        if not self._tail:
            return []
        tail = b"".join(self._tail)
        self._tail.clear()
        self._tail_len = 0
        return [tail]


class _Done:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DONE"


DONE: Final = _Done()  # the ``data: [DONE]`` sentinel of OpenAI-style streams


class Invalid:
    """A data payload that is not JSON."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


_DIGITS_ONLY = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
_LONG_INT = b"0" * 19


def loads_exact(data: bytes | str, *, constants: bool = False) -> Any:
    """Parse JSON without losing integers wider than 64 bits (orjson turns them into floats).

    Raises ValueError when ``data`` is not JSON. ``constants`` admits ``NaN`` and
    ``(-)Infinity``, which some servers write into logprobs; they parse to floats.
    """
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_INT not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # lone surrogates, constants: the stdlib parser decides below
    try:
        if constants:
            return json.loads(raw)
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError as exc:  # deeper than orjson's 1024 levels: not an answer we read
        raise ValueError("JSON nested too deeply") from exc


def strip_line_end(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


def data_payload(content: bytes) -> bytes | None:
    """The value of a ``data`` field line (terminator already stripped), else None."""
    if not content.startswith(b"data"):
        return None
    rest = content[4:]
    if not rest:
        return b""  # "data" alone: an empty data line
    if rest[0] != 58:  # ':'
        return None  # another field whose name starts with "data"
    return rest[2:] if rest[1:2] == b" " else rest[1:]


_NOTHING: Final = object()  # an event without data: nothing to deliver


class SseEvents:
    """Event payloads of a stream: parsed JSON values, `DONE`, or `Invalid`.

    With ``skip_long``, an event that loses a line to the cap (or outgrows it) is dropped
    whole, up to its blank line: what is delivered never depends on the split points.
    """

    __slots__ = ("_broken", "_lines", "_max", "_pending", "_pending_len", "_skip_long", "constants")

    def __init__(
        self, max_event: int = DEFAULT_MAX_LINE, *, constants: bool = True, skip_long: bool = False
    ) -> None:
        self._lines = SseLines(max_event, skip_long=skip_long)
        self._skip_long = skip_long
        self._max = max_event
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._broken = False  # skip_long: the current event lost a line; drop it whole
        self.constants = constants

    def feed(self, chunk: bytes) -> list[Any]:
        if not self._pending and not self._broken:
            line = self._lines.single_event(chunk)
            if line is not None:
                return self._single(line)
        _, lines = self._lines.feed(chunk)
        return self._events(lines) if lines else []

    def finish(self) -> list[Any]:
        out = self._events(self._lines.finish())
        if self._pending and not self._broken and (event := self._dispatch()) is not _NOTHING:
            out.append(event)
        return out

    def _single(self, line: bytes) -> list[Any]:
        """One whole event in one data line (``data:...\\n``): no line loop needed."""
        payload = line[6:-1] if line[5] == 32 else line[5:-1]
        if payload == b"[DONE]":
            return [DONE]
        if not payload.strip():
            return []
        try:
            return [loads_exact(payload, constants=self.constants)]
        except ValueError:
            return [Invalid(payload)]

    def _break(self) -> None:
        self._pending.clear()
        self._pending_len = 0
        self._broken = True

    def _events(self, lines: Sequence[bytes]) -> list[Any]:
        out: list[Any] = []
        for line in lines:
            if not line:  # SseLines dropped an over-long line here
                self._break()
                continue
            content = strip_line_end(line)
            if not content:
                if self._broken:
                    self._broken = False
                elif self._pending and (event := self._dispatch()) is not _NOTHING:
                    out.append(event)
                continue
            payload = data_payload(content)
            if payload is None or self._broken:
                continue
            if self._pending:
                self._pending_len += len(payload) + 1
                self._pending.append(payload)
                if self._pending_len > self._max:
                    if not self._skip_long:
                        raise SseTooLarge(f"an SSE event exceeds {self._max} bytes")
                    self._break()
                continue
            if payload == b"[DONE]":
                out.append(DONE)
                continue
            if not payload.strip():
                continue  # an empty data line on its own carries nothing (keep-alive style)
            try:
                out.append(loads_exact(payload, constants=self.constants))
            except ValueError:
                self._pending.append(payload)  # more data lines may complete it
                self._pending_len = len(payload)
        return out

    def _dispatch(self) -> Any:
        payload = b"\n".join(self._pending)
        self._pending.clear()
        self._pending_len = 0
        if payload == b"[DONE]":
            return DONE
        if not payload.strip():
            return _NOTHING
        try:
            return loads_exact(payload, constants=self.constants)
        except ValueError:
            return Invalid(payload)
