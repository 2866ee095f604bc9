"""A second bookkeeping package, for tests only: a company held in memory whose objects are already the
ledger's plain rows. It implements ``syncs.providers.base.Provider`` and ``Reader`` and nothing else, so a
sync of it proves that the engine needs nothing of WinbooksOnWeb (tests/syncs/test_second_provider.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from clients.ledger.rows import EntryRow, LineRow
from clients.ledger.streams import ENTRIES, STREAMS, Stream
from silverfin_sync.notices import Notice
from syncs.models import ErrorKind
from syncs.providers.base import (
    NO_KEY,
    AccountSums,
    Credentials,
    Key,
    PeriodFingerprint,
    PeriodIds,
    ProviderError,
    StreamPage,
)

PAGE_SIZE = 3  # small, so every stream has several pages


class FakeCompany:
    """Objects per stream, each with the moment it was last modified (the package's cursor order)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[uuid.UUID, Any]] = {stream.key: {} for stream in STREAMS}
        self.modified: dict[uuid.UUID, dt.datetime] = {}
        self._clock = itertools.count(1)

    def put(self, stream: Stream, row: Any) -> Any:
        self.objects[stream.key][row.wow_id] = row
        self.modified[row.wow_id] = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=next(self._clock)
        )
        return row

    def edit(self, stream: Stream, wow_id: uuid.UUID, **changes: Any) -> Any:
        row = self.objects[stream.key][wow_id]
        return self.put(stream, dataclasses.replace(row, version=row.version + 1, **changes))

    def delete(self, stream: Stream, wow_id: uuid.UUID) -> None:
        del self.objects[stream.key][wow_id]

    def documents(self) -> list[EntryRow]:
        return list(self.objects[ENTRIES.key].values())

    def lines(self) -> Iterator[tuple[EntryRow, LineRow, uuid.UUID | None]]:
        """Every line with its document and its period (the line's own, else its document's)."""
        for entry in self.documents():
            for line in entry.lines:
                yield entry, line, line.period_wow_id or entry.period_wow_id


class FakeReader:
    def __init__(self, company: FakeCompany) -> None:
        self.company = company
        self.calls = 0

    @property
    def api_calls(self) -> int:
        return self.calls

    @property
    def api_calls_by_kind(self) -> dict[str, int]:
        return {"read": self.calls}

    @property
    def concurrency(self) -> int:
        return 1  # one thing at a time: the engine must not need more

    def _pages(self, rows: list[Any], keys: list[Key] | None = None) -> Iterator[StreamPage]:
        for start in range(0, len(rows), PAGE_SIZE):
            self.calls += 1
            last_key = keys[min(start + PAGE_SIZE, len(rows)) - 1] if keys else NO_KEY
            yield StreamPage(rows=rows[start : start + PAGE_SIZE], rejected=[], last_key=last_key)

    def changed(
        self,
        stream: Stream,
        *,
        since: dt.datetime | None,
        after: Key | None,
        period_ids: Iterable[uuid.UUID] | None = None,
        read_ahead: bool = False,
    ) -> Iterator[StreamPage]:
        in_periods = set(period_ids) if period_ids is not None else None
        keyed = sorted(
            ((self.company.modified[wow_id], str(wow_id)), row)
            for wow_id, row in self.company.objects[stream.key].items()
            if (in_periods is None or stream is not ENTRIES or row.period_wow_id in in_periods)
        )
        keyed = [(key, row) for key, row in keyed if after is None or key > after]
        yield from self._pages([row for _, row in keyed], [key for key, _ in keyed])

    def master_fingerprint(self, stream: Stream) -> tuple[int, int]:
        self.calls += 1
        rows = self.company.objects[stream.key].values()
        return (len(rows), sum(row.version for row in rows))

    def versions(self, stream: Stream) -> dict[uuid.UUID, int]:
        self.calls += 1
        return {wow_id: row.version for wow_id, row in self.company.objects[stream.key].items()}

    def objects(self, stream: Stream, ids: Iterable[uuid.UUID]) -> Iterator[StreamPage]:
        found = self.company.objects[stream.key]
        yield from self._pages([found[wow_id] for wow_id in sorted(ids) if wow_id in found])

    def period_fingerprints(self) -> dict[uuid.UUID, PeriodFingerprint]:
        self.calls += 1
        lines: dict[uuid.UUID, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
        for _, line, period in self.company.lines():
            if period is not None and line.amount > 0:
                count, total = lines[period]
                lines[period] = (count + 1, total + line.amount)
        documents: dict[uuid.UUID, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for entry in self.company.documents():
            if entry.period_wow_id is not None:
                count, versions = documents[entry.period_wow_id]
                documents[entry.period_wow_id] = (count + 1, versions + entry.version)
        return {
            period: (*lines.get(period, (0, Decimal(0))), *documents.get(period, (0, 0)))
            for period in set(lines) | set(documents)
        }

    def period_days(self, period_id: uuid.UUID) -> dict[dt.date | None, tuple[list[Any], int, int]]:
        self.calls += 1
        days: dict[dt.date | None, tuple[list[Any], int, int]] = {}
        for entry in self.company.documents():
            if entry.period_wow_id == period_id:
                _, count, versions = days.get(entry.book_date, ([], 0, 0))
                days[entry.book_date] = ([entry.book_date], count + 1, versions + entry.version)
        return days

    def period_ids(
        self, period_id: uuid.UUID, *, lines: bool = True, book_dates: list[Any] | None = None
    ) -> PeriodIds:
        self.calls += 1
        result = PeriodIds()
        for entry in self.company.documents():
            if entry.period_wow_id == period_id and (book_dates is None or entry.book_date in book_dates):
                result.entry_ids.add(entry.wow_id)
                result.entry_versions[entry.wow_id] = entry.version
        if lines:
            for entry, line, period in self.company.lines():
                if period == period_id:
                    result.line_ids.add(line.wow_id)
                    result.entry_of_line[line.wow_id] = entry.wow_id
                    result.entry_ids.add(entry.wow_id)
        return result

    def entries(
        self, *, ids: Iterable[uuid.UUID] = (), period_id: uuid.UUID | None = None
    ) -> Iterator[StreamPage]:
        wanted = set(ids)
        found = [
            entry
            for entry in self.company.documents()
            if (entry.period_wow_id == period_id if period_id is not None else entry.wow_id in wanted)
        ]
        yield from self._pages(sorted(found, key=lambda entry: entry.wow_id))

    def account_sums(
        self, period_ids: Iterable[uuid.UUID], *, accounts: Iterable[uuid.UUID] | None = None
    ) -> AccountSums:
        self.calls += 1
        periods, only = set(period_ids), set(accounts) if accounts is not None else None
        sums: AccountSums = {}
        for _, line, period in self.company.lines():
            if period in periods and (only is None or line.account_wow_id in only):
                count, total = sums.get((period, line.account_wow_id), (0, Decimal(0)))
                sums[(period, line.account_wow_id)] = (count + 1, total + line.amount)
        return sums

    def close(self) -> None:
        pass


class FakeProvider:
    key = "fake"
    label = "Fake books"
    default_api_url = "https://books.example"

    def __init__(self, companies: dict[str, FakeCompany]) -> None:
        self.companies = companies

    def exchange(self, *, api_url: str, email: str, exchange_token: str) -> Credentials:
        if exchange_token != "let-me-in":
            raise ProviderError(Notice.legacy("Fake books did not accept this token."), kind=ErrorKind.ACCESS)
        return Credentials(
            api_url=api_url,
            email=email,
            access_token="fake-access",
            refresh_token="fake-refresh",
            access_token_expires_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
        )

    def check_company(self, *, connection_id: int, company_code: str) -> list[dt.date]:
        if company_code not in self.companies:
            raise ProviderError(
                Notice.legacy("Fake books knows no company with this code."), kind=ErrorKind.CONFIG
            )
        return []

    def check_companies(
        self, *, connection_id: int, company_codes: Sequence[str]
    ) -> dict[str, list[dt.date] | ProviderError]:
        answers: dict[str, list[dt.date] | ProviderError] = {}
        for code in company_codes:
            try:
                answers[code] = self.check_company(connection_id=connection_id, company_code=code)
            except ProviderError as error:
                answers[code] = error
        return answers

    def reader(self, *, connection_id: int, company_code: str) -> FakeReader:
        return FakeReader(self.companies[company_code])
