"""The client's address, and forwarded headers believed only from the configured reverse proxy.

Behind a reverse proxy ``REMOTE_ADDR`` is the proxy's address, the same for every user: a log-in throttle
keyed on it locks everyone out at once. The proxy puts the real address in a header (``X-Forwarded-For``
by default, ``CLIENT_ADDRESS_HEADER``); that header is believed only when the request comes from an address
in ``TRUSTED_PROXIES``, since anyone else can send it with any value. The same holds for
``X-Forwarded-Proto`` (which decides whether Django takes a request for HTTPS): from any other peer the
middleware below removes the forwarded headers before Django reads them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_FORWARDED",
)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as error:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES must be IP addresses or networks (e.g. 10.0.0.2 or 172.18.0.0/16): {error}"
        ) from error


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _meta_key(header: str) -> str:
    return "HTTP_" + header.strip().upper().replace("-", "_")


def is_trusted_proxy(address: str) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(
        parsed in network for network in _networks(tuple(settings.TRUSTED_PROXIES))
    )


def client_address(request: HttpRequest) -> str:
    """The address of the client, as a normalised IP address string.

    From a trusted proxy, the right-most address of the header that is not itself a trusted proxy (the
    proxy appends the peer it saw; anything to its left was written by the client and proves nothing).
    Otherwise, and whenever the header holds no usable address, the peer's own address.
    """
    peer = str(request.META.get("REMOTE_ADDR", ""))
    parsed_peer = _parse(peer)
    fallback = str(parsed_peer) if parsed_peer is not None else peer
    if not is_trusted_proxy(peer):
        return fallback
    header = str(request.META.get(_meta_key(settings.CLIENT_ADDRESS_HEADER), ""))
    for entry in reversed(header.split(",")):
        parsed = _parse(entry)
        if parsed is None:
            return fallback
        if not is_trusted_proxy(str(parsed)):
            return str(parsed)
    return fallback


class ForwardedHeadersFromTrustedProxiesOnly:
    """Removes forwarded headers that a request did not receive from a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_trusted_proxy(str(request.META.get("REMOTE_ADDR", ""))):
            for key in (*FORWARDED_HEADERS, _meta_key(settings.CLIENT_ADDRESS_HEADER)):
                request.META.pop(key, None)
        return self.get_response(request)
