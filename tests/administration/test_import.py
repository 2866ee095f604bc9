"""Importing client files from a spreadsheet: a preview of every line, checked against WoW in a worker;
nothing written before the admin confirms; a second upload of the same file changes nothing."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from administration.models import ClientFileImport
from administration.services import COMPANY_CHECK_THREADS, client_file_import_check
from clients.models import ClientFile, Profile
from syncs.models import AuditEvent, ClientLink, Connection, SyncRun
from syncs.providers.winbooks.provider import UNREACHABLE_IN_A_ROW
from syncs.schedule import sync_dispatch_due
from syncs.services import client_link_set
from tests.fixtures import FirmWorld
from tests.reliability.helpers import fault, stats_total

pytestmark = pytest.mark.django_db(transaction=True)  # the company checks run in threads of their own

EVERY_KIND = """file code;name;company code;sync from
NEW-1;Nieuw BV;;
ALPHA-G;Alpha Given Renamed;;
ALPHA-O;Alpha Other NV;SECOND_BV;01/01/2024
NEW-2;Unknown company;NO_SUCH;
NEW-1;Twice;;
NEW-3;Company twice;SECOND_BV;
NEW-4;Bad date;THIRD_BV;31/02/2024
NEW-5;;;
;No code;;
NEW-6;Linked elsewhere;DEMO_BV;
NEW-7;Mid year;THIRD_BV;15/03/2024
NEW-8;Date alone;;2024-01-01
"""

EXPECTED = [
    (2, ["create"], ""),
    (3, ["rename"], ""),
    (4, ["link"], ""),
    (5, ["create"], "company_refused"),
    (6, [], "duplicate_file_code"),
    (7, ["create"], "duplicate_company_code"),
    (8, [], "bad_date"),
    (9, [], "missing_name"),
    (10, [], "missing_file_code"),
    (11, ["create"], "company_linked_elsewhere"),
    (12, ["create"], "not_a_year_start"),
    (13, [], "date_without_company"),
]


@pytest.fixture
def linked(world: FirmWorld, connection: Connection, wow_sandbox: Any) -> Connection:
    wow_sandbox.control(
        "POST", "folders", {"code": "THIRD_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
    )
    client_link_set(
        client_file=world.given_file, connection=connection, company_code=wow_sandbox.DEMO, actor=world.admin
    )
    return connection


def _admin(world: FirmWorld) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


def _upload(client: Client, world: FirmWorld, name: str, data: bytes) -> Any:
    return client.post(
        reverse("client_file_import", args=[world.firm.slug]),
        {"file": SimpleUploadedFile(name, data)},
    )


def _uploaded(client: Client, world: FirmWorld, name: str, data: bytes) -> ClientFileImport:
    response = _upload(client, world, name, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    upload = ClientFileImport.objects.latest("pk")
    return client_file_import_check(import_id=upload.pk)  # what the worker does


def test_the_preview_says_what_every_line_will_do_and_nothing_is_written(
    world: FirmWorld, linked: Connection
) -> None:
    admin = _admin(world)
    before = (ClientFile.objects.count(), ClientLink.objects.count(), SyncRun.objects.count())
    upload = _uploaded(admin, world, "clients.csv", EVERY_KIND.encode())
    got = [(row["line"], row["actions"], row["problem"]) for row in upload.rows]
    assert [(line, problem) for line, _, problem in got] == [(line, problem) for line, _, problem in EXPECTED]
    assert [actions for _, actions, problem in got if not problem] == [["create"], ["rename"], ["link"]]
    assert (ClientFile.objects.count(), ClientLink.objects.count(), SyncRun.objects.count()) == before
    page = admin.get(
        reverse("client_file_import_preview", args=[world.firm.slug, upload.pk])
    ).content.decode()
    assert "This file code is on an earlier line too." in page
    assert "knows no company with this code" in page
    assert "must be the first day of a fiscal year of this company: 01/01/2024, 01/01/2025" in page
    # The worker checked the codes with no reader; a French admin reads WoW's refusal in French.
    Profile.objects.create(user=world.admin, language="fr")
    french = admin.get(
        reverse("client_file_import_preview", args=[world.firm.slug, upload.pk])
    ).content.decode()
    assert (
        "WinbooksOnWeb a refusé ce code société : WinbooksOnWeb ne connaît aucune société avec ce code."
        in french
    )
    assert "knows no company" not in french


def test_confirming_creates_links_and_queues_first_syncs_on_the_scheduled_queue_once(
    world: FirmWorld, linked: Connection
) -> None:
    admin = _admin(world)
    upload = _uploaded(admin, world, "clients.csv", EVERY_KIND.encode())
    response = admin.post(reverse("client_file_import_confirm", args=[world.firm.slug, upload.pk]))
    assert response.status_code == 302
    assert ClientFile.objects.get(firm=world.firm, file_code="NEW-1").name == "Nieuw BV"
    world.given_file.refresh_from_db()
    assert world.given_file.name == "Alpha Given Renamed"
    link = ClientLink.objects.get(client_file=world.other_file, unlinked_at__isnull=True)
    assert (link.company_code, str(link.start_date)) == ("SECOND_BV", "2024-01-01")
    assert not ClientFile.objects.filter(file_code__in=["NEW-2", "NEW-3", "NEW-4", "NEW-6", "NEW-7"]).exists()
    assert not SyncRun.objects.filter(link=link).exists()  # no burst on the "Sync now" queue
    assert sync_dispatch_due()["queued"] >= 1
    assert SyncRun.objects.get(link=link).trigger == SyncRun.Trigger.SCHEDULE
    event = AuditEvent.objects.get(action=AuditEvent.Action.FILES_IMPORTED)
    assert event.actor == world.admin
    # Confirming twice does nothing more.
    admin.post(reverse("client_file_import_confirm", args=[world.firm.slug, upload.pk]))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.FILES_IMPORTED).count() == 1

    again = _uploaded(admin, world, "clients.csv", EVERY_KIND.encode())
    assert {tuple(row["actions"]) for row in again.rows if not row["problem"]} == {("unchanged",)}
    files, links = ClientFile.objects.count(), ClientLink.objects.count()
    admin.post(reverse("client_file_import_confirm", args=[world.firm.slug, again.pk]))
    assert (ClientFile.objects.count(), ClientLink.objects.count()) == (files, links)


def test_a_preview_overtaken_by_a_change_is_not_applied(world: FirmWorld, linked: Connection) -> None:
    admin = _admin(world)
    upload = _uploaded(admin, world, "c.csv", b"file code,name\nLATE-1,Late BV\n")
    ClientFile.objects.create(firm=world.firm, name="Someone else's", file_code="LATE-1")
    response = admin.post(
        reverse("client_file_import_confirm", args=[world.firm.slug, upload.pk]), follow=True
    )
    assert "changed since this preview" in response.content.decode()
    assert ClientFile.objects.get(file_code="LATE-1").name == "Someone else's"


def test_a_workbook_is_read_and_a_formula_is_refused(world: FirmWorld, linked: Connection) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Dossiercode", "Naam", "Bedrijfscode"])
    sheet.append([1042, "Getal BV", None])
    sheet.append(["F-1", '=HYPERLINK("http://x/","y")', None])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = _uploaded(_admin(world), world, "klanten.xlsx", buffer.getvalue())
    assert [(row["file_code"], row["problem"]) for row in upload.rows] == [("1042", ""), ("F-1", "formula")]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("c.csv", b"dossier;klant;telefoon\nA;B;C\n", "Unknown column(s): “dossier”, “telefoon”"),
        ("c.csv", b"file code\nA\n", "The column “name” is missing"),
        ("c.csv", "file code;name\nA;Caf\xe9\n".encode("latin-1"), "not in UTF-8 (line 2)"),
        ("c.csv", b"file code;name\n", "no client files"),
        ("c.csv", b"", "The submitted file is empty."),
        ("c.csv", b"\n\n", "The file is empty."),
        ("c.pdf", b"%PDF-1.4", "Upload a CSV file (.csv) or an Excel workbook (.xlsx)."),
        ("c.xlsx", b"PK\x03\x04 not really a zip", "not a readable Excel workbook"),
    ],
)
def test_a_bad_file_gets_a_clear_message_and_changes_nothing(
    world: FirmWorld, name: str, data: bytes, message: str
) -> None:
    response = _upload(_admin(world), world, name, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ClientFileImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused_unread(world: FirmWorld, settings: Any) -> None:
    settings.CLIENT_FILE_IMPORT_MAX_BYTES = 100_000
    response = _upload(_admin(world), world, "big.csv", b"file code;name\n" + b"A;B\n" * 100_000)
    assert "The file is 0.4 MB; at most 0.1 MB can be imported at once." in response.content.decode()
    assert not ClientFileImport.objects.exists()


def test_another_firms_import_is_out_of_reach(
    world: FirmWorld, other_world: FirmWorld, linked: Connection
) -> None:
    upload = _uploaded(_admin(world), world, "c.csv", b"file code,name\nX-1,X BV\n")
    outsider = Client()
    outsider.force_login(other_world.admin)
    for slug in (world.firm.slug, other_world.firm.slug):
        assert outsider.get(reverse("client_file_import_preview", args=[slug, upload.pk])).status_code == 404
        assert outsider.post(reverse("client_file_import_confirm", args=[slug, upload.pk])).status_code == 404
    assert not ClientFile.objects.filter(file_code="X-1").exists()
    staff = Client()
    staff.force_login(User.objects.get(pk=world.staff.pk))
    assert (
        staff.get(reverse("client_file_import_preview", args=[world.firm.slug, upload.pk])).status_code == 403
    )


def test_a_host_that_cannot_be_reached_is_not_asked_about_every_code(
    world: FirmWorld, linked: Connection, wow_sandbox: Any
) -> None:
    """Forty codes while WoW answers 503 to everything: each stream of checks stops after a few such answers
    in a row, the rows say WoW could not be asked (never remembered: the next upload asks again), and a
    worker is not held for forty deadlines."""
    spreadsheet = (
        "file code;name;company code\n" + "".join(f"GONE-{n:02d};Gone {n};GONE_{n:02d}\n" for n in range(40))
    ).encode()
    wow_sandbox.control("DELETE", "stats")
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=503, count=1000)
    upload = _uploaded(_admin(world), world, "gone.csv", spreadsheet)
    assert {row["problem"] for row in upload.rows} == {"company_unchecked"}
    assert stats_total(wow_sandbox) <= COMPANY_CHECK_THREADS * UNREACHABLE_IN_A_ROW
    wow_sandbox.control("DELETE", "faults")
    again = _uploaded(_admin(world), world, "gone.csv", spreadsheet)
    assert {row["problem"] for row in again.rows} == {"company_refused"}  # asked again: WoW knows none
