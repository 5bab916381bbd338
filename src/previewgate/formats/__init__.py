"""API formats: what clients send and checkpoints speak, translated through one canonical shape.

Three formats, each a client format (an endpoint family) and an upstream format (an
``api_format``): OpenAI chat completions (canonical), OpenAI Responses and Anthropic
Messages. `codec` draws the interface; docs/formats.md tables what maps to what and what is
refused (400 ``unsupported_for_this_model``).
"""

from __future__ import annotations

from previewgate.formats.anthropic import AnthropicUpstream, MessagesClient
from previewgate.formats.chat import ChatClient, ChatUpstream
from previewgate.formats.codec import ClientFormat, UpstreamFormat
from previewgate.formats.responses import ResponsesClient, ResponsesUpstream

CHAT = ChatClient()
RESPONSES = ResponsesClient()
MESSAGES = MessagesClient()
CLIENTS: dict[str, ClientFormat] = {c.kind: c for c in (CHAT, RESPONSES, MESSAGES)}
UPSTREAMS: dict[str, UpstreamFormat] = {
    u.api_format: u for u in (ChatUpstream(), ResponsesUpstream(), AnthropicUpstream())
}


def translate(client: ClientFormat, upstream: UpstreamFormat, body: dict) -> dict:  # type: ignore[type-arg]
    """The body for ``upstream``: the client's own when the formats match, else translated."""
    if client.api_format == upstream.api_format:
        return client.pass_through(body)
    return upstream.from_canonical(client.to_canonical(body))


def canonical_request(api_format: str, body: dict) -> dict:  # type: ignore[type-arg]
    """A body sent to an upstream of ``api_format`` as the canonical request (for capture)."""
    return UPSTREAMS[api_format].to_canonical(body)
