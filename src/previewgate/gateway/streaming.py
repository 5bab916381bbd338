"""Relay of an upstream SSE stream: line-aligned, blinded, usage tapped on the way.

Complete lines are forwarded at once; only a trailing partial line is held back.
Only lines that mention ``"usage"`` are parsed.
"""

from __future__ import annotations

from typing import Any

import orjson

from previewgate.gateway.blinding import SseModelRewriter

_DATA = b"data:"


def usage_cost_usd(usage: dict[str, Any], price_in: float, price_out: float) -> float:
    return cost_microusd(usage, price_in, price_out) / 1_000_000


def cost_microusd(usage: dict[str, Any], price_in: float, price_out: float) -> int:
    """USD per million tokens times tokens is micro-USD."""
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return 0
    return round(prompt * price_in + completion * price_out)


class StreamRelay:
    def __init__(
        self,
        public_id: str | None,
        *,
        drop_usage_only_chunk: bool,
        price_in: float = 0.0,
        price_out: float = 0.0,
    ) -> None:
        self._rewriter = SseModelRewriter(public_id) if public_id else None
        self._pending = b""
        self._drop_usage_only = drop_usage_only_chunk
        self._price_in = price_in
        self._price_out = price_out
        self.usage: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> bytes:
        if self._rewriter is not None:
            out = self._rewriter.feed(chunk)
        else:
            data = self._pending + chunk if self._pending else chunk
            cut = data.rfind(b"\n") + 1
            out, self._pending = data[:cut], data[cut:]
        return self._tap(out) if b'"usage"' in out else out

    def flush(self) -> bytes:
        if self._rewriter is not None:
            out = self._rewriter.flush()
        else:
            out, self._pending = self._pending, b""
        return self._tap(out) if b'"usage"' in out else out

    def _tap(self, block: bytes) -> bytes:
        lines = block.split(b"\n")
        for index, line in enumerate(lines):
            if b'"usage"' not in line or not line.startswith(_DATA):
                continue
            try:
                obj = orjson.loads(line[len(_DATA) :].strip())
            except orjson.JSONDecodeError:
                continue
            usage = obj.get("usage") if isinstance(obj, dict) else None
            if not isinstance(usage, dict):
                continue
            self.usage = usage
            if self._drop_usage_only and not obj.get("choices"):
                # The client did not ask for usage; we did, to count tokens.
                lines[index] = b""
                continue
            usage["cost"] = usage_cost_usd(usage, self._price_in, self._price_out)
            ending = b"\r" if line.endswith(b"\r") else b""
            lines[index] = b"data: " + orjson.dumps(obj) + ending
        return b"\n".join(lines)
