"""Bookkeeping packages the portal can sync from. Each package is one module implementing
``base.Provider``; the engine and the services only ever talk to that interface."""

from __future__ import annotations

from .base import Provider, ProviderError
from .winbooks import WinbooksProvider

_PROVIDERS: dict[str, Provider] = {"winbooks": WinbooksProvider()}


def get_provider(key: str) -> Provider:
    return _PROVIDERS[key]


__all__ = ["Provider", "ProviderError", "get_provider"]
