"""The proof as a run reports it: against the WoW sandbox over real HTTP, with WoW's trial balance (its
account sums) made to disagree with its own documents where a test needs a period that cannot tie out. What
a period check records (each differing account with both sums and line counts), which accounts the proof
asks WoW for, what is logged and shown while a period is read again. The engine's own tests
(tests/syncs/test_engine.py) prove the ledger equals WoW; these pin what mutation testing (make mutation)
found no test looking at."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest

from clients.models import Account, AccountBalance, Entry, Period
from syncs import engine
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, PeriodCheck, SyncRun
from syncs.providers import get_provider
from syncs.runs import sync_run_request

pytestmark = pytest.mark.django_db


class WowSums:
    """WoW's reader as the engine gets it, except that its trial balance can be told to disagree with its
    documents (as if WoW's figures were off): ``off[(period, account)] = (extra lines, extra amount)``;
    an ``account`` the ledger does not know adds a row of its own. Records which accounts each call asked, and
    which id lists the engine read."""

    def __init__(self, link: ClientLink) -> None:
        self.reader = get_provider(link.connection.provider).reader(
            connection_id=link.connection_id, company_code=link.company_code
        )
        self.off: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, Decimal]] = {}
        self.asked: list[set[uuid.UUID] | None] = []
        self.calls: list[tuple[list[uuid.UUID], set[uuid.UUID] | None]] = []  # (periods, accounts) a call
        self.dropped: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.id_lists: list[tuple[uuid.UUID, bool, list[Any] | None]] = []
        self.days_asked: list[uuid.UUID] = []

    def period_ids(
        self, period_id: uuid.UUID, *, lines: bool = True, book_dates: list[Any] | None = None
    ) -> Any:
        self.id_lists.append((period_id, lines, book_dates))
        return self.reader.period_ids(period_id, lines=lines, book_dates=book_dates)

    def period_days(self, period_id: uuid.UUID) -> Any:
        self.days_asked.append(period_id)
        return self.reader.period_days(period_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)

    def account_sums(
        self, period_ids: Iterable[uuid.UUID], *, accounts: Iterable[uuid.UUID] | None = None
    ) -> dict[tuple[uuid.UUID, uuid.UUID | None], tuple[int, Decimal]]:
        period_ids = list(period_ids)
        accounts = None if accounts is None else list(accounts)
        self.asked.append(None if accounts is None else set(accounts))
        self.calls.append((period_ids, None if accounts is None else set(accounts)))
        sums = dict(self.reader.account_sums(period_ids, accounts=accounts))
        for (period, account), (lines, amount) in self.off.items():
            if period in period_ids and (accounts is None or account in accounts):
                their_lines, their_amount = sums.get((period, account), (0, Decimal(0)))
                sums[(period, account)] = (their_lines + lines, their_amount + amount)
        for key in self.dropped:
            sums.pop(key, None)
        return sums


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each progress the engine saves during the test, as it was when saved."""
    progresses: list[dict[str, Any]] = []
    save_progress = engine._save_progress

    def recording(state: Any) -> None:
        progresses.append(dict(state.progress))
        save_progress(state)

    monkeypatch.setattr(engine, "_save_progress", recording)
    return progresses


def run_sync(link: ClientLink, reader: Any = None) -> SyncRun:
    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return sync_run_execute(run_id=run.pk, reader=reader)


def first_document(wow_sandbox: Any) -> dict[str, Any]:
    """A document with two lines or more, the first of the demo company's in WoW's order."""
    return next(d for d in wow_sandbox.snapshot()["documents"] if len(d["GLTransactions"]) >= 2)


@pytest.mark.parametrize(("lines", "amount"), [(0, Decimal("7.25")), (1, Decimal(0))])
def test_a_period_whose_sums_differ_from_wows_is_read_again_and_reported_account_by_account(
    link: ClientLink, wow_sandbox: Any, lines: int, amount: Decimal, caplog: pytest.LogCaptureFixture
) -> None:
    document = first_document(wow_sandbox)
    period_wow, account_wow = (
        uuid.UUID(document["BookPeriod_Id"]),
        uuid.UUID(document["GLTransactions"][0]["GLAccount_Id"]),
    )
    wow = WowSums(link)
    wow.off[(period_wow, account_wow)] = (lines, amount)
    with caplog.at_level(logging.INFO, logger="syncs.engine"):
        run = run_sync(link, wow)
    assert run.reconciled is False
    period = Period.objects.get(client_file=link.client_file, wow_id=period_wow)
    account = Account.objects.get(client_file=link.client_file, wow_id=account_wow)
    checks = {check.period_key: check for check in PeriodCheck.objects.filter(run=run)}
    check = checks.pop(period.key)
    assert (check.ties_out, check.healed, check.period_id) == (False, True, period.pk)
    [difference] = check.differences
    ours, ledger_lines = Decimal(difference.pop("ledger")), difference.pop("ledger_lines")
    assert (Decimal(difference.pop("wow")), Decimal(difference.pop("difference"))) == (ours + amount, amount)
    assert difference == {"account": account.number, "wow_lines": ledger_lines + lines}
    assert ledger_lines > 0 and check.line_count >= ledger_lines
    # Every other period ties out at once, and none of them was read again.
    assert checks and all(c.ties_out and not c.healed and not c.differences for c in checks.values())
    assert f"Run {run.pk}: period {period.key} does not tie out; reading it again whole" in caplog.messages
    # The proof compared the accounts the sync wrote, then the healed period again on every account.
    assert wow.asked[-1] is None and all(asked for asked in wow.asked[:-1])


def test_an_account_only_wow_has_sums_for_is_reported_under_its_wow_id(
    link: ClientLink, wow_sandbox: Any
) -> None:
    # A difference on a known account has the period read again and compared on every account: then the
    # account WoW sums that the ledger does not have shows too, first, under WoW's id.
    document = first_document(wow_sandbox)
    period_wow, stranger = uuid.UUID(document["BookPeriod_Id"]), uuid.uuid4()
    known = uuid.UUID(document["GLTransactions"][0]["GLAccount_Id"])
    wow = WowSums(link)
    wow.off[(period_wow, known)] = (0, Decimal(1))
    wow.off[(period_wow, stranger)] = (2, Decimal("-3.10"))
    run = run_sync(link, wow)
    check = PeriodCheck.objects.get(run=run, period__wow_id=period_wow)
    unknown, differing = check.differences
    assert unknown == {
        "account": str(stranger),
        "ledger": "0",
        "wow": "-3.10",
        "difference": "-3.10",
        "ledger_lines": 0,
        "wow_lines": 2,
    }
    assert differing["account"] == Account.objects.get(client_file=link.client_file, wow_id=known).number


def test_while_a_period_is_read_again_the_runs_progress_says_so(
    link: ClientLink, wow_sandbox: Any, saved: list[dict[str, Any]]
) -> None:
    document = first_document(wow_sandbox)
    period_wow = uuid.UUID(document["BookPeriod_Id"])
    wow = WowSums(link)
    wow.off[(period_wow, uuid.UUID(document["GLTransactions"][0]["GLAccount_Id"]))] = (0, Decimal(1))
    run_sync(link, wow)
    period = Period.objects.get(client_file=link.client_file, wow_id=period_wow)
    phases = [progress.get("stream") for progress in saved]
    assert "proof" in phases and "heal" in phases and phases.index("proof") < phases.index("heal")
    assert saved[phases.index("proof")]["stream_pages"] == 0  # the proof starts its own page count
    assert {progress["period"] for progress in saved if progress.get("stream") == "heal"} == {period.key}


def test_a_small_change_is_proven_on_the_accounts_it_moved_only(link: ClientLink, wow_sandbox: Any) -> None:
    run_sync(link)
    document = first_document(wow_sandbox)
    first, second = document["GLTransactions"][:2]
    for line, change in ((first, 5), (second, -5)):  # the document stays balanced
        answer = wow_sandbox.control(
            "PATCH",
            f"folders/DEMO_BV/objects/GLTrans/{line['Id']}",
            {"Amount": float(line["Amount"]) + change},
        )
        assert answer.status_code == 200, answer.text
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    moved = {uuid.UUID(first["GLAccount_Id"]), uuid.UUID(second["GLAccount_Id"])}
    assert wow.asked == [moved]
    [check] = PeriodCheck.objects.filter(run=run)
    assert check.period is not None and check.ties_out and not check.healed  # nothing read again
    assert check.period.wow_id == uuid.UUID(document["BookPeriod_Id"])


def test_a_document_deleted_in_wow_is_found_by_its_booking_date_without_the_periods_line_ids(
    link: ClientLink, wow_sandbox: Any
) -> None:
    """The period's fingerprint differs; the booking dates whose documents differ are found first, and only
    their document ids are read: the period's line id list (the longest answer) is not needed."""
    run_sync(link)
    documents = wow_sandbox.snapshot()["documents"]
    by_period: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_period.setdefault(document["BookPeriod_Id"], []).append(document)
    busy = max(by_period.values(), key=len)
    assert len(busy) >= 2
    doomed = busy[-1]
    deleted = wow_sandbox.control(
        "DELETE", f"folders/{wow_sandbox.DEMO}/objects/GLTransHeader/{doomed['Id']}"
    )
    assert deleted.status_code in {200, 204}, deleted.text
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    assert not Entry.objects.filter(client_file=link.client_file, wow_id=doomed["Id"]).exists()
    for period, lines, book_dates in wow.id_lists:
        assert (str(period), lines) == (doomed["BookPeriod_Id"], False)
        assert book_dates is not None and len(book_dates) <= 1  # its own date only, never the whole period


def test_a_fingerprint_is_the_same_whatever_way_its_debit_is_written() -> None:
    """WoW sends a period's debit as text with its own number of decimals, the ledger as a Decimal, an
    empty sum as nothing: equal periods must have equal fingerprints, and a period neither has is empty."""
    as_wow_sends_it: Any = (3, "1210.0000", 2, 5)
    empty_sum: Any = (0, None, 0, 0)
    assert engine._fingerprint(as_wow_sends_it) == engine._fingerprint((3, Decimal("1210.00"), 2, 5))
    assert engine._fingerprint(as_wow_sends_it) != engine._fingerprint((3, Decimal("1210.01"), 2, 5))
    empty = engine._fingerprint(None)
    assert empty == engine._fingerprint(empty_sum) == engine._fingerprint((0, Decimal("0.00"), 0, 0))
    assert empty == (0, Decimal(0), 0, 0)


def test_an_account_wow_has_no_sum_for_is_reported_with_wows_zero(link: ClientLink, wow_sandbox: Any) -> None:
    document = first_document(wow_sandbox)
    period_wow, account_wow = (
        uuid.UUID(document["BookPeriod_Id"]),
        uuid.UUID(document["GLTransactions"][0]["GLAccount_Id"]),
    )
    wow = WowSums(link)
    wow.dropped.add((period_wow, account_wow))  # WoW's trial balance leaves the account out
    run = run_sync(link, wow)
    check = PeriodCheck.objects.get(run=run, period__wow_id=period_wow)
    [difference] = check.differences
    ours = Decimal(difference["ledger"])
    assert ours != 0 and difference["ledger_lines"] > 0
    assert (difference["wow"], difference["wow_lines"]) == ("0", 0)
    assert Decimal(difference["difference"]) == -ours


def test_a_period_whose_documents_were_all_deleted_is_proven_with_no_line(
    link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    period_wow = first_document(wow_sandbox)["BookPeriod_Id"]
    for document in wow_sandbox.snapshot()["documents"]:
        if document["BookPeriod_Id"] == period_wow:
            deleted = wow_sandbox.control(
                "DELETE", f"folders/{wow_sandbox.DEMO}/objects/GLTransHeader/{document['Id']}"
            )
            assert deleted.status_code in {200, 204}, deleted.text
    run = run_sync(link)
    check = PeriodCheck.objects.get(run=run, period__wow_id=uuid.UUID(period_wow))
    assert (check.ties_out, check.line_count) == (True, 0)


def move_amount_between_its_first_two_lines(wow_sandbox: Any, document: dict[str, Any], amount: int) -> None:
    """An edit in WoW that keeps the document balanced: ``amount`` moves from its second line to its first."""
    first, second = document["GLTransactions"][:2]
    for line, change in ((first, amount), (second, -amount)):
        answer = wow_sandbox.control(
            "PATCH",
            f"folders/{wow_sandbox.DEMO}/objects/GLTrans/{line['Id']}",
            {"Amount": float(line["Amount"]) + change},
        )
        assert answer.status_code == 200, answer.text


def moved_accounts(document: dict[str, Any]) -> set[uuid.UUID]:
    return {uuid.UUID(line["GLAccount_Id"]) for line in document["GLTransactions"][:2]}


def balance_rows_of(link: ClientLink, period: Period, accounts: set[int], *, others: bool) -> set[int]:
    """The primary keys of a period's balance rows for ``accounts`` (with ``others``, for every other
    account): a rebuilt row is a new row, a row left alone keeps its key."""
    rows = AccountBalance.objects.filter(client_file=link.client_file, period=period)
    rows = rows.exclude(account_id__in=accounts) if others else rows.filter(account_id__in=accounts)
    return set(rows.values_list("pk", flat=True))


@pytest.mark.parametrize("limit", [2, 1])
def test_a_change_moving_more_accounts_than_the_limit_is_proven_and_rebuilt_on_every_account(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Up to PROOF_ACCOUNT_LIMIT changed accounts, the proof asks WoW for those accounts' sums only and the
    balances of those accounts only are rebuilt; above it, every account (a first sync changes them all)."""
    run_sync(link)
    document = first_document(wow_sandbox)
    moved = moved_accounts(document)
    assert len(moved) == 2
    period = Period.objects.get(client_file=link.client_file, wow_id=document["BookPeriod_Id"])
    moved_pks = set(
        Account.objects.filter(client_file=link.client_file, wow_id__in=moved).values_list("pk", flat=True)
    )
    others_before = balance_rows_of(link, period, moved_pks, others=True)
    moved_before = balance_rows_of(link, period, moved_pks, others=False)
    assert others_before and moved_before
    move_amount_between_its_first_two_lines(wow_sandbox, document, 5)
    monkeypatch.setattr(engine, "PROOF_ACCOUNT_LIMIT", limit)
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    assert not balance_rows_of(link, period, moved_pks, others=False) & moved_before  # rebuilt either way
    others_after = balance_rows_of(link, period, moved_pks, others=True)
    if limit >= len(moved):
        assert wow.asked == [moved]
        assert others_after == others_before  # the other accounts' balances were left as they were
    else:
        assert wow.asked == [None]
        assert others_after and not others_after & others_before  # every account's balances rebuilt


def test_a_first_syncs_proof_asks_wow_for_every_period_it_wrote_once_a_few_periods_at_a_time(
    link: ClientLink, wow_sandbox: Any
) -> None:
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    booked = {uuid.UUID(document["BookPeriod_Id"]) for document in wow_sandbox.snapshot()["documents"]}
    asked = [period for periods, _ in wow.calls for period in periods]
    assert sorted(asked) == sorted(booked)  # each period the sync wrote documents in, once
    assert len(wow.calls) > 1
    assert all(len(periods) <= engine.PROOF_PERIODS_PER_BATCH for periods, _ in wow.calls)


def test_each_batch_of_periods_is_proven_on_the_accounts_moved_in_its_own_periods(
    link: ClientLink, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sync(link)
    documents = [d for d in wow_sandbox.snapshot()["documents"] if len(d["GLTransactions"]) >= 2]
    one, other = next(
        (a, b)
        for a in documents
        for b in documents
        if a["BookPeriod_Id"] != b["BookPeriod_Id"] and not moved_accounts(a) & moved_accounts(b)
    )
    move_amount_between_its_first_two_lines(wow_sandbox, one, 5)
    move_amount_between_its_first_two_lines(wow_sandbox, other, 7)
    monkeypatch.setattr(engine, "PROOF_PERIODS_PER_BATCH", 1)  # each period a batch of its own
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    assert sorted(wow.calls, key=str) == sorted(
        [
            ([uuid.UUID(one["BookPeriod_Id"])], moved_accounts(one)),
            ([uuid.UUID(other["BookPeriod_Id"])], moved_accounts(other)),
        ],
        key=str,
    )


def test_the_proof_starts_its_own_page_count_after_the_gap_check_read_pages(
    link: ClientLink, wow_sandbox: Any, saved: list[dict[str, Any]]
) -> None:
    """A change WoW committed late (its Modified behind the cursor) is read by the gap check, page by page
    under "deletes"; the run's progress then says the proof has read no page yet, not the gap check's."""
    run_sync(link)
    document = first_document(wow_sandbox)
    late = wow_sandbox.control(
        "PATCH",
        f"folders/{wow_sandbox.DEMO}/objects/GLTransHeader/{document['Id']}",
        {"DocNumber": 999, "Modified": "/Date(1600000000000)/"},
    )
    assert late.ok, late.text
    saved.clear()  # the second run's progress only
    run = run_sync(link)
    assert run.reconciled is True
    assert Entry.objects.get(client_file=link.client_file, wow_id=document["Id"]).doc_number == "999"
    phases = [progress.get("stream") for progress in saved]
    proof = phases.index("proof")
    assert saved[proof - 1]["stream"] == "deletes" and saved[proof - 1]["stream_pages"] > 0
    assert saved[proof]["stream_pages"] == 0


def test_a_document_changed_late_is_read_again_by_its_own_booking_date_alone(
    link: ClientLink, wow_sandbox: Any
) -> None:
    """Its period's fingerprint differs (a version moved behind the cursor): the period's booking dates are
    asked of WoW, once; only the document's own date differs, so only that date's document ids are read,
    without the line ids."""
    run_sync(link)
    document = first_document(wow_sandbox)
    same_period = [
        d for d in wow_sandbox.snapshot()["documents"] if d["BookPeriod_Id"] == document["BookPeriod_Id"]
    ]
    assert len({d["BookDate"] for d in same_period}) >= 2  # the period has other booking dates
    late = wow_sandbox.control(
        "PATCH",
        f"folders/{wow_sandbox.DEMO}/objects/GLTransHeader/{document['Id']}",
        {"DocNumber": 998, "Modified": "/Date(1600000000000)/"},
    )
    assert late.ok, late.text
    wow = WowSums(link)
    run = run_sync(link, wow)
    assert run.reconciled is True
    assert Entry.objects.get(client_file=link.client_file, wow_id=document["Id"]).doc_number == "998"
    assert wow.days_asked == [uuid.UUID(document["BookPeriod_Id"])]
    [(period, lines, book_dates)] = wow.id_lists
    assert (str(period), lines) == (document["BookPeriod_Id"], False)
    assert book_dates is not None and len(book_dates) == 1
