"""Pages of documents that arrived while the last ones were written go into the ledger together."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pytest

from clients.models import EntryLine
from syncs import engine
from syncs.engine import _joined, sync_run_execute
from syncs.models import ClientLink, SyncCursor, SyncRun
from syncs.providers.base import NO_KEY, StreamPage
from syncs.runs import sync_run_request

from .helpers import assert_ledger_equals_sandbox

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


@pytest.mark.django_db
def test_a_first_sync_that_finds_documents_after_all_upserts_them_instead(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger was found empty, so pages are prepared for a straight COPY; when a document is there after
    all, the page's transaction rolls back whole and the page is upserted: nothing duplicated, nothing
    counted twice."""
    first = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert first.status == SyncRun.Status.SUCCEEDED
    lines_before = set(EntryLine.objects.filter(client_file=link.client_file).values_list("wow_id", "pk"))
    monkeypatch.setattr(engine, "ledger_has_documents", lambda client_file_id: False)
    SyncCursor.objects.filter(link=link).delete()  # read every document again, as a first sync would

    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    run = sync_run_execute(run_id=run.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert run.counts["entries"]["created"] == run.counts["lines"]["created"] == 0
    assert run.counts["entries"]["unchanged"] == first.counts["entries"]["created"]
    assert set(EntryLine.objects.filter(client_file=link.client_file).values_list("wow_id", "pk")) == (
        lines_before
    )
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())
    assert run.progress["pages"] >= 1


@pytest.mark.django_db
def test_a_run_hands_the_gil_over_quickly_while_it_runs_and_restores_the_interval_after(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    sync = engine._sync

    def watched(state: Any) -> None:
        seen.append(sys.getswitchinterval())
        sync(state)

    monkeypatch.setattr(engine, "_sync", watched)
    before = sys.getswitchinterval()
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert seen == [engine.RUN_GIL_SWITCH_SECONDS] and before > engine.RUN_GIL_SWITCH_SECONDS
    assert sys.getswitchinterval() == before
