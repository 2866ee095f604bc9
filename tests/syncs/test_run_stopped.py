"""A run stopped halfway because its link or connection changed says why, and is filed under the right
cause: a connection that needs reconnecting is an access failure (the overview and the digest say
"needs reconnecting"), a link removed on purpose a settings one."""

from __future__ import annotations

from typing import Any

import pytest

from syncs import engine
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, Connection, ErrorKind, SyncRun
from syncs.runs import sync_run_request

pytestmark = pytest.mark.django_db


def stop_after_first_check(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """``change`` happens between the run's first check that it is still wanted and the next one."""
    original = engine._check_still_wanted
    checks: list[int] = []

    def checking(link: ClientLink) -> None:
        checks.append(1)
        if len(checks) == 2:
            change()
        original(link)

    monkeypatch.setattr(engine, "_check_still_wanted", checking)
    monkeypatch.setattr(engine, "STILL_WANTED_EVERY_SECONDS", 0.0)


def run(link: ClientLink) -> SyncRun:
    requested, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return sync_run_execute(run_id=requested.pk)


def test_a_connection_that_needs_reconnecting_mid_run_fails_it_as_access(
    link: ClientLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_after_first_check(
        monkeypatch,
        lambda: Connection.objects.filter(pk=link.connection_id).update(
            status=Connection.Status.NEEDS_RECONNECT
        ),
    )
    stopped = run(link)
    assert (stopped.status, stopped.error_class, stopped.error_code) == (
        SyncRun.Status.FAILED,
        ErrorKind.ACCESS,
        "run.connection_not_connected",
    )


def test_a_link_removed_mid_run_fails_it_as_settings(
    link: ClientLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.utils import timezone

    stop_after_first_check(
        monkeypatch, lambda: ClientLink.objects.filter(pk=link.pk).update(unlinked_at=timezone.now())
    )
    stopped = run(link)
    assert (stopped.status, stopped.error_class, stopped.error_code) == (
        SyncRun.Status.FAILED,
        ErrorKind.CONFIG,
        "run.unlinked_while_running",
    )
