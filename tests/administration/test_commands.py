"""The operator commands call the same services as the pages."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from administration.models import Invitation
from clients.models import ClientFile, Role
from syncs.models import ClientLink, Connection
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_client_files_previews_then_applies(
    world: FirmWorld, connection: Connection, tmp_path: Path
) -> None:
    sheet = tmp_path / "clients.csv"
    sheet.write_text("file code;name;company code\nCMD-1;Command BV;SECOND_BV\nCMD-2;Nope BV;NO_SUCH\n")
    out = StringIO()
    call_command("import_client_files", "--firm", world.firm.slug, "--file", str(sheet), stdout=out)
    printed = out.getvalue()
    assert "line 2: CMD-1 Command BV: New client file · Link and sync" in printed
    assert "line 3: CMD-2 Nope BV: ✗ WinbooksOnWeb refused this company code" in printed
    assert "Nothing was changed" in printed
    assert not ClientFile.objects.filter(file_code="CMD-1").exists()

    out = StringIO()
    call_command(
        "import_client_files", "--firm", world.firm.slug, "--file", str(sheet), "--confirm", stdout=out
    )
    assert "Imported: 1 new, 0 renamed, 1 linked" in out.getvalue()
    assert ClientLink.objects.get(client_file__file_code="CMD-1").company_code == "SECOND_BV"
    assert not ClientFile.objects.filter(file_code="CMD-2").exists()


def test_import_client_files_refuses_a_bad_file_clearly(world: FirmWorld, tmp_path: Path) -> None:
    sheet = tmp_path / "clients.csv"
    sheet.write_text("code;naam\nA;B\n")
    with pytest.raises(CommandError, match="Unknown column"):
        call_command("import_client_files", "--firm", world.firm.slug, "--file", str(sheet))
    with pytest.raises(CommandError, match="No file at"):
        call_command("import_client_files", "--firm", world.firm.slug, "--file", str(tmp_path / "none.csv"))


def test_invite_person_mails_the_link(world: FirmWorld, settings: Any) -> None:
    out = StringIO()
    call_command(
        "invite_person",
        "--firm",
        world.firm.slug,
        "--email",
        "ops@alpha.test",
        "--role",
        Role.EXTERNAL,
        "--files",
        world.given_file.file_code,
        "--site-url",
        "https://sync.example.be",
        stdout=out,
    )
    invitation = Invitation.objects.get(email="ops@alpha.test")
    assert list(invitation.client_files.all()) == [world.given_file]
    assert "https://sync.example.be/invitations/" in mail.outbox[-1].body
    with pytest.raises(CommandError, match="already been invited"):
        call_command(
            "invite_person",
            "--firm",
            world.firm.slug,
            "--email",
            "OPS@alpha.test",
            "--role",
            Role.STAFF,
            "--site-url",
            "https://sync.example.be",
        )
