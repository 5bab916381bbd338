"""The typed interface every API format implements, once as a client and once as an upstream.

The canonical shape is the OpenAI chat-completion one the rest of the system already speaks:
a request is a chat request body, an answer a ``chat.completion``, a stream a sequence of
``chat.completion.chunk`` documents, an error ``{"error": {...}}``. Capture, stats and export
only ever see that shape, whatever the client and the checkpoint spoke.

- `ClientFormat`: parse and validate what a client sent; turn its body into the canonical
  request; write canonical answers, stream chunks and our errors in the client's format.
- `UpstreamFormat`: write the canonical request in the checkpoint's format; read its answers,
  stream events and usage back into the canonical shape.

A client format and the upstream format with the same ``api_format`` need no translation:
the route passes the body through (with the route's rewrites) and relays the answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

import orjson

from previewgate.errors import PreviewGateError

Doc = dict[str, Any]


class ReplyContext(Protocol):
    """What a client encoder needs to know about the request it answers."""

    @property
    def response_id(self) -> str: ...  # the gateway's own id (gen-...)

    @property
    def public_id(self) -> str: ...

    @property
    def created(self) -> int: ...

    @property
    def request(self) -> Doc: ...  # the client's own body: some formats echo parts of it


class StreamDecoder(ABC):
    """An upstream's stream events, read into canonical chunks (one instance per answer)."""

    @abstractmethod
    def feed(self, event: Doc) -> list[Doc]:
        """Canonical chunks (or one ``{"error": ...}`` document) for one upstream event."""

    def upstream_id(self, event: Doc) -> Any:
        """Where this format's events carry the upstream's own response id."""
        return event.get("id")


class StreamEncoder(ABC):
    """Canonical (already rebuilt) chunks written as one client's stream."""

    @abstractmethod
    def start(self) -> bytes:
        """What opens the stream, sent with the response head."""

    @abstractmethod
    def chunk(self, doc: Doc) -> bytes:
        """The client's events for one canonical chunk (b"" when it adds nothing)."""

    @abstractmethod
    def end(self) -> bytes:
        """What closes a stream that ended well."""

    @abstractmethod
    def error(self, error: PreviewGateError) -> bytes:
        """An in-band error event; nothing follows it."""


class ClientFormat(ABC):
    """How a client speaks: one per endpoint family."""

    kind: str  # the usage and attribution rows' request_kind: chat | responses | messages
    api_format: str  # the upstream format that needs no translation
    path: str  # appended to a default (OpenRouter-style) upstream's base URL

    @abstractmethod
    def parse(self, body: Any) -> Doc:
        """The client's body, validated (a 4xx `PreviewGateError` when it is not usable)."""

    @abstractmethod
    def to_canonical(self, body: Doc) -> Doc:
        """The canonical request; raises `UnsupportedForThisModel` for what cannot map."""

    def pass_through(self, body: Doc) -> Doc:
        """The body for an upstream of the client's own format (a copy: rewrites follow)."""
        return dict(body)

    def wants_usage(self, body: Doc) -> bool:
        """Whether the client's stream carries usage (the upstream is always asked for it)."""
        return True

    @abstractmethod
    def answer(self, completion: Doc, ctx: ReplyContext) -> Doc:
        """A rebuilt canonical ``chat.completion`` as the client's answer document."""

    @abstractmethod
    def encoder(self, ctx: ReplyContext) -> StreamEncoder: ...

    @abstractmethod
    def error_doc(self, error: PreviewGateError) -> Doc:
        """Our error in the client's error shape."""

    def error_body(self, error: PreviewGateError) -> bytes:
        return orjson.dumps(self.error_doc(error))


class UpstreamFormat(ABC):
    """How a checkpoint speaks: one per ``api_format``."""

    api_format: str
    path: str  # appended to the upstream's base URL
    # The member of a stream event that holds the answer's envelope (id, model, usage), for
    # a faithful relay that splices our values into it; None: the event is the envelope.
    envelope: str | None = None

    @abstractmethod
    def from_canonical(self, request: Doc) -> Doc:
        """The canonical request in this format; raises `UnsupportedForThisModel`."""

    @abstractmethod
    def to_canonical(self, body: Doc) -> Doc:
        """A request body of this format as the canonical request (for capture)."""

    @abstractmethod
    def answer(self, doc: Doc) -> Doc:
        """A whole answer as a canonical ``chat.completion`` (or ``{"error": ...}``)."""

    @abstractmethod
    def decoder(self) -> StreamDecoder: ...

    def auth_headers(self, api_key: str | None, extra: bytes = b"") -> tuple[bytes, bytes]:
        """(the key's header prefix, further header lines) for the HTTP client."""
        return b"\r\nauthorization: Bearer ", extra

    def prepare(self, body: Doc, stream: bool) -> None:
        """Last touches on the body sent upstream (in place), e.g. ask for stream usage."""
        return
