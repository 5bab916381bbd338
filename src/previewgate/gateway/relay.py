"""The relay: what the client receives for one upstream answer, and how the exchange ended.

Every relay has one shape — ``start`` (the response head, if it can be sent before the body),
``feed`` (bytes for the client per upstream chunk), ``finish`` (the head if still unsent, and
the last bytes), ``fail`` (a transport failure, told in the response or in-band) — and fills
the request's `Outcome` as it goes: status the client saw, error kind, usage, cost. The proxy
only moves bytes between the upstream client and the ASGI ``send``.

Two modes, chosen by the route (`open_relay`):

- **blind** (every experimented request, `blind_relay`): the client gets only what the gateway
  rebuilds from the allowlist in `blind_schema`, and errors written by `blind_errors`;
- **faithful** (production and default-upstream ids, `faithful_relay`): the upstream's bytes
  unchanged but for the ``model`` and ``id`` values and ``usage.cost``.

When the client and the upstream speak different API formats (`previewgate.formats`), the
answer is read into the canonical shape, rebuilt, and written in the client's format
(`blind_relay`'s relays, which production translated answers use too, without re-minting).

In both, an error carried in a 200 body or in a stream counts as an error of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from previewgate import metrics
from previewgate.errors import PreviewGateError, UpstreamError
from previewgate.evidence.sse_assembly import ResponseAssembler
from previewgate.formats.codec import ClientFormat, StreamEncoder, UpstreamFormat
from previewgate.gateway.blind_schema import ToolCallIds
from previewgate.gateway.resolve import RouteDecision
from previewgate.redaction.route_secrets import redact

MAX_ERROR_BODY = 64 * 1024
MAX_RESPONSE_BODY = 64 * 1024 * 1024
MAX_SSE_EVENT = 8 * 1024 * 1024  # one line or one event of a stream; past it the stream is cut
INBAND_ERROR = "upstream_inband_error"
MAX_UPSTREAM_ID = 200

Headers = list[tuple[bytes, bytes]]
ExtraHeaders = Sequence[tuple[bytes, bytes]]


@dataclass(slots=True)
class Outcome:
    """How the exchange ended; becomes the usage row."""

    status_code: int = 0
    error_kind: str | None = None
    usage: dict[str, Any] | None = None
    # Seconds from the request's start: the upstream call began, its head arrived, the first
    # bytes of its body, the exchange with it ended (for the request's spans).
    sent_s: float | None = None
    ttfb_s: float | None = None
    first_chunk_s: float | None = None
    upstream_s: float | None = None
    response_started: bool = False
    # What an experimented client received, merged as it is relayed (bounded by the capture
    # limit): the evidence needs no second parse of the answer.
    answer: ResponseAssembler | None = None
    answer_bytes: int = 0
    cost_microusd: int = 0
    upstream_id: str | None = None  # the upstream's own response id, kept for support


@dataclass(frozen=True, slots=True)
class Head:
    status: int
    headers: Headers
    opening: bytes = b""  # body bytes that go with the head (a stream's first events)


@dataclass(frozen=True, slots=True)
class RelayContext:
    """Everything a relay needs to know about the request it answers: the route, read
    through, and what this request adds."""

    route: RouteDecision
    response_id: str  # the gateway's own id: replaces the upstream's everywhere
    created: int
    wants_usage: bool  # the client asked for usage in a stream (we always ask the upstream)
    streamed: bool
    tool_ids: ToolCallIds
    client: ClientFormat  # the format the client speaks
    upstream: UpstreamFormat  # the format the upstream answers in
    request: dict[str, Any]  # the client's own body (some formats echo parts of it)

    @property
    def public_id(self) -> str:
        return self.route.public_id

    @property
    def blind(self) -> bool:
        return self.route.experimented

    @property
    def translated(self) -> bool:
        return self.client.api_format != self.upstream.api_format

    @property
    def rewrite_model(self) -> bool:
        """Catalog and experiment upstreams answer with their internal id."""
        return self.route.upstream is not None


def cost_microusd(usage: dict[str, Any], price_in: float, price_out: float) -> int:
    """USD per million tokens times tokens is micro-USD."""
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return 0
    return round(prompt * price_in + completion * price_out)


class Relay:
    """The base: failure handling shared by every relay (and used alone before a response).

    ``status`` and ``headers`` are the upstream's, for relays that read them.
    """

    def __init__(
        self,
        ctx: RelayContext,
        outcome: Outcome,
        status: int = 0,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.ctx = ctx
        self.outcome = outcome
        self.status = status
        self.headers = headers
        self.done = False  # stop reading the upstream: the answer is settled
        self._final: tuple[Head | None, bytes] = (None, b"")
        self.encoder: StreamEncoder | None = None  # stream relays: writes in-band errors

    def id_header(self) -> tuple[bytes, bytes]:
        return (b"x-request-id", self.ctx.response_id.encode())

    def json_head(self, status: int, body: bytes, extra: ExtraHeaders = ()) -> Head:
        return Head(
            status,
            [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                self.id_header(),
                *extra,
            ],
        )

    def sse_head(self, status: int, extra: ExtraHeaders = ()) -> Head:
        self.outcome.status_code = status
        self.outcome.response_started = True
        return Head(
            status,
            [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                self.id_header(),
                *extra,
            ],
        )

    def keep(self, doc: dict[str, Any], data: bytes = b"") -> bytes:
        """Remember what the client got (experimented requests only); returns ``data``."""
        answer = self.outcome.answer
        if answer is not None:
            answer.add(doc)
            self.outcome.answer_bytes += len(data)
        return data

    def start(self) -> Head | None:
        return None

    def feed(self, chunk: bytes) -> bytes:
        return b""

    def finish(self) -> tuple[Head | None, bytes]:
        return self._final

    def fail(
        self, kind: str, error: PreviewGateError, extra: ExtraHeaders = ()
    ) -> tuple[Head | None, bytes]:
        """Settle the answer as an error: in-band when the head is gone, else an error response."""
        outcome = self.outcome
        outcome.error_kind = outcome.error_kind or kind
        metrics.UPSTREAM_ERRORS.labels(outcome.error_kind).inc()
        self.done = True
        if outcome.response_started:
            self._final = (None, b"")
            encoder = self.encoder or self.ctx.client.encoder(self.ctx)
            return None, self.keep(error.body(), encoder.error(error))
        body = self.ctx.client.error_body(error)
        outcome.status_code = error.status
        outcome.response_started = True
        self._final = (self.json_head(error.status, body, extra), self.keep(error.body(), body))
        return self._final

    def note_upstream_id(self, doc: dict[str, Any], value: Any = None) -> None:
        if self.outcome.upstream_id is None:
            value = value if value is not None else doc.get("id")
            if isinstance(value, str) and value:
                # Stored for support: an upstream may put anything there, its key included.
                credentials = self.ctx.route.credentials()
                self.outcome.upstream_id = redact(value, credentials)[:MAX_UPSTREAM_ID]

    def record_usage(self, usage: Any) -> float:
        """Note the upstream's usage; returns the cost in USD the client is shown."""
        if not isinstance(usage, dict):
            return 0.0
        self.outcome.usage = usage
        cost = cost_microusd(usage, self.ctx.route.price_in, self.ctx.route.price_out)
        self.outcome.cost_microusd = cost
        return cost / 1_000_000


class BodyReader(Relay):
    """Collects a whole body (bounded) before answering: JSON answers and error bodies."""

    limit = MAX_RESPONSE_BODY
    truncate = False  # error bodies: keep the first `limit` bytes and stop reading

    def __init__(
        self,
        ctx: RelayContext,
        outcome: Outcome,
        status: int = 0,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(ctx, outcome, status, headers)
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        self._parts.append(chunk)
        if self._size > self.limit:
            if self.truncate:
                self.done = True
            else:
                self._parts.clear()
                self.fail("response_too_large", UpstreamError("The model's answer is too large."))
        return b""

    def body(self) -> bytes:
        return b"".join(self._parts)[: self.limit]

    def finish(self) -> tuple[Head | None, bytes]:
        if self.outcome.response_started:  # settled while reading (e.g. too large)
            return self._final
        return self.answer()

    def answer(self) -> tuple[Head | None, bytes]:
        """The head and body for the whole upstream body (``self.body()``)."""
        raise NotImplementedError


class ErrorBodyReader(BodyReader):
    """An upstream error (status >= 300): its first ``MAX_ERROR_BODY`` bytes are enough."""

    limit = MAX_ERROR_BODY
    truncate = True
