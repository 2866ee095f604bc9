"""The main flow in Chromium in Dutch and in French: connect, link, the trial balance, an account's lines,
a run with an issue and a failed run, each page in the reader's words and Belgian formats (1.234,56 and
31/12/2024). The browser asks for English: the person's own language wins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.ledger.streams import ACCOUNTS, Stream
from clients.models import Account, Profile
from syncs.engine import sync_run_execute
from syncs.models import SyncRun
from syncs.providers.winbooks import reader as winbooks_reader
from tests.fixtures import FirmWorld

from ..clients.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Any criteria on the documents: a run with nothing new still counts them per period.
ENTRIES_PATH = "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria"

WORDS = {
    "nl": {
        "syncs": "Synchronisaties",
        "add": "Nieuwe synchronisatie toevoegen",
        "bookkeeping": "Boekhoudsynchronisatie",
        "package": "Boekhoudpakket",
        "connect": "Verbinden",
        "token": "Uitwisselingstoken",
        "advanced": "Geavanceerd",
        "api": "API-adres",
        "set_up": "Synchronisatie met WinbooksOnWeb instellen",
        "connected": "Verbonden met WinbooksOnWeb.",
        "refused": "aanvaardde deze uitwisselingstoken niet",
        "company_code": "Bedrijfscode in WinbooksOnWeb",
        "link": "Koppelen en synchroniseren",
        "trial_balance": "Proefbalans",
        "period": "Periode",
        "show": "Tonen",
        "ties_out": "Sluit met WinbooksOnWeb",
        "opening": "Beginsaldo",
        "fiscal_year": "Volledig boekjaar 2024",
        "document": "Boekingsstuk",
        "details": "Details van deze synchronisatie",
        "issues": "Aandachtspunten",
        "issue": "nog boekingen op",
        "failed": "Deze synchronisatie is mislukt.",
        "revoked": "aanvaardt de verbinding van dit kantoor niet meer",
        "account": "Rekening",
    },
    "fr": {
        "syncs": "Synchronisations",
        "add": "Ajouter une synchronisation",
        "bookkeeping": "Synchronisation comptable",
        "package": "Logiciel comptable",
        "connect": "Connecter",
        "token": "Jeton d’échange",
        "advanced": "Avancé",
        "api": "Adresse de l’API",
        "set_up": "Configurer la synchronisation avec WinbooksOnWeb",
        "connected": "Connecté à WinbooksOnWeb.",
        "refused": "n’a pas accepté ce jeton d’échange",
        "company_code": "Code de la société dans WinbooksOnWeb",
        "link": "Lier et synchroniser",
        "trial_balance": "Balance de vérification",
        "period": "Période",
        "show": "Afficher",
        "ties_out": "Concorde avec WinbooksOnWeb",
        "opening": "Solde d’ouverture",
        "fiscal_year": "Exercice complet 2024",
        "document": "Pièce",
        "details": "Détails de cette synchronisation",
        "issues": "Points d’attention",
        "issue": "encore des écritures",
        "failed": "Cette synchronisation a échoué.",
        "revoked": "n’accepte plus la connexion de ce cabinet",
        "account": "Compte",
    },
}


def shot(page: Any, language: str, step: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i18n-{language}-{step}.png"), full_page=True)


def run_queued(client_file_id: int) -> SyncRun:
    run = SyncRun.objects.filter(client_file_id=client_file_id, status=SyncRun.Status.QUEUED).latest("pk")
    return sync_run_execute(run_id=run.pk)


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_main_flow_in_dutch_and_in_french(
    page: Any,
    live_server: Any,
    world: FirmWorld,
    wow_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
) -> None:
    words = WORDS[language]
    Profile.objects.create(user=world.admin, language=language)
    log_in(page, live_server, world.admin.username)  # the log-in page follows the browser: English
    expect(page.locator("html")).to_have_attribute("lang", language)

    # Connect: a refused token first, then the right one.
    page.get_by_role("link", name=words["syncs"], exact=True).click()
    page.get_by_role("link", name=words["add"]).click()
    page.get_by_role("link", name=words["bookkeeping"]).click()
    page.get_by_label(words["package"]).select_option("winbooks")
    page.get_by_role("button", name=words["connect"], exact=True).click()
    page.get_by_label("E-mail", exact=True).fill(wow_sandbox.TESTER)
    page.get_by_label(words["token"], exact=True).fill("a-wrong-token")
    page.get_by_text(words["advanced"]).click()
    page.get_by_label(words["api"]).fill(wow_sandbox.url)
    page.get_by_role("button", name=words["set_up"]).click()
    expect(page.get_by_role("alert").first).to_contain_text(words["refused"])
    shot(page, language, "1-connect-refused")
    page.get_by_label(words["token"], exact=True).fill(wow_sandbox.exchange_token())
    page.get_by_role("button", name=words["set_up"]).click()
    expect(page.locator(".messages")).to_contain_text(words["connected"])
    shot(page, language, "2-connected")

    # Link, then the first sync (run here rather than by a worker: what is shown is the point).
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/")
    page.get_by_label(words["company_code"]).fill("DEMO_BV")
    page.get_by_role("button", name=words["link"]).click()
    expect(page.locator("#sync-status")).to_be_visible()
    assert run_queued(world.given_file.pk).status == SyncRun.Status.SUCCEEDED
    page.reload()
    expect(page.locator("#sync-status")).to_contain_text(words["ties_out"])
    status = page.locator("#sync-status").inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", status), status  # 31/12/2024 23:59
    shot(page, language, "3-linked-and-synced")

    # The trial balance of a month: Belgian amounts, the reader's column names.
    page.get_by_role("link", name=words["trial_balance"]).first.click()
    page.get_by_label(words["period"]).select_option("2024-01")
    page.get_by_role("button", name=words["show"]).click()
    expect(page).to_have_url(re.compile(r"period=2024-01"))
    table = page.locator("table.trial-balance")
    expect(table.locator("thead")).to_contain_text(words["opening"])
    expect(page.locator("main")).to_contain_text(words["ties_out"])
    amounts = table.locator("tbody td.num").all_inner_texts()
    assert amounts and all(re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d{2}", a) for a in amounts), amounts[:8]
    assert any("." in a for a in amounts), "some amount has thousands"
    expect(page.locator("#period-picker")).to_contain_text(words["fiscal_year"])
    shot(page, language, "4-trial-balance")

    # An account's lines: dates as 31/12/2024.
    page.get_by_role("link", name="400000").click()
    dates = page.locator("table.account-lines tbody td.nowrap").all_inner_texts()
    assert dates and all(re.fullmatch(r"\d{2}/\d{2}/2024", d) for d in dates), dates[:5]
    shot(page, language, "5-account-lines")

    # A sync with an issue: WoW claims the sales account is gone while the ledger still books on it.
    sales = Account.objects.get(client_file=world.given_file, number="700000")
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
    link = world.given_file.links.get()
    SyncRun.objects.create(link=link, client_file=world.given_file, trigger=SyncRun.Trigger.MANUAL)
    with_issue = run_queued(world.given_file.pk)
    monkeypatch.undo()
    assert with_issue.status == SyncRun.Status.SUCCEEDED_WITH_ISSUES
    page.goto(
        f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/history/{with_issue.pk}/"
    )
    issues = page.locator("table.issues")
    expect(page.locator("#issues-heading")).to_contain_text(words["issues"])
    expect(issues).to_contain_text(words["issue"])
    expect(issues).to_contain_text(words["account"])
    shot(page, language, "6-run-with-issue")

    # A failed sync: WoW refuses the firm's tokens.
    wow_sandbox.control("POST", "tokens/revoke-refresh", {})
    wow_sandbox.control(
        "POST", "faults", {"path_contains": ENTRIES_PATH, "kind": "status", "status": 401, "count": 1}
    )
    SyncRun.objects.create(link=link, client_file=world.given_file, trigger=SyncRun.Trigger.MANUAL)
    failed = run_queued(world.given_file.pk)
    assert failed.status == SyncRun.Status.FAILED
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/history/{failed.pk}/")
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text(words["failed"])
    expect(alert).to_contain_text(words["revoked"])
    facts = page.locator("dl.facts").inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", facts), facts
    shot(page, language, "7-failed-run")
    # The history lists all three in the reader's words.
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/history/")
    shot(page, language, "8-history")
