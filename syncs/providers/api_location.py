"""Where a connection's calls may go: the API location a firm admin types is checked before it is used.

In production (``settings.WOW_API_RESTRICTED``) the location must be ``https://`` on one of the WoW hosts of
``settings.WOW_API_HOSTS`` (default port), and every address its name resolves to must be public: not
private, loopback, link-local or reserved. The addresses are checked again on every connection the client
opens (``address_allowed``), so a name that resolves elsewhere later reaches nothing either. Outside
production, plain ``http://`` to this machine is allowed too, for the sandbox.

The messages say what is allowed, never what answered at an address: the form must not be a port scanner.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings

from silverfin_sync.notices import Notice
from syncs.models import ErrorKind

from .base import ProviderError


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_allowed(address: str) -> bool:
    """Whether a connection may be made to this IP address (public addresses only, when restricted)."""
    if not settings.WOW_API_RESTRICTED:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_check() -> Callable[[str], bool] | None:
    """What the WoW client is given as ``address_allowed``: ``None`` when nothing is restricted."""
    return address_allowed if settings.WOW_API_RESTRICTED else None


def _allowed_hosts_text() -> str:
    return ", ".join(f"https://{host}" for host in settings.WOW_API_HOSTS)


def clean_api_url(api_url: str) -> str:
    """The API location, normalised, or a ``config`` ProviderError saying what is allowed."""
    api_url = api_url.strip().rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ProviderError(Notice("wow.api_url_not_web_address"), kind=ErrorKind.CONFIG)
    if parts.query or parts.fragment or parts.username:
        raise ProviderError(Notice("wow.api_url_not_plain"), kind=ErrorKind.CONFIG)
    host = parts.hostname.lower()
    if not settings.WOW_API_RESTRICTED:
        if parts.scheme == "http" and not _is_loopback_name(host):
            raise ProviderError(Notice("wow.api_url_not_https"), kind=ErrorKind.CONFIG)
        return api_url
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "https" or host not in settings.WOW_API_HOSTS or port not in (None, 443):
        raise ProviderError(
            Notice("wow.api_url_not_wow", {"hosts": _allowed_hosts_text()}), kind=ErrorKind.CONFIG
        )
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        addresses = set()
    if not addresses or not all(address_allowed(str(address)) for address in addresses):
        raise ProviderError(Notice("wow.api_url_unchecked"), kind=ErrorKind.TRANSIENT)
    return api_url
