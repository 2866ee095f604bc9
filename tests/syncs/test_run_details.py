"""A run's page says what the run did (#13.5): what it added, changed and removed by name (documents with
their number and date, accounts with their number, each linking to its page), correct counts (an object WoW
sends twice is one object; "unchanged" is what the ledger kept as it was) and durations below a second."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Account, Entry
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, SyncRun
from syncs.providers.winbooks.reader import WinbooksReader
from syncs.runs import sync_run_request
from syncs.templatetags.ledger_format import duration
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db


class TwiceReader(WinbooksReader):
    """WoW answering with every account twice in a page."""

    def changed(self, stream: Any, **kwargs: Any) -> Iterator[Any]:
        for page in super().changed(stream, **kwargs):
            if stream.key == "accounts":
                page = dataclasses.replace(page, rows=page.rows + page.rows)
            yield page


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_run_page_names_what_the_run_added_changed_and_removed(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    reader = TwiceReader(connection_id=link.connection_id, company_code=link.company_code)
    first = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk, reader=reader)
    accounts = Account.objects.filter(client_file=world.given_file).count()
    assert first.counts["accounts"]["created"] == accounts  # each account once, though WoW sent it twice

    doomed = Entry.objects.filter(client_file=world.given_file).select_related("journal").last()
    assert doomed is not None and doomed.book_date is not None
    assert wow_sandbox.control("DELETE", f"folders/DEMO_BV/objects/GLTransHeader/{doomed.wow_id}").ok
    renamed = wow_sandbox.control(
        "PATCH", "folders/DEMO_BV/objects/GLAccount/700000", {"Label": "Omzet brood"}
    )
    assert renamed.ok, renamed.text
    run = sync_run_execute(run_id=sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)[0].pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_code
    assert run.counts["accounts"]["updated"] == 1
    assert run.counts["accounts"]["unchanged"] == accounts - 1  # not 0: the rest were kept as they were

    client = Client()
    client.force_login(world.staff)
    html = client.get(
        reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, run.pk])
    ).content.decode()
    shown = text_of(html)
    label = f"{doomed.journal.code} {doomed.doc_number}"
    assert "Documents · Removed" in shown and label in shown
    assert "Accounts · Changed" in shown and "700000 Omzet brood" in shown
    account = Account.objects.get(client_file=world.given_file, number="700000")
    assert reverse("account_lines", args=[world.firm.slug, world.given_file.pk, account.pk]) in html
    assert " 0 s" not in shown


def test_durations_below_ten_seconds_keep_their_tenths() -> None:
    assert duration(dt.timedelta(milliseconds=420)) == "0.42 s"
    assert duration(dt.timedelta(seconds=3.25)) == "3.2 s"
    assert duration(dt.timedelta(seconds=65)) == "1 min 5 s"
