"""Who is calling: user (by API key), machine, session, client request id, client IP.

Shared by the gateway and the feedback API, so a rating is read exactly as its request was."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from previewgate.config import Settings
from previewgate.routing.snapshot import Caller

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ID_LEN = 200


@dataclass(frozen=True, slots=True)
class Identity:
    caller: Caller | None
    machine_id: str | None
    session_id: str | None
    client_request_id: str | None
    client_ip: str | None
    user_agent: str | None
    feature: str | None
    mode: str | None
    editor: str | None

    @property
    def user_id_str(self) -> str | None:
        return str(self.caller.user_id) if self.caller else None


def _clean(value: str | None) -> str | None:
    """Identity headers are free text from clients: bound them and drop control characters."""
    if not value:
        return None
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    value = value.strip()[:MAX_ID_LEN]
    return value or None


def _first(headers: dict[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = _clean(headers.get(name))
        if value:
            return value
    return None


def _trusted(ip: str, networks: Sequence[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in networks)


def client_ip(
    peer: str | None, forwarded_for: str | None, networks: Sequence[Network]
) -> str | None:
    """The socket peer, or the nearest untrusted hop of X-Forwarded-For behind trusted proxies."""
    if peer is None or not forwarded_for or not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain is not evidence of anything
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def identify(
    headers: dict[str, str], peer: str | None, caller: Caller | None, settings: Settings
) -> Identity:
    """Who is calling; ``caller`` comes from the routing lookup of the API key."""
    return Identity(
        caller=caller,
        machine_id=_first(headers, settings.machine_headers),
        session_id=_first(headers, settings.session_headers),
        client_request_id=_first(headers, settings.request_id_headers),
        client_ip=client_ip(peer, headers.get("x-forwarded-for"), settings.trusted_networks),
        user_agent=_clean(headers.get("user-agent")),
        feature=_clean(headers.get("x-kilocode-feature")),
        mode=_clean(headers.get("x-kilocode-mode")),
        editor=_clean(headers.get("x-kilocode-editorname") or headers.get("x-editor-name")),
    )
