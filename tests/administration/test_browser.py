"""The firm's administration in Chromium: an admin invites a staff member and an external contributor
(their mails read back from the suite's SMTP server), imports a spreadsheet of client files, and archives
one; each person then sees exactly what their role allows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.models import ClientFile, Membership, Role
from syncs.models import ClientLink, Connection
from tests.fixtures import FirmWorld

from ..clients.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _link_in(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://\S+/invitations/\S+/", body)
    assert found, body
    return found.group(0)


def _invite(page: Any, email: str, role_label: str, files: tuple[str, ...] = ()) -> None:
    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Invite someone").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Role").select_option(label=role_label)
    for name in files:
        page.get_by_label(re.compile(re.escape(name))).check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"An invitation was e-mailed to {email}")


def _accept(browser: Any, link: str, name: str) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    visitor = context.new_page()
    visitor.goto(link)
    visitor.get_by_label("Your name").fill(name)
    visitor.get_by_label("Password", exact=True).fill("a long pass phrase 42")
    visitor.get_by_label("Password again").fill("a long pass phrase 42")
    visitor.get_by_role("button", name="Set my password and join").click()
    expect(visitor.get_by_role("heading", name="Client files")).to_be_visible()
    return visitor


def test_an_admin_invites_staff_and_an_external_contributor(
    page: Any, browser: Any, live_server: Any, world: FirmWorld, smtp_mail: Any
) -> None:
    log_in(page, live_server, world.admin.username)
    _invite(page, "sam@alpha.test", "Staff contributor")
    _invite(page, "eva@extern.test", "External contributor", files=(world.other_file.name,))
    page.screenshot(path=str(ARTIFACTS / "admin-people.png"), full_page=True)
    expect(page.get_by_role("table").nth(1)).to_contain_text("eva@extern.test")

    mails = smtp_mail.wait_for(2)
    assert [m["To"] for m in mails] == ["sam@alpha.test", "eva@extern.test"]
    assert all("exchange" not in m.get_body(preferencelist=("plain",)).get_content().lower() for m in mails)

    staff = _accept(browser, _link_in(mails[0]), "Sam Staff")
    expect(staff.get_by_role("link", name=world.given_file.name)).to_be_visible()
    expect(staff.get_by_role("link", name=world.other_file.name)).to_be_visible()
    expect(staff.get_by_role("link", name="People")).to_have_count(0)
    staff.screenshot(path=str(ARTIFACTS / "admin-invited-staff-390.png"), full_page=True)

    external = _accept(browser, _link_in(mails[1]), "Eva Extern")
    expect(external.get_by_role("link", name=world.other_file.name)).to_be_visible()
    expect(external.get_by_role("link", name=world.given_file.name)).to_have_count(0)
    expect(external.get_by_role("link", name="Syncs")).to_have_count(0)
    assert Membership.objects.get(user__username="eva@extern.test").role == Role.EXTERNAL
    # The link worked once.
    external.goto(_link_in(mails[1]))
    expect(external.get_by_role("heading", name="This invitation link does not work")).to_be_visible()

    page.reload()
    expect(page.get_by_role("table").first).to_contain_text("Eva Extern")


@pytest.mark.usefixtures("celery_worker")
def test_an_import_previews_every_kind_of_line_and_confirmed_creates_files_and_links(
    page: Any,
    live_server: Any,
    world: FirmWorld,
    connection: Connection,
    wow_sandbox: Any,
    tmp_path: Path,
) -> None:
    sheet = tmp_path / "klanten.csv"
    sheet.write_text(
        "dossiercode;naam;bedrijfscode;synchroniseren vanaf\n"
        "NEW-1;Nieuw BV;;\n"
        f"{world.given_file.file_code};Alpha Given Renamed;;\n"
        f"{world.other_file.file_code};{world.other_file.name};SECOND_BV;01/01/2024\n"
        "NEW-2;Onbekend;NO_SUCH;\n"
        "NEW-1;Dubbel;;\n"
        "NEW-3;Slechte datum;;31/02/2024\n",
        encoding="utf-8",
    )
    log_in(page, live_server, world.admin.username)
    page.get_by_role("link", name="Import from a spreadsheet").click()
    page.get_by_label("Spreadsheet").set_input_files(str(sheet))
    page.get_by_role("button", name="Preview").click()
    summary = page.locator(".import-summary")
    expect(summary).to_contain_text("1 new client file", timeout=20_000)
    expect(summary).to_contain_text("1 renamed")
    expect(summary).to_contain_text("1 to link and sync")
    expect(summary).to_contain_text("3 lines with a problem (skipped)")
    table = page.locator("#import-rows table")
    expect(table).to_contain_text("knows no company with this code")
    expect(table).to_contain_text("This file code is on an earlier line too.")
    expect(table).to_contain_text("is not a date")
    page.screenshot(path=str(ARTIFACTS / "admin-import-preview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "admin-import-preview-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not ClientFile.objects.filter(file_code="NEW-1").exists()  # nothing before the confirmation

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Imported: 1 new, 1 renamed, 1 linked")
    expect(page.get_by_role("link", name="Nieuw BV")).to_be_visible()
    assert (
        ClientLink.objects.get(client_file=world.other_file, unlinked_at__isnull=True).company_code
        == "SECOND_BV"
    )

    # Archive the new file: it leaves the default list, its page stays readable; unarchive brings it back.
    page.get_by_role("link", name="Nieuw BV").click()
    page.get_by_role("link", name="Edit, archive").click()
    page.get_by_role("button", name="Archive this client file").click()
    expect(page.get_by_role("status").first).to_contain_text("is archived")
    page.get_by_role("link", name="Client files").first.click()
    expect(page.get_by_role("link", name="Nieuw BV")).to_have_count(0)
    page.locator('[data-chip="archived"]').click()
    expect(page.get_by_role("link", name="Nieuw BV")).to_be_visible()
    page.get_by_role("link", name="Nieuw BV").click()
    page.get_by_role("link", name="Edit, archive").click()
    page.get_by_role("button", name="Unarchive").click()
    expect(page.get_by_role("status").first).to_contain_text("back in the overview")
    assert ClientFile.objects.get(file_code="NEW-1").archived_at is None
