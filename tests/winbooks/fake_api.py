"""What the WoW client's tests share: the address of the mocked API, the e-mail the tokens belong to, and
the fixed clock (tokens expire relative to it)."""

from __future__ import annotations

from datetime import UTC, datetime

API = "https://wow.test"
EMAIL = "boekhouding@example.be"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
