"""WoW misbehaving during a run: tokens lapsing or revoked, rate limits, server errors, dropped and slow
answers, objects cut by chunk boundaries, malformed records. After each fault, once the product recovered by
itself, the ledger equals the sandbox exactly and nothing is duplicated."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clients.ledger.streams import Stream
from clients.models import Entry, EntryLine
from silverfin_sync.notices import Notice
from syncs.engine import sync_run_execute
from syncs.models import AuditEvent, ClientLink, Connection, ErrorKind, SyncCursor, SyncIssue, SyncRun
from syncs.providers import ProviderError
from syncs.providers.winbooks import reader as winbooks_reader
from syncs.providers.winbooks.reader import WinbooksReader
from syncs.services import connection_connect, connection_reconnect
from tests.fixtures import FirmWorld
from tests.syncs.helpers import assert_ledger_equals_sandbox

from .helpers import Sleeps, connect_and_link, execute, fault, make_reader, queued_run, stats, stats_total

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["wow-like", "strict"])
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    """Faults must heal the same under both ways the sandbox answers (wow_sandbox/behaviour.py)."""
    return str(request.param)


ENTRIES_PATH = "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria?maxLevel=2"


def assert_exact(link: ClientLink, sandbox: Any) -> None:
    """The ledger is the sandbox's data, with no duplicate document or line."""
    assert_ledger_equals_sandbox(link.client_file, sandbox.snapshot())
    for model in (Entry, EntryLine):
        ids = Counter(model.objects.filter(client_file=link.client_file).values_list("wow_id", flat=True))
        assert not [i for i, n in ids.items() if n > 1], model


def assert_no_half_written_document(link: ClientLink, sandbox: Any) -> None:
    """Every document the ledger holds has exactly WoW's lines: a page is written whole or not at all."""
    theirs = {d["Id"]: {line["Id"] for line in d["GLTransactions"]} for d in sandbox.snapshot()["documents"]}
    for entry in Entry.objects.filter(client_file=link.client_file).prefetch_related("lines"):
        assert {str(line.wow_id) for line in entry.lines.all()} == theirs[str(entry.wow_id)]


class ExpiringReader(WinbooksReader):
    """Calls ``hook`` once, when the engine starts reading ``stream``: a fault in the middle of a run."""

    def __init__(self, base: WinbooksReader, stream: str, hook: Any) -> None:
        self.company_code, self.client = base.company_code, base.client
        self._stream, self._hook = stream, hook

    def changed(self, stream: Stream, **kwargs: Any) -> Any:
        if stream.key == self._stream and self._hook is not None:
            self._hook()
            self._hook = None
        return super().changed(stream, **kwargs)


# --- tokens -----------------------------------------------------------------------------------------------


def test_access_token_expiring_mid_run_is_refreshed_and_the_run_completes(
    link: ClientLink, wow_sandbox: Any
) -> None:
    before = Connection.objects.with_secrets().get(pk=link.connection_id)
    expire = lambda: wow_sandbox.control("POST", "tokens/expire-access", {})  # noqa: E731
    reader = ExpiringReader(make_reader(link), "accounts", expire)
    run = execute(link, reader)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.api_calls_by_kind.get("token") == 1  # one refresh, not one per request
    after = Connection.objects.get(pk=link.connection_id)
    assert (after.access_token, after.refresh_token) != (before.access_token, before.refresh_token)
    assert_exact(link, wow_sandbox)


@pytest.mark.django_db(transaction=True)
def test_a_401_after_k_requests_is_refreshed_once_and_the_run_completes(
    link: ClientLink, wow_sandbox: Any
) -> None:
    """The refused request may be one of several in flight, in a thread of the run (which, as in production,
    sees only committed rows: hence a committing test)."""
    fault(wow_sandbox, path_contains="/app/", kind="status", status=401, skip=5, count=1)
    run = execute(link)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.api_calls_by_kind.get("token") == 1
    assert_exact(link, wow_sandbox)


class RevokingAfterPages(WinbooksReader):
    """Revokes the refresh token (and lets the access token lapse) once ``pages`` pages of documents have
    come from WoW, before the next page is asked for: the refusal lands in the middle of the document
    stream, with pages already written and more to come."""

    def __init__(self, base: WinbooksReader, pages: int, revoke: Any) -> None:
        self.company_code, self.client = base.company_code, base.client
        read_pages = self.client.iter_changed

        def iter_changed(folder: str, om: str, **kwargs: Any) -> Any:
            for number, page in enumerate(read_pages(folder, om, **kwargs), start=1):
                yield page
                if om == "GLTransHeader" and number == pages:
                    revoke()

        self.client.iter_changed = iter_changed  # type: ignore[method-assign]


def wow_order(documents: list[dict[str, Any]]) -> list[str]:
    """Document ids in WoW's (Modified, Id) order, the order the changed-since read pages them in."""
    return [d["Id"] for d in sorted(documents, key=lambda d: (int(d["Modified"][6:-2]), d["Id"]))]


# Committed for real: the refresh is refused while documents are read ahead, in a thread with a database
# connection of its own, which must see the connection's row as production would.
@pytest.mark.django_db(transaction=True)
def test_a_refresh_token_revoked_mid_run_stops_everything_once_and_writes_nothing_half(
    world: FirmWorld, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = connect_and_link(world, wow_sandbox)
    # A second client file on the same connection: the firm's connection is refused once, not once a file.
    wow_sandbox.control(
        "POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
    )
    second = connect_and_link(world, wow_sandbox, client_file=world.other_file, code="SECOND_BV")
    page_size, pages_before_revoking = 3, 2
    monkeypatch.setitem(winbooks_reader.PAGE_SIZE, "entries", page_size)
    documents = wow_sandbox.snapshot()["documents"]
    assert len(documents) > (pages_before_revoking + 1) * page_size  # pages left to read after the refusal

    # Answers of two documents, one cut across the boundary: a page of three comes in two chunks.
    wow_sandbox.control("POST", "config", {"chunk_size": 2, "split": True})

    def revoke() -> None:
        # The refresh token is revoked; the access token is refused from the next page's second chunk on,
        # when the first chunk (a document and half of the next) has already arrived.
        wow_sandbox.control("POST", "tokens/revoke-refresh", {})
        fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="status", status=401, skip=1, count=1)

    run = execute(link, RevokingAfterPages(make_reader(link), pages_before_revoking, revoke))
    assert run.status == SyncRun.Status.FAILED and run.error_class == "access", run.error_message
    [refusal] = wow_sandbox.control("GET", "faults").json()
    assert (refusal["seen"], refusal["fired"]) == (2, 1)  # refused mid-page, after its first chunk
    # Exactly the pages read before the refusal are in the ledger, each document with all of WoW's lines,
    # and the cursor stands after the last of them.
    written = set(wow_order(documents)[: pages_before_revoking * page_size])
    ours = {
        str(i) for i in Entry.objects.filter(client_file=link.client_file).values_list("wow_id", flat=True)
    }
    assert ours == written
    assert_no_half_written_document(link, wow_sandbox)
    cursor = SyncCursor.objects.get(link=link, stream="entries")
    assert cursor.last_id == wow_order(documents)[pages_before_revoking * page_size - 1]
    connection = Connection.objects.get(pk=link.connection_id)
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert "reconnect" in connection.status_reason
    # The other client file's run stops too, without asking WoW anything.
    wow_sandbox.control("DELETE", "stats")
    other = execute(second)
    assert other.status == SyncRun.Status.FAILED
    assert stats_total(wow_sandbox) == 0
    again = execute(link)
    assert again.status == SyncRun.Status.FAILED
    assert AuditEvent.objects.filter(action=AuditEvent.Action.NEEDS_RECONNECT).count() == 1
    assert not SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).exists()
    # The scheduler queues nothing for a connection that needs reconnecting.
    from syncs.schedule import sync_dispatch_due

    ClientLink.objects.update(next_sync_at=None)
    ClientLink.objects.filter(pk=link.pk).update(next_sync_at=run.queued_at)
    assert sync_dispatch_due()["queued"] == 0
    # Reconnecting resumes after the cursor, and the ledger ends exactly equal.
    connection_reconnect(
        connection=connection,
        actor=world.admin,
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
    )
    assert execute(link).status == SyncRun.Status.SUCCEEDED
    assert_exact(link, wow_sandbox)


def test_an_exchange_token_used_twice_saves_nothing_the_second_time(
    world: FirmWorld, wow_sandbox: Any
) -> None:
    """Where WoW makes exchange tokens single use (the strict sandbox; WoW's documentation speaks only of a
    lifetime)."""
    wow_sandbox.config(reusable_exchange_tokens=False)
    token = wow_sandbox.exchange_token()
    first = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="First",
        email=wow_sandbox.TESTER,
        exchange_token=token,
        api_url=wow_sandbox.url,
    )
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="already been used"):
        connection_connect(
            firm=world.firm,
            actor=world.admin,
            name="Second",
            email=wow_sandbox.TESTER,
            exchange_token=token,
            api_url=wow_sandbox.url,
        )
    with pytest.raises(ValidationError, match="already been used"):
        connection_reconnect(
            connection=first, actor=world.admin, email=wow_sandbox.TESTER, exchange_token=token
        )
    assert list(Connection.objects.values_list("name", flat=True)) == ["First"]
    assert AuditEvent.objects.count() == events
    unchanged = Connection.objects.get(pk=first.pk)
    assert (unchanged.access_token, unchanged.refresh_token) == (first.access_token, first.refresh_token)


def test_an_exchange_token_wow_accepts_twice_reconnects(world: FirmWorld, wow_sandbox: Any) -> None:
    """Where WoW lets an exchange token be used again within its lifetime (the WoW-like sandbox, as the PHP
    client's suite does), re-submitting the form works: the connection takes the new tokens."""
    wow_sandbox.config(reusable_exchange_tokens=True)
    token = wow_sandbox.exchange_token()
    first = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="First",
        email=wow_sandbox.TESTER,
        exchange_token=token,
        api_url=wow_sandbox.url,
    )
    connection_reconnect(connection=first, actor=world.admin, email=wow_sandbox.TESTER, exchange_token=token)
    again = Connection.objects.get(pk=first.pk)
    assert again.access_token != first.access_token and again.refresh_token != first.refresh_token


# --- rate limits, server errors, network -------------------------------------------------------------------


def test_429_with_retry_after_is_honoured_not_hammered(link: ClientLink, wow_sandbox: Any) -> None:
    execute(link)
    wow_sandbox.control("POST", f"folders/{wow_sandbox.DEMO}/mutate", {"edit_documents": 2, "seed": 3})
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after=2.5, count=2)
    sleeps = Sleeps()
    wow_sandbox.control("DELETE", "stats")
    run = execute(link, make_reader(link, sleep=sleeps))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    # Each 429 was followed by exactly WoW's wait, and by nothing else: no retry without waiting, no other
    # request refused, and every request WoW saw is one the run counted.
    assert sleeps == [2.5, 2.5]
    seen = stats(wow_sandbox)
    assert seen["faults"] == {"status": 2} and seen["status"].get("429") == 2
    assert seen["requests"]["total"] == run.api_calls
    assert_exact(link, wow_sandbox)


def test_429_asking_for_a_long_wait_requeues_the_run_with_that_delay(
    link: ClientLink, wow_sandbox: Any
) -> None:
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after=300, count=1)
    run = queued_run(link)
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as raised:
        sync_run_execute(run_id=run.pk, reader=make_reader(link, sleep=sleeps))
    assert raised.value.kind == "transient" and raised.value.retry_after == 300
    assert sleeps == []  # no worker blocked for five minutes
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED  # back in the queue, not lost
    # The task's retry uses WoW's delay (see test_the_task_retries_after_what_wow_asked).
    assert sync_run_execute(run_id=run.pk).status == SyncRun.Status.SUCCEEDED
    assert_exact(link, wow_sandbox)


def test_the_task_retries_after_what_wow_asked(link: ClientLink, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncs import engine, tasks

    run = queued_run(link)

    def rate_limited(**_: Any) -> None:
        raise ProviderError(Notice("wow.rate_limited"), kind=ErrorKind.TRANSIENT, retry_after=42)

    monkeypatch.setattr(engine, "sync_run_execute", rate_limited)
    countdowns: list[float] = []

    class Retry(Exception):
        pass

    def retry(*, countdown: float) -> Exception:
        countdowns.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.run_sync, "retry", retry)
    with pytest.raises(Retry):
        tasks.run_sync.run(run.pk)
    assert countdowns == [42]


@pytest.mark.parametrize("status", [500, 503])
def test_a_burst_of_server_errors_is_retried_with_backoff(
    link: ClientLink, wow_sandbox: Any, status: int
) -> None:
    fault(wow_sandbox, path_contains="/app/", kind="status", status=status, skip=3, count=3)
    sleeps = Sleeps()
    run = execute(link, make_reader(link, sleep=sleeps, random=lambda: 1.0))  # the jitter at its top
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    # Three failed attempts of one request, each followed by a wait twice the last (0.5 s base).
    assert sleeps == [0.5, 1.0, 2.0]
    seen = stats(wow_sandbox)
    assert seen["faults"] == {"status": 3} and seen["status"].get(str(status)) == 3
    assert_exact(link, wow_sandbox)


def test_a_burst_longer_than_the_retries_requeues_the_run_and_the_next_attempt_is_exact(
    link: ClientLink, wow_sandbox: Any
) -> None:
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="status", status=503, count=10)
    run = queued_run(link)
    with pytest.raises(ProviderError):
        sync_run_execute(run_id=run.pk, reader=make_reader(link, sleep=Sleeps()))
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED
    wow_sandbox.control("DELETE", "faults")
    assert sync_run_execute(run_id=run.pk).status == SyncRun.Status.SUCCEEDED
    assert SyncRun.objects.get(pk=run.pk).attempt == 2
    assert_exact(link, wow_sandbox)


def test_a_connection_dropped_mid_chunk_is_retried(link: ClientLink, wow_sandbox: Any) -> None:
    wow_sandbox.control("POST", "config", {"chunk_size": 4})
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="drop", skip=1, count=2)
    run = execute(link, make_reader(link, sleep=Sleeps()))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert wow_sandbox.control("GET", "stats").json()["faults"]["drop"] == 2
    assert_exact(link, wow_sandbox)


def test_an_answer_slower_than_the_timeout_is_abandoned_and_retried(
    link: ClientLink, wow_sandbox: Any
) -> None:
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="slow", delay=5.0, count=1)
    sleeps = Sleeps()
    run = execute(link, make_reader(link, sleep=sleeps, timeout=1.0, random=lambda: 1.0))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    # The slow answer (a 200, had it been waited for) was given up and the request sent again after one
    # backoff: a client that waited would have used it and never retried.
    assert stats(wow_sandbox)["faults"] == {"slow": 1}
    assert sleeps == [0.5]
    assert_exact(link, wow_sandbox)


def test_documents_cut_by_chunk_boundaries_arrive_whole(link: ClientLink, wow_sandbox: Any) -> None:
    wow_sandbox.control("POST", "config", {"chunk_size": 2, "split": True})
    run = execute(link)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.reconciled is True
    assert_exact(link, wow_sandbox)
    assert_no_half_written_document(link, wow_sandbox)


# --- malformed records --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["amount", "account"])
def test_a_malformed_document_becomes_an_issue_and_the_rest_is_synced(
    link: ClientLink, wow_sandbox: Any, target: str
) -> None:
    # Twice: WoW answers the same document the same way when the client asks again for the answer its
    # typed decoder declined (it keeps no bodies for that case).
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="malformed", target=target, count=2)
    run = execute(link)
    issues = list(SyncIssue.objects.filter(run=run))
    assert len(issues) <= 1 and all(i.entity in {"document", "entry"} for i in issues), [
        i.problem for i in issues
    ]
    assert all(i.reference and i.problem and i.hint for i in issues)
    expected = SyncRun.Status.SUCCEEDED_WITH_ISSUES if issues else SyncRun.Status.SUCCEEDED
    assert run.status == expected, run.error_message
    # Every other document is in the ledger, whole; one an issue says is left out is not (when the gap check
    # read it again correctly in the same run, the issue is gone).
    theirs = {d["Id"] for d in wow_sandbox.snapshot()["documents"]}
    ours = {
        str(i) for i in Entry.objects.filter(client_file=link.client_file).values_list("wow_id", flat=True)
    }
    assert len(theirs - ours) <= 1 and ours <= theirs
    assert not {i.wow_id for i in issues} & ours
    assert_no_half_written_document(link, wow_sandbox)
    # Recovery by itself: the next sync, WoW answering correctly again, ends exactly equal and clean.
    again = execute(link)
    assert again.status == SyncRun.Status.SUCCEEDED, list(again.issues.values("code", "params"))
    assert_exact(link, wow_sandbox)
