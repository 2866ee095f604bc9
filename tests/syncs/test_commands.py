"""The operator commands that run a sync and print a trial balance."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from syncs.models import ClientLink, Connection, SyncRun
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db


def sync(world: FirmWorld) -> dict[str, Any]:
    out = io.StringIO()
    call_command(
        "sync_client", "--firm", world.firm.slug, "--client", world.given_file.file_code, "--wait", stdout=out
    )
    return json.loads(out.getvalue())


def test_sync_client_wait_prints_a_json_summary(world: FirmWorld, link: ClientLink) -> None:
    summary = sync(world)
    assert summary["status"] == "succeeded"
    assert summary["counts"]["entries"]["created"] == 15
    assert summary["api_calls"] > 0 and summary["api_calls_by_kind"]
    assert summary["reconciliation"]["ties_out"] is True
    assert all(period["ties_out"] for period in summary["reconciliation"]["periods"])
    again = sync(world)
    assert again["run"] != summary["run"]
    assert again["counts"].get("entries", {}).get("created", 0) == 0  # nothing new: nothing read


def test_sync_client_refuses_an_unlinked_client_file(world: FirmWorld) -> None:
    with pytest.raises(CommandError, match="is not linked"):
        call_command("sync_client", "--firm", world.firm.slug, "--client", world.other_file.file_code)


def test_sync_client_refuses_like_the_page_while_the_sync_needs_reconnecting(
    world: FirmWorld, link: ClientLink
) -> None:
    Connection.objects.filter(pk=link.connection_id).update(status=Connection.Status.NEEDS_RECONNECT)
    SyncRun.objects.filter(link=link).delete()  # the first sync queued by linking
    with pytest.raises(CommandError, match="needs reconnecting by an admin"):
        call_command("sync_client", "--firm", world.firm.slug, "--client", world.given_file.file_code)
    assert not SyncRun.objects.filter(link=link).exists()  # no run queued to fail later


def test_trial_balance_prints_csv_and_json_that_tie_out(world: FirmWorld, link: ClientLink) -> None:
    sync(world)
    out = io.StringIO()
    call_command(
        "trial_balance",
        "--firm",
        world.firm.slug,
        "--client",
        world.given_file.file_code,
        "--period",
        "2024-01",
        stdout=out,
    )
    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith("Account")
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert rows["400000"].endswith("1210.00,0.00,1210.00")  # VERK #1: the customer owes 1,210.00
    assert rows["Total"].endswith(",0.00")
    out = io.StringIO()
    call_command(
        "trial_balance",
        "--firm",
        world.firm.slug,
        "--client",
        world.given_file.file_code,
        "--period",
        "2024-01",
        "--format",
        "json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["totals"]["ties_out"] is True
    assert data["totals"]["debit"] == data["totals"]["credit"]
    sales = next(a for a in data["accounts"] if a["account"] == "700000")
    assert sales["credit"] == "1000.00"


@pytest.mark.parametrize(
    ("period", "message"), [("2024-1", "must look like"), ("1999-01", "has no period 1999-01")]
)
def test_trial_balance_refuses_a_bad_period(
    world: FirmWorld, link: ClientLink, period: str, message: str
) -> None:
    sync(world)
    with pytest.raises(CommandError, match=message):
        call_command(
            "trial_balance",
            "--firm",
            world.firm.slug,
            "--client",
            world.given_file.file_code,
            "--period",
            period,
            stdout=io.StringIO(),
        )


def test_sync_client_wait_reports_an_unexpected_error_in_one_line_with_its_summary(
    world: FirmWorld, link: ClientLink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(state: Any) -> None:
        raise OverflowError("Python int too large to convert to C int")

    monkeypatch.setattr("syncs.engine._sync", broken)
    out = io.StringIO()
    with pytest.raises(CommandError, match="unexpected error") as raised:
        call_command(
            "sync_client",
            "--firm",
            world.firm.slug,
            "--client",
            world.given_file.file_code,
            "--wait",
            stdout=out,
        )
    assert "\n" not in str(raised.value)
    summary = json.loads(out.getvalue())
    assert summary["status"] == "failed" and summary["error"]["class"] == "internal"
    assert "Python int" not in out.getvalue()
    failed = [record for record in caplog.records if record.name == "syncs.engine"]
    assert failed and not any(record.exc_info for record in failed)  # logged, without a traceback
