"""A firm with client files in every sync state, for the overview's tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from clients.models import ClientFile, Firm
from syncs.models import ClientLink, Connection, SyncRun
from tests.ledger.factories import ClientLinkFactory, ConnectionFactory, SyncRunFactory


@dataclass
class EveryState:
    connection: Connection
    refused: Connection
    files: dict[str, ClientFile]  # by the state it is in


def make_every_state(firm: Firm, *, prefix: str = "") -> EveryState:
    """One client file per state (two in step), linked over two connections, one needing reconnection."""
    connection = ConnectionFactory.create(firm=firm, name=f"{prefix}WinbooksOnWeb")
    refused = ConnectionFactory.create(
        firm=firm,
        name=f"{prefix}Old WinbooksOnWeb",
        status=Connection.Status.NEEDS_RECONNECT,
        status_reason_code="wow.access_revoked",
    )
    now = timezone.now()
    files: dict[str, ClientFile] = {}

    def linked(
        state: str, code: str, *, on: Connection = connection, runs: tuple[str, ...] = ()
    ) -> ClientFile:
        client_file = ClientFile.objects.create(
            firm=firm, name=f"{prefix}{state.replace('_', ' ').title()} BV", file_code=f"{prefix}F-{state}"
        )
        link = ClientLinkFactory.create(
            client_file=client_file,
            connection=on,
            company_code=f"{prefix}{code}",
            next_sync_at=now + dt.timedelta(hours=5),
        )
        for index, status in enumerate(runs):  # oldest first, as they happen (the newest id is the latest)
            age = len(runs) - 1 - index
            run = SyncRunFactory.create(link=link, status=status)
            SyncRun.objects.filter(pk=run.pk).update(queued_at=now - dt.timedelta(minutes=age))
            if status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES):
                ClientLink.objects.filter(pk=link.pk).update(last_success_at=now - dt.timedelta(hours=3))
        files[state] = client_file
        return client_file

    S = SyncRun.Status
    linked("in_step", "INSTEP", runs=(S.FAILED, S.SUCCEEDED))
    linked("in_step_2", "INSTEP2", runs=(S.SUCCEEDED,))
    linked("issues", "ISSUES", runs=(S.SUCCEEDED_WITH_ISSUES,))
    failed = linked("failed", "FAILED", runs=(S.SUCCEEDED, S.FAILED))
    SyncRun.objects.filter(client_file=failed, status=S.FAILED).update(
        error_class="config", error_code="wow.company_unknown"
    )
    linked("running", "RUNNING", runs=(S.SUCCEEDED, S.RUNNING))
    SyncRun.objects.filter(client_file=files["running"], status=S.RUNNING).update(
        progress={"stream": "entries", "pages": 3, "records": 1500, "streams_done": 6}
    )
    linked("queued", "QUEUED", runs=(S.QUEUED,))
    reconnect = linked("needs_reconnect", "REFUSED", on=refused, runs=(S.SUCCEEDED, S.FAILED))
    SyncRun.objects.filter(client_file=reconnect, status=S.FAILED).update(
        error_class="access", error_code="wow.access_revoked"
    )
    linked("never_synced", "NEVER")
    files["not_linked"] = ClientFile.objects.create(
        firm=firm, name=f"{prefix}Not Linked BV", file_code=f"{prefix}F-not_linked"
    )
    return EveryState(connection=connection, refused=refused, files=files)
