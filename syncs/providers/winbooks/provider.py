"""WinbooksOnWeb as a ``base.Provider``: connecting, checking a company, and a reader of one company.

The folder is the whole integration with the ``winbooks`` client (which knows nothing of Django):
``errors`` words the client's errors for users, ``tokens`` keeps the firm's tokens fresh single-flight,
``reader`` asks WoW what the engine needs and ``conversion`` turns WoW's objects into ledger rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import winbooks
from silverfin_sync.notices import Notice
from syncs.models import ErrorKind
from winbooks import query as q

from ..api_location import address_check, clean_api_url
from ..base import Credentials, ProviderError
from .errors import user_error
from .reader import WinbooksReader
from .tokens import client_for_connection

logger = logging.getLogger(__name__)

# Answers in a row that say WoW cannot be reached before an import's check stops asking (see check_companies).
UNREACHABLE_IN_A_ROW = 3


class WinbooksProvider:
    key = "winbooks"
    label = "WinbooksOnWeb"
    default_api_url = winbooks.DEFAULT_API_URL

    def exchange(self, *, api_url: str, email: str, exchange_token: str) -> Credentials:
        try:
            api_url = clean_api_url(api_url)
        except ProviderError as error:
            error.field = "api_url"
            raise
        try:
            # A person waits on the page (and a web worker with them): a few seconds, no retries.
            tokens = winbooks.exchange_token(
                api_url=api_url,
                email=email,
                exchange_token=exchange_token,
                limits=winbooks.INTERACTIVE_LIMITS,
                max_retries=0,
                address_allowed=address_check(),
            )
        except winbooks.WinbooksUnreachable as error:
            logger.info("WinbooksOnWeb not reachable at %s: %s", api_url, error)
            raise ProviderError(
                Notice("wow.unreachable_at", {"address": api_url}), kind=ErrorKind.TRANSIENT, field="api_url"
            ) from error
        except winbooks.WinbooksError as error:
            logger.info("WinbooksOnWeb token exchange refused: %s", type(error).__name__)
            raise user_error(error, during="connect") from error
        return Credentials(
            api_url=api_url,
            email=email,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=tokens.expires_at,
        )

    def check_company(self, *, connection_id: int, company_code: str) -> list[dt.date]:
        """Prove the company answers with the connection's tokens; its fiscal years' start dates, sorted
        (a company has a few dozen book years at most: one small call, which the check makes anyway). A person
        waits on the page: a few seconds, no retries."""
        client = client_for_connection(connection_id, limits=winbooks.INTERACTIVE_LIMITS, max_retries=0)
        try:
            return self._fiscal_year_starts(client, company_code)
        finally:
            client.close()

    def check_companies(
        self, *, connection_id: int, company_codes: Sequence[str]
    ) -> dict[str, list[dt.date] | ProviderError]:
        """One client (one kept-alive connection, one read of the tokens) for all the codes: a check then
        costs one request, where ``check_company`` also builds a client each time.

        A host that cannot be reached is not asked about every code in turn (a thousand codes at a few
        seconds' deadline each would hold a worker for an hour): after ``UNREACHABLE_IN_A_ROW`` such answers
        in a row, and at once when WoW refuses the connection's credentials, the codes left get that answer
        unasked. Neither is remembered, so the next upload asks again."""
        client = client_for_connection(connection_id, limits=winbooks.INTERACTIVE_LIMITS, max_retries=0)
        answers: dict[str, list[dt.date] | ProviderError] = {}
        unreachable_in_a_row = 0
        given_up: ProviderError | None = None
        try:
            for code in company_codes:
                if given_up is not None:
                    answers[code] = given_up
                    continue
                try:
                    answers[code] = self._fiscal_year_starts(client, code)
                    unreachable_in_a_row = 0
                except ProviderError as error:
                    answers[code] = error
                    unreachable_in_a_row = (
                        unreachable_in_a_row + 1 if error.kind == ErrorKind.TRANSIENT else 0
                    )
                    if error.kind == ErrorKind.ACCESS or unreachable_in_a_row >= UNREACHABLE_IN_A_ROW:
                        given_up = error
        finally:
            client.close()
        return answers

    @staticmethod
    def _fiscal_year_starts(client: winbooks.WinbooksClient, company_code: str) -> list[dt.date]:
        try:
            raws = client.execute_criteria(company_code, q.Query("BookYear"))
        except winbooks.WinbooksError as error:
            raise user_error(error, during="company") from error
        starts = set()
        for raw in raws:
            try:
                start = winbooks.BookYear.from_json(raw).start_date
            except (winbooks.WinbooksBadPayload, ValueError, TypeError):
                continue  # an unreadable book year is reported by the sync, not here
            if start is not None:
                starts.add(start.date())
        return sorted(starts)

    def reader(self, *, connection_id: int, company_code: str) -> WinbooksReader:
        return WinbooksReader(connection_id=connection_id, company_code=company_code)
