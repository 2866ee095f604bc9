"""What a worker stores while nobody is logged in (a run's error, its issues, a connection's status, the
audit log) is a code with parameters, worded when read: in Dutch for a Dutch reader, in French for a French
one. Rows written before codes existed keep their English words."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from clients.ledger.streams import ACCOUNTS, Stream
from clients.models import Account, Profile
from silverfin_sync.notices import TEXTS, Notice, render, render_hint
from syncs.models import AuditEvent, Connection, SyncIssue, SyncRun
from syncs.providers.winbooks import reader as winbooks_reader
from tests.fixtures import FirmWorld
from tests.reliability.helpers import connect_and_link, execute, fault

pytestmark = pytest.mark.django_db

# Any criteria on the documents: a run with nothing new still counts them per period.
ENTRIES_PATH = "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria"


def worded(language: str, code: str, params: dict[str, Any] | None = None, *, hint: bool = False) -> str:
    with translation.override(language):
        return escape(render_hint(code, params) if hint else render(code, params))


# Committed for real: the refresh is refused while documents are read ahead, in a thread with a database
# connection of its own.
@pytest.mark.django_db(transaction=True)
def test_a_run_made_by_the_worker_reads_in_each_readers_language(
    world: FirmWorld, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = connect_and_link(world, wow_sandbox)
    assert execute(link).status == SyncRun.Status.SUCCEEDED
    # Second run: WoW claims the sales account is gone while the ledger's documents still book on it.
    sales = Account.objects.get(client_file=link.client_file, number="700000")
    real_versions = winbooks_reader.WinbooksReader.versions
    real_fingerprint = winbooks_reader.WinbooksReader.master_fingerprint

    def versions_without_sales(self: Any, stream: Stream) -> dict[Any, int]:
        found = real_versions(self, stream)
        return {k: v for k, v in found.items() if k != sales.wow_id} if stream is ACCOUNTS else found

    def fingerprint_without_sales(self: Any, stream: Stream) -> tuple[int, int]:
        count, versions = real_fingerprint(self, stream)
        return (count - 1, versions - sales.wow_version) if stream is ACCOUNTS else (count, versions)

    monkeypatch.setattr(winbooks_reader.WinbooksReader, "versions", versions_without_sales)
    monkeypatch.setattr(winbooks_reader.WinbooksReader, "master_fingerprint", fingerprint_without_sales)
    with_issue = execute(link)
    monkeypatch.undo()
    assert with_issue.status == SyncRun.Status.SUCCEEDED_WITH_ISSUES
    [issue] = SyncIssue.objects.filter(run=with_issue)
    assert (issue.code, issue.entity) == ("issue.deleted_but_used", "account")
    # Third run: WoW refuses the firm's tokens; the run fails, the connection needs reconnecting.
    wow_sandbox.control("POST", "tokens/revoke-refresh", {})
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="status", status=401, count=1)
    failed = execute(link)
    assert failed.status == SyncRun.Status.FAILED and failed.error_code == "wow.access_revoked"
    assert Connection.objects.get(pk=link.connection_id).status_reason_code == "wow.access_revoked"
    # Nothing English was stored: only codes and their parameters.
    stored = str(list(SyncRun.objects.values_list("error_code", "error_params")))
    assert "WinbooksOnWeb" not in stored

    Profile.objects.create(user=world.staff, language="nl")
    Profile.objects.create(user=world.admin, language="fr")
    pages = {}
    for user, language in [(world.staff, "nl"), (world.admin, "fr")]:
        client = Client()
        client.force_login(user)
        detail = reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, failed.pk])
        issues = reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, with_issue.pk])
        pages[language] = (
            client.get(detail).content.decode(),
            client.get(issues).content.decode(),
            client.get(reverse("syncs_tab", args=[world.firm.slug])).content.decode(),
        )

    english_error = worded("en", "wow.access_revoked")
    for language, (failed_page, issue_page, syncs_tab) in pages.items():
        error = worded(language, "wow.access_revoked")
        assert error != english_error
        assert error in failed_page and english_error not in failed_page
        assert worded(language, issue.code, issue.params) in issue_page
        assert worded(language, issue.code, issue.params, hint=True) in issue_page
        assert worded("en", issue.code, issue.params, hint=True) not in issue_page
        assert error in syncs_tab  # the connection's status reason
    assert "aanvaardt de verbinding van dit kantoor niet meer" in pages["nl"][0]
    assert "nog boekingen op" in pages["nl"][1] and "encore des écritures" in pages["fr"][1]
    assert "n’accepte plus la connexion de ce cabinet" in pages["fr"][0]
    # The audit log (admins only): the French admin reads who did what in French.
    needs_reconnect = AuditEvent.objects.get(action=AuditEvent.Action.NEEDS_RECONNECT)
    with translation.override("fr"):
        summary = escape(needs_reconnect.summary)
    assert summary.startswith("« WinbooksOnWeb » doit être reconnectée : WinbooksOnWeb n’accepte plus")
    assert summary in pages["fr"][2]
    assert "Connected “WinbooksOnWeb” to WinbooksOnWeb." not in pages["fr"][2]


def test_rows_written_before_codes_keep_their_words(world: FirmWorld) -> None:
    from tests.ledger.factories import SyncIssueFactory, make_run

    run = make_run(
        world.given_file,
        status=SyncRun.Status.FAILED,
        error_code="legacy",
        error_params={"text": "Old words."},
    )
    issue = SyncIssueFactory.create(
        run=run, code="legacy", params={"text": "Old problem.", "hint": "Old hint."}
    )
    event = AuditEvent.objects.create(
        firm=world.firm, action=AuditEvent.Action.LINKED, parameters={"text": "Old summary."}
    )
    with translation.override("nl"):
        assert (run.error_message, issue.problem, issue.hint, event.summary) == (
            "Old words.",
            "Old problem.",
            "Old hint.",
            "Old summary.",
        )


def test_an_unknown_code_is_refused_when_written_and_shown_plainly_when_read() -> None:
    with pytest.raises(ValueError, match=r"no\.such\.code"):
        Notice("no.such.code")
    assert render("from.a.newer.release", {"text": "Something happened."}) == "Something happened."
    assert render("from.a.newer.release", {}) == "from.a.newer.release"


def test_every_code_words_in_every_language_with_its_parameters() -> None:
    params = {
        "entity": "document",
        "detail": "GLTrans.Amount: missing",
        "line": 2,
        "amount": "0.00001",
        "error": "ValueError",
        "connection": "WoW",
        "provider": "WinbooksOnWeb",
        "status": {"code": "status.disconnected", "params": {}},
        "reason": {"code": "wow.unreachable", "params": {}},
        "retries": 5,
        "client_file": "Bakkerij BV",
        "company_code": "NEW",
        "old_company_code": "OLD",
        "old_start_date": None,
        "old_time": "02:00",
        "time": "23:45",
        "start_date": "2024-01-01",
    }
    for template in TEXTS.values():  # a placeholder the samples above lack gets a plain value
        for name in re.findall(r"%\((\w+)\)s", str(template)):
            params.setdefault(name, "X")
    for language in ("en", "nl", "fr"):
        with translation.override(language):
            for code in TEXTS:
                text = render(code, params)
                assert "%(" not in text and not text.startswith(code), (language, code, text)
    with translation.override("fr"):
        assert render("audit.start_date_changed", params).endswith("(avant : aucune ; après : 01/01/2024).")
    with translation.override("nl"):
        assert render("audit.start_date_changed", params).endswith(
            "van “Bakkerij BV” gewijzigd van geen naar 01/01/2024."
        )
        assert render("issue.line_amount_not_exact", params) == (
            "Lijn 2 heeft een bedrag dat de boekhouding niet exact kan bewaren (0,00001)."
        )
        assert render("run.gave_up", {**params, "retries": 1}).endswith(
            "Opgegeven na 1 nieuwe poging; de volgende geplande synchronisatie probeert het opnieuw."
        )


def test_the_data_migration_turns_known_sentences_into_codes_and_keeps_any_other_text() -> None:
    import importlib

    migration = importlib.import_module("syncs.migrations.0004_notices")
    assert migration._notice("The sync was disconnected before this run started.") == (
        "run.cancelled_disconnected",
        {},
    )
    assert migration._notice("Something an older release wrote.") == (
        "legacy",
        {"text": "Something an older release wrote."},
    )
    assert migration._notice("") == ("", {})
    # Every sentence it knows has a code that is still worded (its words may have improved since).
    assert set(migration.KNOWN_TEXTS.values()) <= set(TEXTS)
