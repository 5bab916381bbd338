"""The upstream client through a real egress proxy (tinyproxy): http forwarded, https tunnelled
with TLS verified end to end, NO_PROXY, per-upstream choices, and each way it can fail."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import trustme

from previewgate.config import Settings
from previewgate.egress import Egress, NoProxy
from previewgate.gateway.http_client import UpstreamClient
from previewgate.gateway.http_errors import (
    ConnectError,
    ProxyRefused,
    ProxyUnknown,
    ProxyUnreachable,
)
from tests.support.egress_proxy import Tinyproxy, closed_port
from tests.support.servers import MockServer, start_mock

USER, PASSWORD = "gateway", "proxy-pw-7f3a9c"
CREDENTIALS = (USER, PASSWORD)
BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def plain() -> Iterator[MockServer]:
    server = start_mock()
    yield server
    server.stop()


@pytest.fixture
def tls(ca: trustme.CA) -> Iterator[MockServer]:
    server = start_mock(ssl_context=server_context(ca))
    yield server
    server.stop()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    server = Tinyproxy(tmp_path / "proxy", CREDENTIALS)
    yield server
    server.stop()


def client(ca: trustme.CA, egress: Egress) -> UpstreamClient:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    return UpstreamClient(2.0, 5.0, ssl_context=trusting, egress=egress)


def env(**variables: str) -> Egress:
    """The egress policy read from the standard variables, as the gateway reads them."""
    return Settings(**variables).egress  # type: ignore[arg-type]


async def call(http: UpstreamClient, url: str, proxy: str | None = None) -> tuple[int, bytes]:
    resp = await http.post(
        url + "/chat/completions", BODY, api_key="sk-partner-1", stream=False, proxy=proxy
    )
    try:
        return resp.status, await resp.read(1 << 20)
    finally:
        resp.release()


async def test_http_upstream_is_forwarded_with_credentials(
    ca: trustme.CA, plain: MockServer, proxy: Tinyproxy
) -> None:
    http = client(ca, env(HTTP_PROXY=proxy.url(CREDENTIALS)))
    status, body = await call(http, plain.base_url)
    await http.close()
    assert status == 200 and b"chat.completion" in body
    assert proxy.requests() == [f"POST {plain.base_url}/chat/completions HTTP/1.1"]
    seen = plain.upstream.requests[-1].headers
    assert "tinyproxy" in seen.get("Via", "")  # it came through the proxy
    assert "Proxy-Authorization" not in seen  # hop-by-hop: not passed on
    assert seen["Authorization"] == "Bearer sk-partner-1"


async def test_https_upstream_is_tunnelled_and_verified_end_to_end(
    ca: trustme.CA, tls: MockServer, proxy: Tinyproxy
) -> None:
    http = client(ca, env(HTTPS_PROXY=proxy.url(CREDENTIALS)))
    for _ in range(3):
        status, _ = await call(http, tls.base_url)
        assert status == 200
    await http.close()
    # One tunnel, kept alive for the three requests; the proxy saw none of them.
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{tls.port} HTTP/1.1"]
    assert len(tls.upstream.requests) == 3
    assert "Via" not in tls.upstream.requests[-1].headers


async def test_tls_through_the_tunnel_refuses_an_untrusted_certificate(
    tls: MockServer, proxy: Tinyproxy
) -> None:
    stranger = trustme.CA()  # the client trusts another CA than the one that signed the cert
    http = client(stranger, env(HTTPS_PROXY=proxy.url(CREDENTIALS)))
    with pytest.raises(ConnectError, match="SSLCertVerificationError"):
        await call(http, tls.base_url)
    await http.close()
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{tls.port} HTTP/1.1"]
    assert tls.upstream.requests == []


async def test_no_proxy_bypasses_the_proxy(ca: trustme.CA, tls: MockServer) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    for no_proxy in ("127.0.0.1", "127.0.0.0/8", f"127.0.0.1:{tls.port}", "*"):
        http = client(ca, env(HTTPS_PROXY=down, NO_PROXY=f"example.com, {no_proxy}"))
        assert (await call(http, tls.base_url))[0] == 200, no_proxy
        await http.close()
    http = client(ca, env(HTTPS_PROXY=down, NO_PROXY="127.0.0.2,localhost:1"))
    with pytest.raises(ProxyUnreachable):
        await call(http, tls.base_url)
    await http.close()


async def test_a_proxy_that_is_down(ca: trustme.CA, plain: MockServer, tls: MockServer) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    http = client(ca, env(HTTPS_PROXY=down, HTTP_PROXY=down))
    for url in (plain.base_url, tls.base_url):
        with pytest.raises(ProxyUnreachable, match="ConnectionRefusedError") as caught:
            await call(http, url)
        assert PASSWORD not in str(caught.value)
    await http.close()
    assert plain.upstream.requests == [] and tls.upstream.requests == []


async def test_a_proxy_that_refuses(
    ca: trustme.CA, plain: MockServer, tls: MockServer, proxy: Tinyproxy
) -> None:
    wrong = env(HTTPS_PROXY=proxy.url((USER, "wrong")), HTTP_PROXY=proxy.url())
    http = client(ca, wrong)
    with pytest.raises(ProxyRefused, match=r"\(401\)"):  # tinyproxy: wrong credentials
        await call(http, tls.base_url)
    with pytest.raises(ProxyRefused, match=r"\(407\)"):  # none at all
        await call(http, plain.base_url)
    await http.close()
    assert plain.upstream.requests == [] and tls.upstream.requests == []


async def test_an_upstream_the_proxy_cannot_reach_is_a_connect_error(
    ca: trustme.CA, proxy: Tinyproxy
) -> None:
    http = client(ca, env(HTTPS_PROXY=proxy.url(CREDENTIALS)))
    with pytest.raises(ConnectError, match="could not reach the upstream") as caught:
        await call(http, f"https://127.0.0.1:{closed_port()}/v1")
    await http.close()
    assert not isinstance(caught.value, ProxyRefused | ProxyUnreachable)


async def test_an_upstream_picks_its_own_proxy(
    ca: trustme.CA, tls: MockServer, proxy: Tinyproxy
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    egress = Settings(  # type: ignore[call-arg]
        HTTPS_PROXY=down,
        NO_PROXY="127.0.0.1",
        egress_proxies=f"corp={proxy.url(CREDENTIALS)},gone={down}",
    ).egress
    http = client(ca, egress)
    assert (await call(http, tls.base_url, proxy="corp"))[0] == 200  # wins over NO_PROXY
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{tls.port} HTTP/1.1"]
    assert (await call(http, tls.base_url, proxy="direct"))[0] == 200
    with pytest.raises(ProxyUnreachable):
        await call(http, tls.base_url, proxy="gone")
    with pytest.raises(ProxyUnknown, match="'elsewhere'"):
        await call(http, tls.base_url, proxy="elsewhere")
    await http.close()
    assert len(proxy.requests()) == 1


def test_no_proxy_entries() -> None:
    rules = NoProxy(".corp.example, internal, 10.0.0.0/8, [::1]:8443, api.test:8080")
    assert rules.matches("a.corp.example", 443) and rules.matches("corp.example", 443)
    assert rules.matches("internal", 80) and rules.matches("svc.internal", 80)
    assert not rules.matches("notinternal", 80)
    assert rules.matches("10.2.3.4", 443) and not rules.matches("11.2.3.4", 443)
    assert rules.matches("::1", 8443) and not rules.matches("::1", 443)
    assert rules.matches("api.test", 8080) and not rules.matches("api.test", 443)
    assert not NoProxy("").matches("anything", 1)
