"""The sync engine against the WoW sandbox over real HTTP, on real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from clients.ledger.streams import ACCOUNTS, ENTRIES, Stream
from clients.models import Account, AccountBalance, Entry, EntryLine, Period
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, Connection, PeriodCheck, SyncRun
from syncs.runs import sync_run_request
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld

from .helpers import assert_ledger_equals_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["wow-like", "strict"])
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    """The engine must be exact under both ways the sandbox answers (wow_sandbox/behaviour.py)."""
    return str(request.param)


def run_sync(link: ClientLink) -> SyncRun:
    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return sync_run_execute(run_id=run.pk)


def test_first_sync_equals_the_sandbox_and_ties_out(link: ClientLink, wow_sandbox: Any) -> None:
    run = SyncRun.objects.get(link=link)  # queued by linking
    assert run.trigger == SyncRun.Trigger.FIRST_LINK
    run = sync_run_execute(run_id=run.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert run.reconciled is True
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())
    assert Account.objects.filter(client_file=link.client_file).count() == 11
    assert Period.objects.filter(client_file=link.client_file).count() == 28
    assert run.counts["entries"]["created"] == 15 and run.counts["lines"]["created"] == 40
    checks = PeriodCheck.objects.filter(run=run)
    assert checks.exists() and all(check.ties_out for check in checks)
    # Balances: every period's closing totals tie to zero.
    for period in Period.objects.filter(client_file=link.client_file):
        closing = sum(b.closing for b in AccountBalance.objects.filter(period=period))
        assert closing == 0


def test_a_second_sync_with_no_change_writes_nothing(link: ClientLink, wow_sandbox: Any) -> None:
    run_sync(link)
    before = {line.pk: line.synced_at for line in EntryLine.objects.filter(client_file=link.client_file)}
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED
    for entity, counts in run.counts.items():
        assert counts["created"] == counts["updated"] == counts["deleted"] == 0, entity
    after = {line.pk: line.synced_at for line in EntryLine.objects.filter(client_file=link.client_file)}
    assert after == before
    assert run.api_calls <= 15, (run.api_calls, run.api_calls_by_kind)


def test_edits_additions_and_deletions_arrive_and_nothing_else_changes(
    link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    result = wow_sandbox.control(
        "POST",
        f"folders/{wow_sandbox.DEMO}/mutate",
        {"edit_documents": 2, "add_documents": 2, "delete_documents": 1, "seed": 7},
    )
    assert result.status_code == 200, result.text
    untouched_before = set(
        Entry.objects.filter(client_file=link.client_file).values_list("wow_id", "wow_version")
    )
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())
    assert run.counts["entries"]["created"] == 2
    assert run.counts["entries"]["deleted"] == 1
    after = set(Entry.objects.filter(client_file=link.client_file).values_list("wow_id", "wow_version"))
    assert len(untouched_before - after) == 3  # two edited (new version), one deleted; the rest as they were


def test_an_account_rename_and_a_deleted_document_arrive(link: ClientLink, wow_sandbox: Any) -> None:
    run_sync(link)
    snapshot = wow_sandbox.snapshot()
    sales = next(a for a in snapshot["GLAccounts"] if a["Code"] == "700000")
    renamed = wow_sandbox.control(
        "PATCH", f"folders/{wow_sandbox.DEMO}/objects/GLAccount/{sales['Id']}", {"Label": "Omzet bakkerij"}
    )
    assert renamed.status_code == 200, renamed.text
    doomed = snapshot["documents"][0]["Id"]
    deleted = wow_sandbox.control("DELETE", f"folders/{wow_sandbox.DEMO}/objects/GLTransHeader/{doomed}")
    assert deleted.status_code in {200, 204}, deleted.text
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert Account.objects.get(client_file=link.client_file, number="700000").name == "Omzet bakkerij"
    assert not Entry.objects.filter(client_file=link.client_file, wow_id=doomed).exists()
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())


def test_a_line_altered_behind_the_engines_back_is_found_by_the_proof_and_healed(
    link: ClientLink, wow_sandbox: Any
) -> None:
    """A ledger line changed without a new version in WoW (a restore, a manual edit): only the proof's
    per-account sums see it, and the heal must rewrite the period's documents although their versions say
    unchanged."""
    run_sync(link)
    line = EntryLine.objects.filter(client_file=link.client_file, amount__gt=0).order_by("pk").first()
    assert line is not None and line.period_id is not None
    EntryLine.objects.filter(pk=line.pk).update(amount=line.amount + 1)
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    [check] = PeriodCheck.objects.filter(run=run, period_id=line.period_id)
    assert check.healed and check.ties_out
    assert EntryLine.objects.get(pk=line.pk).amount == line.amount
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())


def test_two_sync_requests_give_one_run(link: ClientLink) -> None:
    first, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    second, created_second = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    assert first.pk == second.pk
    assert created_second is False
    assert SyncRun.objects.filter(link=link, status__in=SyncRun.ACTIVE_STATUSES).count() == 1


def test_an_expired_access_token_is_refreshed_and_saved(link: ClientLink, wow_sandbox: Any) -> None:
    before = Connection.objects.with_secrets().get(pk=link.connection_id)
    wow_sandbox.control("POST", "tokens/expire-access", {})
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    after = Connection.objects.get(pk=link.connection_id)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # rotated, and the new one was saved


def test_a_revoked_refresh_token_marks_the_sync_needs_reconnecting_once(
    link: ClientLink, wow_sandbox: Any
) -> None:
    wow_sandbox.control("POST", "tokens/expire-access", {})
    wow_sandbox.control("POST", "tokens/revoke-refresh", {})
    run = run_sync(link)
    assert run.status == SyncRun.Status.FAILED
    assert run.error_class == "access"
    connection = Connection.objects.get(pk=link.connection_id)
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    second = run_sync(link)
    assert second.status == SyncRun.Status.FAILED
    from syncs.models import AuditEvent

    assert AuditEvent.objects.filter(action=AuditEvent.Action.NEEDS_RECONNECT).count() == 1


def test_a_sync_interrupted_after_page_k_and_retried_ends_identical(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncs.providers import ProviderError
    from syncs.providers.winbooks import reader as winbooks_reader
    from syncs.providers.winbooks.tokens import client_for_connection

    monkeypatch.setitem(winbooks_reader.PAGE_SIZE, "entries", 4)  # 15 documents: 4 pages
    wow_sandbox.control(
        "POST",
        "faults",
        {
            "path_contains": "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria",
            "kind": "status",
            "status": 503,
            "count": 1,
            "skip": 2,
        },
    )
    run = SyncRun.objects.get(link=link)
    reader = winbooks_reader.WinbooksReader(
        connection_id=link.connection_id,
        company_code=link.company_code,
        client=client_for_connection(link.connection_id, max_retries=0),
    )
    with pytest.raises(ProviderError):
        sync_run_execute(run_id=run.pk, reader=reader)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED  # back in the queue for the task's retry
    assert run.error_class == "transient"
    assert Entry.objects.filter(client_file=link.client_file).count() == 8  # two pages were checkpointed
    run = sync_run_execute(run_id=run.pk)  # the retry
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.attempt == 2
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())
    # The retry re-read what the cursor overlap covers, but wrote no document twice.
    assert run.counts["entries"]["created"] == 15
    assert run.counts["entries"]["updated"] == 0


def test_a_link_removed_while_documents_stream_in_stops_the_run_at_the_next_check(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.utils import timezone

    from syncs import engine
    from syncs.providers.winbooks import reader as winbooks_reader

    monkeypatch.setitem(winbooks_reader.PAGE_SIZE, "entries", 4)  # 15 documents: 4 pages
    monkeypatch.setattr(engine, "STILL_WANTED_EVERY_SECONDS", 0.0)  # read at every page
    write_page = engine._write_page

    def write_then_unlink(state: Any, stream: Stream, *args: Any, **kwargs: Any) -> None:
        write_page(state, stream, *args, **kwargs)
        if stream is ENTRIES:
            ClientLink.objects.filter(pk=link.pk).update(unlinked_at=timezone.now())

    monkeypatch.setattr(engine, "_write_page", write_then_unlink)
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)

    assert run.status == SyncRun.Status.FAILED and run.error_class == "config"
    assert run.error_message == "The client file was unlinked while the sync was running."
    assert Entry.objects.filter(client_file=link.client_file).count() == 4  # the page before, no more


def test_a_start_date_leaves_earlier_years_out(world: FirmWorld, wow_sandbox: Any) -> None:
    import datetime as dt

    connection = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WoW",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    link = client_link_set(
        client_file=world.given_file,
        connection=connection,
        company_code=wow_sandbox.DEMO,
        actor=world.staff,
        start_date=dt.date(2025, 1, 1),
    )
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    years = set(
        Entry.objects.filter(client_file=world.given_file).values_list("period__year", flat=True).distinct()
    )
    assert years <= {2025}
    snapshot = wow_sandbox.snapshot()
    periods_2025 = {p["Id"] for p in snapshot["BookPeriods"] if p["RelatedYear"] == 2025}
    expected = {d["Id"] for d in snapshot["documents"] if d["BookPeriod_Id"] in periods_2025}
    assert {
        str(i) for i in Entry.objects.filter(client_file=world.given_file).values_list("wow_id", flat=True)
    } == expected


def test_the_celery_task_runs_a_sync_to_the_end(link: ClientLink, wow_sandbox: Any) -> None:
    from syncs.tasks import run_sync

    run = SyncRun.objects.get(link=link)
    run_sync.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    run_sync.apply(args=[run.pk]).get()  # delivered twice: the second finds the run finished and does nothing
    assert SyncRun.objects.filter(link=link).count() == 1
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())


def test_a_record_wow_keeps_sending_malformed_is_one_issue_and_the_period_is_marked(
    link: ClientLink, wow_sandbox: Any
) -> None:
    wow_sandbox.control(
        "POST",
        "faults",
        {
            "path_contains": "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria?maxLevel=2",
            "kind": "malformed",
            "target": "account",
            "count": 50,
        },
    )
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert run.status == SyncRun.Status.SUCCEEDED_WITH_ISSUES
    issues = list(run.issues.all())
    assert len(issues) == 1, [(i.reference, i.problem) for i in issues]
    assert "account the ledger does not know" in issues[0].problem
    assert run.reconciled is False  # the left-out document's period does not tie out, and says so
    bad = PeriodCheck.objects.filter(run=run, ties_out=False)
    assert bad.count() == 1 and bad.get().healed
    assert Entry.objects.filter(client_file=link.client_file).count() == 14  # the rest is synced


def test_a_document_and_its_now_unused_account_deleted_in_wow_both_go(
    link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    snapshot = wow_sandbox.snapshot()
    rent = next(a for a in snapshot["GLAccounts"] if a["Code"] == "610000")
    users = [
        d
        for d in snapshot["documents"]
        if any(li["GLAccount_Id"] == rent["Id"] for li in d["GLTransactions"])
    ]
    assert users  # the demo books rent
    for document in users:
        assert wow_sandbox.control("DELETE", f"folders/DEMO_BV/objects/GLTransHeader/{document['Id']}").ok
    assert wow_sandbox.control("DELETE", f"folders/DEMO_BV/objects/GLAccount/{rent['Id']}").ok
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, [(i.reference, i.problem) for i in run.issues.all()]
    assert run.counts["accounts"]["deleted"] == 1
    assert run.counts["entries"]["deleted"] == len(users)
    assert not Account.objects.filter(client_file=link.client_file, number="610000").exists()
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())


def test_an_account_wow_deleted_but_the_ledger_still_books_on_is_kept_as_an_issue(
    link: ClientLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncs.providers.winbooks import reader as winbooks_reader

    run_sync(link)
    sales = Account.objects.get(client_file=link.client_file, number="700000")
    real_versions = winbooks_reader.WinbooksReader.versions
    real_fingerprint = winbooks_reader.WinbooksReader.master_fingerprint

    # WoW claims the sales account is gone while the ledger's documents still book on it.
    def versions_without_sales(self: Any, stream: Stream) -> dict[Any, int]:
        found = real_versions(self, stream)
        return {k: v for k, v in found.items() if k != sales.wow_id} if stream is ACCOUNTS else found

    def fingerprint_without_sales(self: Any, stream: Stream) -> tuple[int, int]:
        count, versions = real_fingerprint(self, stream)
        return (count - 1, versions - sales.wow_version) if stream is ACCOUNTS else (count, versions)

    monkeypatch.setattr(winbooks_reader.WinbooksReader, "versions", versions_without_sales)
    monkeypatch.setattr(winbooks_reader.WinbooksReader, "master_fingerprint", fingerprint_without_sales)
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED_WITH_ISSUES
    issue = run.issues.get()
    assert issue.reference.startswith("700000") and "still has bookings" in issue.problem
    assert Account.objects.filter(pk=sales.pk).exists()


def test_changes_committed_late_behind_the_cursor_still_arrive(link: ClientLink, wow_sandbox: Any) -> None:
    """WoW stamps Modified when a change starts; one committed after our read has a Modified behind the cursor
    and is invisible to the changed-since read. The version fingerprints catch it."""
    run_sync(link)
    snapshot = wow_sandbox.snapshot()
    long_ago = "/Date(1600000000000)/"  # 2020: far behind every cursor
    sales = next(a for a in snapshot["GLAccounts"] if a["Code"] == "700000")
    late_account = wow_sandbox.control(
        "PATCH",
        f"folders/DEMO_BV/objects/GLAccount/{sales['Id']}",
        {"Label": "Late rename", "Modified": long_ago},
    )
    assert late_account.ok, late_account.text
    document = snapshot["documents"][3]
    late_document = wow_sandbox.control(
        "PATCH",
        f"folders/DEMO_BV/objects/GLTransHeader/{document['Id']}",
        {"DocNumber": 999, "Modified": long_ago},
    )
    assert late_document.ok, late_document.text
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert Account.objects.get(client_file=link.client_file, number="700000").name == "Late rename"
    assert Entry.objects.get(client_file=link.client_file, wow_id=document["Id"]).doc_number == "999"
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())


def balance_rows(link: ClientLink) -> set[tuple[Any, ...]]:
    """The client file's balance rows, as the trial balance reads them."""
    return set(
        AccountBalance.objects.filter(client_file=link.client_file).values_list(
            "period_id", "account_id", "opening", "debit", "credit", "closing", "line_count"
        )
    )


def test_balances_rebuilt_from_the_touched_period_equal_a_full_rebuild(
    link: ClientLink, wow_sandbox: Any
) -> None:
    from clients.ledger import ledger_rebuild_balances

    run_sync(link)
    wow_sandbox.control(
        "POST",
        f"folders/{wow_sandbox.DEMO}/mutate",
        {"edit_documents": 3, "add_documents": 2, "delete_documents": 1, "seed": 11},
    )
    run_sync(link)

    incremental = balance_rows(link)
    every_period = Period.objects.filter(client_file=link.client_file).values_list("pk", flat=True)
    ledger_rebuild_balances(client_file_id=link.client_file_id, period_ids=every_period)
    assert balance_rows(link) == incremental


def test_balances_rebuilt_in_one_statement_equal_the_same_rebuilt_in_python(
    link: ClientLink, wow_sandbox: Any
) -> None:
    from clients.ledger import ledger_rebuild_balances

    run_sync(link)  # PostgreSQL: the balances come from the one-statement rebuild

    in_sql = balance_rows(link)
    every_period = Period.objects.filter(client_file=link.client_file).values_list("pk", flat=True)
    ledger_rebuild_balances(client_file_id=link.client_file_id, period_ids=every_period, in_python=True)
    assert in_sql and balance_rows(link) == in_sql
    assert any(opening and not line_count for _, _, opening, _, _, _, line_count in in_sql)  # carried forward


@pytest.mark.parametrize("in_python", [False, True])
def test_balances_rebuilt_for_some_accounts_leave_the_others_and_equal_a_full_rebuild(
    link: ClientLink, wow_sandbox: Any, in_python: bool
) -> None:
    """An incremental sync rebuilds only the accounts its changes touched: from a period on, those
    accounts' rows are rewritten (carried-forward openings included) and no other row is."""
    from clients.ledger import ledger_rebuild_balances

    run_sync(link)
    every_period = list(Period.objects.filter(client_file=link.client_file).values_list("pk", flat=True))
    full = balance_rows(link)
    accounts = sorted({account for _, account, *_ in full})[:3]
    changed = AccountBalance.objects.filter(client_file=link.client_file, account_id__in=accounts)
    kept_ids = set(
        AccountBalance.objects.filter(client_file=link.client_file)
        .exclude(account_id__in=accounts)
        .values_list("pk", flat=True)
    )
    changed.update(opening=999, closing=999)  # what a rebuild of these accounts must put right

    ledger_rebuild_balances(
        client_file_id=link.client_file_id, period_ids=every_period, account_ids=accounts, in_python=in_python
    )

    assert balance_rows(link) == full
    assert kept_ids <= set(AccountBalance.objects.values_list("pk", flat=True))  # the others not rewritten


def test_a_generated_company_cut_at_nearly_every_chunk_boundary_syncs_exact(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    """300 documents at maxLevel 2: WoW-like, about 7 objects a document, so nearly every boundary of a
    100-object chunk cuts a document (tests/winbooks/test_sandbox_chunking.py); strict, a page of 500
    documents is 5 chunks. First sync and an incremental one after edits, additions and deletions: exact."""
    created = wow_sandbox.control(
        "POST",
        "folders",
        {
            "code": "GEN_BV",
            "kind": "generated",
            "years": 2,
            "accounts": 60,
            "relations": 30,
            "documents": 300,
            "seed": 7,
            "grant": [wow_sandbox.TESTER],
        },
    )
    assert created.status_code == 201, created.text
    link = client_link_set(
        client_file=world.given_file, connection=connection, company_code="GEN_BV", actor=world.staff
    )
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot("GEN_BV"))
    assert run.counts["entries"]["created"] == 300
    mutated = wow_sandbox.control(
        "POST", "folders/GEN_BV/mutate", {"edit_documents": 25, "add_documents": 10, "delete_documents": 5}
    )
    assert mutated.status_code == 200, mutated.text
    run = run_sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot("GEN_BV"))
    assert run.counts["entries"]["created"] == 10 and run.counts["entries"]["deleted"] == 5
