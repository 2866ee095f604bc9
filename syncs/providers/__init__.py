"""Bookkeeping packages the portal can sync from. Each package is one folder implementing
``base.Provider`` (which hands the engine a ``base.Reader``), and one line in the registry below; the
engine and the services only ever talk to that interface."""

from __future__ import annotations

from .base import Provider, ProviderError, Reader
from .winbooks import WinbooksProvider

_PROVIDERS: dict[str, Provider] = {
    WinbooksProvider.key: WinbooksProvider(),
}


def get_provider(key: str) -> Provider:
    return _PROVIDERS[key]


__all__ = ["Provider", "ProviderError", "Reader", "get_provider"]
