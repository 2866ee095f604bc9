"""WinbooksOnWeb, the one package the portal syncs from today (see provider.py)."""

from __future__ import annotations

from .provider import WinbooksProvider

__all__ = ["WinbooksProvider"]
