"""The API location: WoW's own hosts only in production, public addresses only (checked after resolution,
and again on the connected socket), never changed through the admin, and no port-scan oracle."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse

from syncs.models import ClientLink, Connection
from syncs.providers import ProviderError, get_provider
from syncs.providers.api_location import clean_api_url
from tests.fixtures import FirmWorld
from tests.hostile_wow import hostile_server

pytestmark = pytest.mark.django_db

restricted = override_settings(WOW_API_RESTRICTED=True, WOW_API_HOSTS=["rapi.winbooksonweb.be"])


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@restricted
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",  # the sandbox: development only
        "http://rapi.winbooksonweb.be",
        "https://evil.example.com",
        "https://rapi.winbooksonweb.be.evil.example.com",
        "https://rapi.winbooksonweb.be:8443",
        "https://10.0.0.5",
    ],
)
def test_in_production_only_wows_hosts_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    resolving_to(monkeypatch, "93.184.216.34")
    with pytest.raises(ProviderError) as refused:
        clean_api_url(url)
    assert refused.value.kind == "config"
    assert "must be one of WinbooksOnWeb's: https://rapi.winbooksonweb.be" in refused.value.user_message


@restricted
def test_a_wow_host_that_resolves_to_public_addresses_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    resolving_to(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert clean_api_url(" https://RAPI.winbooksonweb.be/ ") == "https://RAPI.winbooksonweb.be"


@restricted
@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "::1", "fe80::1", "::ffff:10.0.0.1"],
)
def test_a_wow_host_resolving_to_an_inner_address_is_refused_without_saying_so(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving_to(monkeypatch, "93.184.216.34", address)
    with pytest.raises(ProviderError) as refused:
        clean_api_url("https://rapi.winbooksonweb.be")
    assert address not in refused.value.user_message
    assert "could not be checked" in refused.value.user_message


def test_outside_production_the_sandbox_on_loopback_is_allowed() -> None:
    assert clean_api_url("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    with pytest.raises(ProviderError, match="must use https://"):
        clean_api_url("http://rapi.example.com")


def test_the_address_is_checked_again_on_the_connected_socket(link: ClientLink, wow_sandbox: Any) -> None:
    """A name that passed the form's check but resolves to an inner address later (DNS rebinding) reaches
    nothing: the connection is refused before a request is sent."""
    before = wow_sandbox.control("GET", "stats").json()["requests"].get("total", 0)
    with override_settings(WOW_API_RESTRICTED=True), pytest.raises(ProviderError) as refused:
        get_provider("winbooks").check_company(
            connection_id=link.connection_id, company_code=link.company_code
        )
    assert "could not be reached" in refused.value.user_message
    assert wow_sandbox.control("GET", "stats").json()["requests"].get("total", 0) == before  # nothing sent


def test_the_admin_cannot_change_a_connections_api_location(link: ClientLink, wow_sandbox: Any) -> None:
    connection = Connection.objects.get(pk=link.connection_id)
    root = Client()
    root.force_login(User.objects.create_superuser("root@ops.test", "root@ops.test", "x"))
    url = reverse("admin:syncs_connection_change", args=[connection.pk])
    page = root.get(url).content.decode()
    assert 'name="api_url"' not in page  # shown, not editable
    root.post(
        url,
        {
            "firm": connection.firm_id,
            "name": connection.name,
            "provider": connection.provider,
            "status": connection.status,
            "nightly_sync_time": "02:00",
            "api_url": "https://evil.example.com",
        },
    )
    connection.refresh_from_db()
    assert connection.api_url == wow_sandbox.url


def test_connect_errors_do_not_tell_what_answered_at_an_address(client: Client, world: FirmWorld) -> None:
    """Nothing listening, an HTTP server answering 429, one answering an endless body, one answering
    nothing for ever: the same words each time, so the form cannot map what runs where."""
    client.force_login(world.admin)
    url = reverse("sync_connect_winbooks", args=[world.firm.slug])
    data = {"name": "Probe", "email": "a@b.be", "exchange_token": "x"}
    messages = set()
    with (
        hostile_server("rate_limited", retry_after="1") as limited,
        hostile_server("huge") as huge,
        hostile_server("continue_loop", chunk_body=b"<html>hello</html>") as html,
    ):
        for target in ["http://127.0.0.1:9", limited.url, huge.url, html.url]:
            body = client.post(url, {**data, "api_url": target}).content.decode()
            found = [m for m in ("could not be reached", "could not use", "did not accept") if m in body]
            messages.add(tuple(found))
    assert messages == {("could not be reached",)}
    assert not Connection.objects.exists()
