"""Write-side operations of syncs: connect, reconnect, disconnect, link, unlink, request a run.

Each service checks its input, talks to the package **before** writing anything (so a refusal saves
nothing), then writes in one transaction together with its audit event. Views, commands and tasks call
these; they never write the models themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clients.models import ClientFile, Firm
from silverfin_sync.notices import Notice

from .connections import audit_record
from .models import (
    CONNECTION_SECRETS_VIA_LINK,
    AuditEvent,
    ClientLink,
    Connection,
    ErrorKind,
    Provider,
    SyncCursor,
    SyncRun,
)
from .providers import ProviderError, get_provider
from .runs import sync_run_request, sync_runs_cancel_queued
from .schedule import next_nightly

logger = logging.getLogger(__name__)

# What an exchange token may be, said once: the connect and reconnect forms use these too.
MAX_EXCHANGE_TOKEN_LENGTH = 4096
EXCHANGE_TOKEN_MISSING = gettext_lazy("Paste the exchange token from WinbooksOnWeb's e-mail.")


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError({"name": _("Give the sync a name, e.g. “WinbooksOnWeb”.")})
    if len(cleaned) > 100:
        raise ValidationError(
            {"name": _("At most 100 characters (this one has %(length)s).") % {"length": len(cleaned)}}
        )
    return cleaned


def _clean_email(email: str) -> str:
    cleaned = email.strip()
    try:
        validate_email(cleaned)
    except ValidationError as error:
        raise ValidationError(
            {"email": _("Enter the e-mail address the exchange token was created for.")}
        ) from error
    return cleaned


def _clean_exchange_token(token: str) -> str:
    cleaned = token.strip()
    if not cleaned:
        raise ValidationError({"exchange_token": EXCHANGE_TOKEN_MISSING})
    if len(cleaned) > MAX_EXCHANGE_TOKEN_LENGTH or any(
        ch.isspace() or not ch.isprintable() for ch in cleaned
    ):
        raise ValidationError(
            {
                "exchange_token": _(
                    "This does not look like an exchange token: paste it exactly as it was e-mailed."
                )
            }
        )
    return cleaned


def _provider_failure(error: ProviderError, field: str | None = None) -> ValidationError:
    field = field or error.field
    return ValidationError({field: error.user_message} if field else error.user_message, code=error.kind)


def connection_connect(
    *,
    firm: Firm,
    actor: User | None,
    name: str,
    email: str,
    exchange_token: str,
    api_url: str = "",
    provider_key: str = Provider.WINBOOKS,
) -> Connection:
    """Connect the firm to a bookkeeping package (WinbooksOnWeb unless told otherwise): exchange the token
    now, store the credentials encrypted."""
    provider = get_provider(provider_key)
    name = _clean_name(name)
    email = _clean_email(email)
    exchange_token = _clean_exchange_token(exchange_token)
    if (
        Connection.objects.filter(firm=firm, name=name)
        .exclude(status=Connection.Status.DISCONNECTED)
        .exists()
    ):
        raise ValidationError(
            {
                "name": _("This firm already has a sync named “%(name)s”; choose another name.")
                % {"name": name}
            }
        )
    try:
        credentials = provider.exchange(
            api_url=api_url or provider.default_api_url, email=email, exchange_token=exchange_token
        )
    except ProviderError as error:
        raise _provider_failure(error) from error
    now = timezone.now()
    with transaction.atomic():
        connection = Connection.objects.create(
            firm=firm,
            name=name,
            provider=provider.key,
            api_url=credentials.api_url,
            status=Connection.Status.CONNECTED,
            status_changed_at=now,
            email=credentials.email,
            access_token=credentials.access_token,
            refresh_token=credentials.refresh_token,
            access_token_expires_at=credentials.access_token_expires_at,
            connected_by=actor,
            connected_at=now,
        )
        audit_record(
            firm=firm,
            actor=actor,
            action=AuditEvent.Action.CONNECTED,
            connection=connection,
            parameters={"connection": name, "provider": provider.label},
        )
    logger.info("Firm %s connected sync %s", firm.pk, connection.pk)
    return connection


def connection_reconnect(
    *, connection: Connection, actor: User | None, email: str, exchange_token: str
) -> Connection:
    """Give a connection new credentials; its links and history stay as they are."""
    provider = get_provider(connection.provider)
    email = _clean_email(email)
    exchange_token = _clean_exchange_token(exchange_token)
    try:
        credentials = provider.exchange(
            api_url=connection.api_url, email=email, exchange_token=exchange_token
        )
    except ProviderError as error:
        raise _provider_failure(error) from error
    now = timezone.now()
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if (
            locked.status == Connection.Status.DISCONNECTED
            and Connection.objects.filter(firm=locked.firm, name=locked.name)
            .exclude(pk=locked.pk)
            .exclude(status=Connection.Status.DISCONNECTED)
            .exists()
        ):
            raise ValidationError(
                _("Another sync of this firm is now named “%(name)s”; rename it first.")
                % {"name": locked.name}
            )
        # While it needed reconnecting, runs stopped without asking WoW: they are retried too.
        refused_since = locked.status_changed_at if locked.status != Connection.Status.CONNECTED else None
        locked.email = credentials.email
        locked.access_token = credentials.access_token
        locked.refresh_token = credentials.refresh_token
        locked.access_token_expires_at = credentials.access_token_expires_at
        locked.status = Connection.Status.CONNECTED
        locked.status_reason_code, locked.status_reason_params = "", {}
        locked.status_changed_at = now
        locked.connected_by = actor
        locked.connected_at = now
        locked.save()
        audit_record(
            firm=locked.firm,
            actor=actor,
            action=AuditEvent.Action.RECONNECTED,
            connection=locked,
            parameters={"connection": locked.name},
        )
        _resync_files_refused_access(connection=locked, actor=actor, refused_since=refused_since)
    return locked


def _resync_files_refused_access(
    *, connection: Connection, actor: User | None, refused_since: dt.datetime | None
) -> int:
    """After a reconnect: a sync for every linked file whose last run failed because the package refused
    access, or stopped while the connection needed reconnecting (since ``refused_since``), or never ran, so
    their pages say a sync is queued at once instead of a stale error."""
    refused = (
        ClientLink.objects.filter(connection=connection, unlinked_at__isnull=True)
        .filter(
            Q(latest_run__status=SyncRun.Status.FAILED, latest_run__error_class="access")
            | Q(latest_run__isnull=True)  # linked while it was refused: never synced yet
            | Q(
                latest_run__status=SyncRun.Status.FAILED,
                latest_run__finished_at__gte=refused_since or timezone.now(),
            )
        )
        .order_by("pk")
    )
    queued = 0
    for link in refused:
        _, created = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL, requested_by=actor)
        queued += created
    if queued:
        logger.info("Connection %s reconnected: %s refused files queued again", connection.pk, queued)
    return queued


def connection_schedule_set(*, connection: Connection, actor: User | None, at: dt.time) -> Connection:
    """Move the connection's nightly sync to ``at`` (the firm's time zone): every linked file's next
    scheduled sync moves with it. Audited."""

    at = at.replace(second=0, microsecond=0, tzinfo=None)
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        before = locked.nightly_sync_time
        if before == at:
            return locked
        locked.nightly_sync_time = at
        locked.save(update_fields=["nightly_sync_time", "updated_at"])
        ClientLink.objects.filter(connection=locked, unlinked_at__isnull=True).update(
            next_sync_at=next_nightly(after=timezone.now(), at=at)
        )
        audit_record(
            firm=locked.firm,
            actor=actor,
            action=AuditEvent.Action.SCHEDULE_CHANGED,
            connection=locked,
            parameters={"connection": locked.name, "old_time": f"{before:%H:%M}", "time": f"{at:%H:%M}"},
        )
    return locked


def connection_disconnect(*, connection: Connection, actor: User | None) -> Connection:
    """Stop syncing through this connection. Links, ledgers and history are kept; the tokens are erased."""
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if locked.status == Connection.Status.DISCONNECTED:
            return locked
        locked.status = Connection.Status.DISCONNECTED
        locked.status_reason_code, locked.status_reason_params = "", {}
        locked.status_changed_at = timezone.now()
        locked.access_token = ""
        locked.refresh_token = ""
        locked.access_token_expires_at = None
        locked.save()
        sync_runs_cancel_queued(
            SyncRun.objects.filter(link__connection=locked),
            error_class=ErrorKind.ACCESS,
            notice=Notice("run.cancelled_disconnected"),
        )
        audit_record(
            firm=locked.firm,
            actor=actor,
            action=AuditEvent.Action.DISCONNECTED,
            connection=locked,
            parameters={"connection": locked.name},
        )
    return locked


def _clean_company_code(code: str) -> str:
    cleaned = code.strip()
    if not cleaned:
        raise ValidationError({"company_code": _("Enter the WinbooksOnWeb company code.")})
    if len(cleaned) > 100:
        raise ValidationError(
            {
                "company_code": _("At most 100 characters (this one has %(length)s).")
                % {"length": len(cleaned)}
            }
        )
    if any(not ch.isprintable() for ch in cleaned):
        raise ValidationError(
            {"company_code": _("The company code contains characters that cannot be typed.")}
        )
    return cleaned


def client_link_set(
    *,
    client_file: ClientFile,
    connection: Connection,
    company_code: str,
    actor: User | None,
    start_date: dt.date | None = None,
    checked_by_import: bool = False,
) -> ClientLink:
    """Link a client file to a company of a connected sync (or change its link), then queue its first sync.

    The code is checked against the package with the firm's credentials before anything is saved, except
    for a spreadsheet import (``checked_by_import``), which checked every code minutes before in its
    preview and leaves the first syncs to the dispatcher (due at once, on the scheduled queue), so that a
    firm's hundreds of new files never hold the "Sync now" queue every firm's people wait on.
    """
    company_code = _clean_company_code(company_code)
    if client_file.archived_at is not None:
        raise ValidationError(_("This client file is archived; unarchive it before linking it."))
    if connection.firm_id != client_file.firm_id:
        raise ValidationError({"connection": _("Choose one of this firm's syncs.")})
    if not connection.is_usable:
        raise ValidationError(
            {
                "connection": _("“%(name)s” is not connected; an admin must reconnect it.")
                % {"name": connection.name}
            }
        )
    current = ClientLink.objects.filter(client_file=client_file, unlinked_at__isnull=True).first()
    if current and current.connection_id == connection.pk and current.company_code == company_code:
        if current.start_date != start_date:
            _check_start_date(connection=connection, company_code=company_code, start_date=start_date)
            return _client_link_move_start(link=current, start_date=start_date, actor=actor)
        return current
    taken = (
        ClientLink.objects.filter(
            firm=client_file.firm, company_code__iexact=company_code, unlinked_at__isnull=True
        )
        .exclude(client_file=client_file)
        .select_related("client_file")
        .first()
    )
    if taken:
        raise ValidationError(
            {
                "company_code": _(
                    "The company code %(code)s is already linked to the client file “%(name)s” (%(file_code)s)."
                )
                % {
                    "code": company_code,
                    "name": taken.client_file.name,
                    "file_code": taken.client_file.file_code,
                }
            }
        )
    if not checked_by_import:
        _check_start_date(connection=connection, company_code=company_code, start_date=start_date)

    try:
        with transaction.atomic():
            if current:
                ClientLink.objects.filter(pk=current.pk).update(unlinked_at=timezone.now())
                sync_runs_cancel_queued(
                    SyncRun.objects.filter(link=current),
                    error_class=ErrorKind.CONFIG,
                    notice=Notice("run.cancelled_relinked"),
                )
            link = ClientLink.objects.create(
                firm=client_file.firm,
                client_file=client_file,
                connection=connection,
                company_code=company_code,
                start_date=start_date,
                linked_by=actor,
                next_sync_at=timezone.now()
                if checked_by_import
                else next_nightly(after=timezone.now(), at=connection.nightly_sync_time),
            )
            if current:
                audit_record(
                    firm=client_file.firm,
                    actor=actor,
                    action=AuditEvent.Action.RELINKED,
                    connection=connection,
                    client_file=client_file,
                    parameters={
                        "client_file": client_file.name,
                        "old_company_code": current.company_code,
                        "company_code": company_code,
                        "connection": connection.name,
                    },
                )
            else:
                audit_record(
                    firm=client_file.firm,
                    actor=actor,
                    action=AuditEvent.Action.LINKED,
                    connection=connection,
                    client_file=client_file,
                    parameters={
                        "client_file": client_file.name,
                        "company_code": company_code,
                        "connection": connection.name,
                    },
                )
            if not checked_by_import:
                sync_run_request(link=link, trigger=SyncRun.Trigger.FIRST_LINK, requested_by=actor)
    except IntegrityError as error:
        # Two people linking at the same instant: the database's constraints decide, the loser is told.
        raise ValidationError(
            {
                "company_code": _(
                    "This client file or company code was linked by someone else just now; reload."
                )
            }
        ) from error
    return link


def _check_start_date(*, connection: Connection, company_code: str, start_date: dt.date | None) -> None:
    """The company answers with the firm's credentials, and a start date is the first day of one of its
    fiscal years (a date inside a year would leave that year out, with nothing saying so)."""
    try:
        starts = get_provider(connection.provider).check_company(
            connection_id=connection.pk, company_code=company_code
        )
    except ProviderError as error:
        raise _provider_failure(
            error, field="company_code" if error.kind == ErrorKind.CONFIG else None
        ) from error
    if start_date is None or start_date in starts:
        return
    if not starts:
        message = _("WinbooksOnWeb has no fiscal year for {code} yet; leave “Do not sync before” empty.")
    else:
        message = _(
            "{date} is not the first day of a fiscal year of {code}. Its fiscal years start on {starts}; "
            "choose one of these, or leave the field empty to sync every year."
        )
    raise ValidationError(
        {
            "start_date": message.format(
                date=date_format(start_date, "SHORT_DATE_FORMAT"),
                code=company_code,
                starts=", ".join(date_format(start, "SHORT_DATE_FORMAT") for start in starts),
            )
        }
    )


def _client_link_move_start(
    *, link: ClientLink, start_date: dt.date | None, actor: User | None
) -> ClientLink:
    """Change only the start date: audited, and a sync queued that reads the documents again from the new
    start (the engine removes what is now before it, and fetches what the ledger lacks after it)."""
    before = link.start_date
    with transaction.atomic():
        locked = (
            ClientLink.objects.select_for_update()
            .select_related("connection")
            .defer(*CONNECTION_SECRETS_VIA_LINK)
            .get(pk=link.pk)
        )
        locked.start_date = start_date
        locked.save(update_fields=["start_date"])
        # Documents before the old start were never read: the documents' cursor starts again (unchanged
        # documents are skipped by their version, so this costs reading, not writing).
        SyncCursor.objects.filter(link=locked, stream="entries").update(modified=None, last_id="")
        audit_record(
            firm=locked.firm,
            actor=actor,
            action=AuditEvent.Action.START_DATE_CHANGED,
            connection=locked.connection,
            client_file=locked.client_file,
            parameters={
                "client_file": locked.client_file.name,
                "old_start_date": before.isoformat() if before else None,
                "start_date": start_date.isoformat() if start_date else None,
            },
        )
        sync_run_request(link=locked, trigger=SyncRun.Trigger.MANUAL, requested_by=actor)
    return locked


def client_link_remove(*, client_file: ClientFile, actor: User | None) -> ClientLink | None:
    """Unlink a client file: it stops syncing; its ledger and history stay."""
    with transaction.atomic():
        link = (
            ClientLink.objects.select_for_update()
            .filter(client_file=client_file, unlinked_at__isnull=True)
            .select_related("connection")
            .defer(*CONNECTION_SECRETS_VIA_LINK)
            .first()
        )
        if link is None:
            return None
        link.unlinked_at = timezone.now()
        link.save(update_fields=["unlinked_at"])
        sync_runs_cancel_queued(
            SyncRun.objects.filter(link=link),
            error_class=ErrorKind.CONFIG,
            notice=Notice("run.cancelled_unlinked"),
        )
        audit_record(
            firm=client_file.firm,
            actor=actor,
            action=AuditEvent.Action.UNLINKED,
            connection=link.connection,
            client_file=client_file,
            parameters={"client_file": client_file.name, "old_company_code": link.company_code},
        )
    return link


@dataclass(frozen=True)
class SyncNowOutcome:
    """What a "Sync now" over several client files did, to tell the user in one sentence."""

    queued: int = 0
    already_active: int = 0
    not_linked: int = 0
    needs_reconnect: int = 0


def client_files_sync_now(
    *, firm: Firm, client_file_ids: Iterable[int], actor: User | None
) -> SyncNowOutcome:
    """ "Sync now" for each of these client files of ``firm`` (the overview's arrows, ticked rows or every
    file a filter matches), through the one "Sync now" of a client file (``runs.client_file_sync_now``):
    one run per linked file whose connection works; a file with a run queued or running keeps that run, so
    pressing twice, or two people at once, queue nothing more."""
    from .runs import client_file_sync_now

    outcome = {"queued": 0, "already_active": 0, "not_linked": 0, "needs_reconnect": 0}
    # One transaction: every run is queued before any is sent to a worker, so the first run's outcome (a
    # refused token, say) cannot change what the rest of the same request does.
    with transaction.atomic():
        chosen = ClientFile.objects.filter(firm=firm, pk__in=set(client_file_ids), archived_at__isnull=True)
        for client_file in chosen.order_by("pk"):
            try:
                _, created = client_file_sync_now(client_file=client_file, requested_by=actor)
            except ValidationError as refusal:
                outcome["needs_reconnect" if refusal.code == "needs_reconnect" else "not_linked"] += 1
            else:
                outcome["queued" if created else "already_active"] += 1
    return SyncNowOutcome(**outcome)
