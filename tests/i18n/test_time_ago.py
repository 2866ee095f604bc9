"""A last sync seconds ago reads "just now", not "0 minutes ago", in every language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from syncs.templatetags.ledger_format import time_ago

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("language", "seconds", "words"),
    [
        ("en", 0, "just now"),
        ("en", 59, "just now"),
        ("en", 60, "1\xa0minute ago"),
        ("en", 3 * 3600 + 300, "3\xa0hours, 5\xa0minutes ago"),
        ("nl", 10, "zonet"),
        ("nl", 7200, "2\xa0uur geleden"),
        ("fr", 10, "à l’instant"),
        ("fr", 120, "il y a 2\xa0minutes"),
    ],
)
def test_how_long_ago(language: str, seconds: int, words: str) -> None:
    with translation.override(language):
        assert time_ago(NOW - dt.timedelta(seconds=seconds), NOW) == words
