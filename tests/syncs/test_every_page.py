"""Every page of the product, in Chromium at 1,280 px (in Dutch) and at a phone's 390 px (in French), as the
role that sees the most of it: no serious or critical accessibility violation (axe-core), and nothing wider
than the screen (a wide table scrolls inside its own box). Screenshots go to test-artifacts/pages/ to be
looked at."""

from __future__ import annotations

import json
from typing import Any

import pytest

from administration.services import client_file_import_check, client_file_import_start
from clients.models import Entry, EntryLine, Membership, Profile
from syncs.engine import sync_run_execute
from syncs.locks import books_lock_set
from syncs.models import ClientLink, Connection, SyncRun
from tests.a11y import axe_violations
from tests.conftest import ARTIFACTS
from tests.fixtures import FirmWorld

from ..clients.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"wide": 1280, "phone": 390}
LANGUAGES = {"wide": "nl", "phone": "fr"}


def _pages(world: FirmWorld, link: ClientLink, connection: Connection, import_id: int) -> dict[str, str]:
    firm, given = world.firm.slug, world.given_file.pk
    staff = Membership.objects.get(firm=world.firm, user=world.staff)
    client = f"/firms/{firm}/clients/{given}"
    run = SyncRun.objects.filter(link=link).latest("pk")
    line = EntryLine.objects.filter(client_file=world.given_file).select_related("entry").first()
    assert line is not None
    entry = Entry.objects.get(pk=line.entry_id)
    period = entry.period.key if entry.period else ""
    return {
        "home": "/",
        "profile": "/profile/",
        "client-files": f"/firms/{firm}/",
        "syncs": f"/firms/{firm}/syncs/",
        "add-sync": f"/firms/{firm}/syncs/add/",
        "add-bookkeeping-sync": f"/firms/{firm}/syncs/add/?kind=bookkeeping",
        "connect": f"/firms/{firm}/syncs/add/winbooks/",
        "reconnect": f"/firms/{firm}/syncs/{connection.pk}/reconnect/",
        "disconnect": f"/firms/{firm}/syncs/{connection.pk}/disconnect/",
        "client-file": f"{client}/",
        "client-file-unlinked": f"/firms/{firm}/clients/{world.other_file.pk}/",
        "unlink": f"{client}/unlink/",
        "trial-balance": f"{client}/trial-balance/?period={period}",
        "trial-balance-year": f"{client}/trial-balance/?period=fy-{entry.period.fiscal_year_id}",
        "account": f"{client}/accounts/{line.account_id}/?period={period}",
        "document": f"{client}/entries/{entry.pk}/?account={line.account_id}&period={period}",
        "history": f"{client}/history/",
        "run": f"{client}/history/{run.pk}/",
        "trial-balance-as-locked": f"{client}/trial-balance/?period={period}&as_locked=1",
        "closed-periods": f"{client}/closed-periods/",
        "client-file-add": f"/firms/{firm}/clients/add/",
        "client-file-edit": f"{client}/edit/",
        "import": f"/firms/{firm}/clients/import/",
        "import-preview": f"/firms/{firm}/clients/import/{import_id}/",
        "people": f"/firms/{firm}/people/",
        "invite": f"/firms/{firm}/people/invite/",
        "person": f"/firms/{firm}/people/{staff.pk}/",
        "notifications": f"/firms/{firm}/notifications/",
        "not-found": f"{client}/entries/999999999/",
    }


def _closed_books_and_an_import(world: FirmWorld, link: ClientLink) -> int:
    """The given file's books closed over its first synced period (so the closed-period pages exist), and an
    import checked against WoW (its preview page)."""
    line = EntryLine.objects.filter(client_file=world.given_file).select_related("entry__period").first()
    assert line is not None and line.entry.period is not None and line.entry.period.end_date is not None
    books_lock_set(client_file=world.given_file, until=line.entry.period.end_date, actor=world.admin)
    upload = client_file_import_start(
        firm=world.firm,
        actor=world.admin,
        filename="clients.csv",
        data=b"file code,name,company code\nNEW-1,Nieuwe Klant BV,DEMO_BV\nNEW-2,Onbekend NV,NOPE\n",
        connection=link.connection,
    )
    return client_file_import_check(import_id=upload.pk).pk


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_is_accessible_and_fits_the_screen(
    browser: Any, live_server: Any, world: FirmWorld, link: ClientLink, connection: Connection, width: str
) -> None:
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    import_id = _closed_books_and_an_import(world, link)
    # The longest words are French and Dutch: the phone sees the pages in French, the wide screen in Dutch.
    Profile.objects.update_or_create(user=world.admin, defaults={"language": LANGUAGES[width]})
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    folder = ARTIFACTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    problems: dict[str, Any] = {}
    try:
        log_in(page, live_server, world.admin.username)
        page.wait_for_url(f"{live_server.url}/firms/**")
        for name, path in _pages(world, link, connection, import_id).items():
            response = page.goto(live_server.url + path)
            assert response is not None
            expected = 404 if name == "not-found" else 200
            assert response.status == expected, (name, response.status)
            page.screenshot(path=str(folder / f"{name}-{WIDTHS[width]}.png"), full_page=True)
            if violations := axe_violations(page):
                problems[f"{name}: axe"] = violations
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems[f"{name}: {overflow} px wider than the screen"] = path
        # Logged out: the log-in page, and a Pulse user's answer for the client file pages.
        context.clear_cookies()
        page.goto(live_server.url + "/")
        if violations := axe_violations(page):
            problems["login: axe"] = violations
        page.screenshot(path=str(folder / f"login-{WIDTHS[width]}.png"), full_page=True)
        log_in(page, live_server, world.pulse.username)
        response = page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/")
        assert response is not None and response.status == 403
        page.screenshot(path=str(folder / f"forbidden-{WIDTHS[width]}.png"), full_page=True)
        if violations := axe_violations(page):
            problems["forbidden: axe"] = violations
    finally:
        context.close()
    (folder / f"problems-{WIDTHS[width]}.json").write_text(json.dumps(problems, indent=1))
    assert not problems, problems
