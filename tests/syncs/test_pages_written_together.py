"""Pages of documents that arrived while the last ones were written go into the ledger together."""

from __future__ import annotations

import datetime as dt

from syncs.engine import _joined
from syncs.providers.base import NO_KEY, StreamPage

FIRST = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_pages_written_together_keep_their_rows_in_order() -> None:
    a = StreamPage(rows=[1, 2], rejected=[], last_key=(FIRST, "a"))
    b = StreamPage(rows=[3], rejected=[], last_key=(FIRST, "b"))
    assert _joined([a]) is a
    assert _joined([a, b]).rows == [1, 2, 3]


def test_the_cursor_goes_where_the_last_page_that_moves_it_leaves_it() -> None:
    a = StreamPage(rows=[1], rejected=[], last_key=(FIRST, "a"))
    b = StreamPage(rows=[2], rejected=[], last_key=(FIRST, "b"))
    unmoved = StreamPage(rows=[3], rejected=[], last_key=NO_KEY)  # parts read side by side
    assert _joined([a, b, unmoved]).last_key == (FIRST, "b")
    assert _joined([unmoved, a]).last_key == (FIRST, "a")
    assert _joined([unmoved, unmoved]).last_key == NO_KEY
