"""The SSRF guard on outbound URLs, and webhook creation refusing private targets."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from webhook_receiver import prepare_event_tables

from modelyard.core.errors import InvalidArgument
from modelyard.core.net import check_outbound_url, pin_url, resolve_outbound_url
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.events.webhooks import WebhookService

PRIVATE_URLS = [
    "http://127.0.0.1",
    "http://localhost",
    "http://localhost./hook",
    "http://[::1]",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1",
    "http://192.168.1.10:8080/x",
    "http://172.16.0.1",
    "http://100.64.0.1",
    "http://0.0.0.0",
    "http://2130706433",
    "http://0x7f000001",
    "http://017700000001",
    "http://127.1",
    "http://[::ffff:127.0.0.1]",
    "http://[::ffff:a9fe:a9fe]",
    "http://[64:ff9b::7f00:1]",
    "http://[2002:7f00:1::]",
    "http://[fe80::1]",
    "http://224.0.0.1",
    "https://127.0.0.1:8443/hook",
]

MALFORMED_URLS = [
    "http://user:pass@example.com",
    "http://user@93.184.215.14/",
    "ftp://93.184.215.14/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "javascript:alert(1)",
    "http://",
    "http:///path",
    "http://93.184.215.14:99999/",
    "http://93.184.215.14/a b",
    "http://93.184.215.14\\@127.0.0.1/",
    "",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_targets_are_refused_with_a_hint(url: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_outbound_url(url, allow_private=False)
    assert "MODELYARD_ALLOW_PRIVATE_WEBHOOKS=true" in err.value.message


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_an_admin_can_allow_private_targets(url: str) -> None:
    check_outbound_url(url, allow_private=True)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_bad_schemes_and_credentials_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(InvalidArgument):
        check_outbound_url(url, allow_private=True)


def test_credentials_message_says_what_to_do() -> None:
    with pytest.raises(InvalidArgument, match="credentials"):
        check_outbound_url("http://user:pass@example.com", allow_private=False)


def test_public_literal_address_is_accepted() -> None:
    check_outbound_url("https://93.184.215.14/hook", allow_private=False)
    check_outbound_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8080/", allow_private=False)


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="resolved"):
        check_outbound_url("http://no-such-host.invalid/hook", allow_private=False)


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused (DNS tricks)."""
    import socket

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(InvalidArgument, match=r"10\.1\.2\.3"):
        check_outbound_url("https://hooks.example.com/x", allow_private=False)


def test_pinned_request_goes_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, 1, 6, "", ("93.184.215.14", port))],
    )
    target = resolve_outbound_url("https://hooks.example.com:8443/in?x=1", allow_private=False)
    assert target.addresses == (ipaddress.ip_address("93.184.215.14"),)
    url, headers, ext = pin_url(target)
    assert url == httpx.URL("https://93.184.215.14:8443/in?x=1")
    assert headers == {"Host": "hooks.example.com:8443"}
    assert ext == {"sni_hostname": "hooks.example.com"}
    # With private targets allowed nothing is resolved or rewritten.
    url, headers, ext = pin_url(resolve_outbound_url("http://localhost:1/x", allow_private=True))
    assert (str(url), headers, ext) == ("http://localhost:1/x", {}, {})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1", "http://169.254.169.254/latest/meta-data", "http://127.1"]
)
def test_webhook_creation_refuses_private_targets(store: Store, settings: Settings, url: str) -> None:
    prepare_event_tables(store)
    svc = WebhookService(store.db, settings)
    assert settings.allow_private_webhooks is False
    with pytest.raises(InvalidArgument, match="MODELYARD_ALLOW_PRIVATE_WEBHOOKS"):
        svc.create_webhook(url=url)
    assert svc.list_webhooks(None) == []


def test_api_refuses_private_webhook_with_a_400(store: Store, live_server) -> None:
    prepare_event_tables(store)
    r = httpx.post(
        f"{live_server.url}/api/v1/webhooks", json={"url": "http://169.254.169.254/latest/meta-data"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert "MODELYARD_ALLOW_PRIVATE_WEBHOOKS=true" in r.json()["error"]["message"]
