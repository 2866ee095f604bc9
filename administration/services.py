"""Write-side operations of a firm's administration: client files, imports, people and invitations.

Views and operator commands call these; each change is audited in the firm's log (``syncs.AuditEvent``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import connections, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clients import services as client_services
from clients.models import ClientFile, Firm, Membership, Role
from silverfin_sync.notices import Notice
from syncs.connections import audit_record
from syncs.models import AuditEvent, ClientLink, Connection, ErrorKind, SyncRun
from syncs.providers import ProviderError, get_provider
from syncs.runs import sync_runs_cancel_queued
from syncs.services import client_link_set

from .models import ClientFileImport, Invitation
from .spreadsheets import SpreadsheetError, spreadsheet_rows

logger = logging.getLogger(__name__)

INVITATION_VALID_FOR = dt.timedelta(days=7)
# A company code checked against WoW is trusted this long (a re-upload, or the confirmation, asks again
# only after that); a failed check that may be temporary is never remembered.
COMPANY_CHECK_CACHE_SECONDS = 15 * 60
IMPORT_PREVIEW_VALID_FOR = dt.timedelta(hours=1)
COMPANY_CHECK_THREADS = 4


def _audit(
    firm: Firm, actor: User | None, action: str, *, client_file: ClientFile | None = None, **params: Any
) -> None:
    """An entry of the firm's audit log, worded when read ("audit.<action>" in silverfin_sync/notices.py)."""
    audit_record(
        firm=firm, actor=actor, action=AuditEvent.Action(action), parameters=params, client_file=client_file
    )


# --- Client files -----------------------------------------------------------------------------------


def client_file_add(
    *,
    firm: Firm,
    actor: User | None,
    name: str,
    file_code: str,
    connection: Connection | None = None,
    company_code: str = "",
    start_date: dt.date | None = None,
) -> ClientFile:
    """A new client file, linked (and its first sync queued) when a company code is given.

    The code is checked against WoW as the link form does; if WoW refuses it, no file is created."""
    with transaction.atomic():
        client_file = client_services.client_file_create(firm=firm, name=name, file_code=file_code)
        _audit(
            firm,
            actor,
            "file_added",
            client_file=client_file,
            client_file_name=client_file.name,
            file_code=client_file.file_code,
        )
        if company_code.strip():
            if connection is None:
                raise ValidationError(
                    {"connection": _("Connect the firm to WinbooksOnWeb first (Syncs tab).")}
                )
            client_link_set(
                client_file=client_file,
                connection=connection,
                company_code=company_code,
                actor=actor,
                start_date=start_date,
            )
    return client_file


def client_file_edit(*, client_file: ClientFile, actor: User | None, name: str, file_code: str) -> ClientFile:
    old_name, old_code = client_file.name, client_file.file_code
    updated = client_services.client_file_update(client_file=client_file, name=name, file_code=file_code)
    if (updated.name, updated.file_code) != (old_name, old_code):
        _audit(
            client_file.firm,
            actor,
            "file_edited",
            client_file=updated,
            client_file_name=updated.name,
            old_name=old_name,
            file_code=updated.file_code,
            old_file_code=old_code,
        )
    return updated


def client_file_archive(*, client_file: ClientFile, actor: User | None) -> ClientFile:
    """No more syncs (queued ones are cancelled); the ledger, the link and the history stay."""
    with transaction.atomic():
        locked = ClientFile.objects.select_for_update().get(pk=client_file.pk)
        if locked.archived_at is not None:
            return locked
        locked.archived_at = timezone.now()
        locked.save(update_fields=["archived_at", "updated_at"])
        sync_runs_cancel_queued(
            SyncRun.objects.filter(client_file=locked),
            error_class=ErrorKind.CONFIG,
            notice=Notice("run.cancelled_archived"),
        )
        _audit(locked.firm, actor, "file_archived", client_file=locked, client_file_name=locked.name)
    return locked


def client_file_unarchive(*, client_file: ClientFile, actor: User | None) -> ClientFile:
    with transaction.atomic():
        locked = ClientFile.objects.select_for_update().get(pk=client_file.pk)
        if locked.archived_at is None:
            return locked
        locked.archived_at = None
        locked.save(update_fields=["archived_at", "updated_at"])
        _audit(locked.firm, actor, "file_unarchived", client_file=locked, client_file_name=locked.name)
    return locked


def firm_client_file_rights_set(*, firm: Firm, actor: User | None, staff_may_manage: bool) -> Firm:
    if firm.staff_manage_client_files != staff_may_manage:
        firm.staff_manage_client_files = staff_may_manage
        firm.save(update_fields=["staff_manage_client_files", "updated_at"])
        _audit(firm, actor, "file_rights", staff_may_manage=staff_may_manage)
    return firm


# --- Importing client files from a spreadsheet --------------------------------------------------------


def _clean(value: str) -> str:
    return " ".join(value.split())


def _parse_date(text: str) -> dt.date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def client_file_import_start(
    *,
    firm: Firm,
    actor: User | None,
    filename: str,
    data: bytes,
    size: int | None = None,
    connection: Connection | None,
) -> ClientFileImport:
    """Read the spreadsheet and keep its rows; the worker checks them (``client_file_import_check``)."""
    try:
        raw_rows = spreadsheet_rows(
            filename=filename,
            data=data,
            size=len(data) if size is None else size,
            max_bytes=settings.CLIENT_FILE_IMPORT_MAX_BYTES,
            max_rows=settings.CLIENT_FILE_IMPORT_MAX_ROWS,
        )
    except SpreadsheetError as error:
        raise ValidationError({"file": str(error.message)}) from error
    if connection is not None and connection.firm_id != firm.pk:
        raise ValidationError({"connection": _("Choose one of this firm’s syncs.")})
    rows = []
    for raw in raw_rows:
        row: dict[str, Any] = {
            "line": raw.line,
            "file_code": _clean(raw.values.get("file_code", "")),
            "name": _clean(raw.values.get("name", "")),
            "company_code": raw.values.get("company_code", "").strip(),
            "sync_from": raw.values.get("sync_from", "").strip(),
            "formula": raw.has_formula,
        }
        rows.append(row)
    upload = ClientFileImport.objects.create(
        firm=firm,
        uploaded_by=actor,
        filename=filename[:255],
        connection_id=connection.pk if connection else None,
        rows=rows,
    )
    from .tasks import client_file_import_check_task

    transaction.on_commit(
        lambda: client_file_import_check_task.apply_async(args=[upload.pk], queue="syncs-now")
    )
    return upload


def _company_check_key(connection_id: int, code: str) -> str:
    return f"company-check:{connection_id}:{hashlib.sha256(code.encode()).hexdigest()}"


def _company_verdict(answer: list[dt.date] | ProviderError) -> dict[str, Any]:
    if isinstance(answer, ProviderError):
        return {
            "problem": "company_refused" if answer.kind in {"config", "access"} else "company_unchecked",
            # WoW's refusal as a code and its parameters: the worker has no reader, the preview words it in
            # the language of whoever reads it.
            "notice": answer.notice.as_json(),
        }
    return {"starts": [start.isoformat() for start in answer]}


def _company_checks(connection: Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """WoW's answer for each company code: its fiscal-year starts, or the problem. Answers remembered from
    an earlier upload are reused; the rest are asked in COMPANY_CHECK_THREADS streams, each over one client
    (kept-alive, tokens read once) and one database connection, closed when its stream ends."""
    keys = {code: _company_check_key(connection.pk, code) for code in codes}
    remembered = cache.get_many(list(keys.values()))
    results = {code: dict(remembered[key]) for code, key in keys.items() if key in remembered}
    to_ask = [code for code in codes if code not in results]
    if not to_ask:
        return results
    provider = get_provider(connection.provider)
    streams = [to_ask[start::COMPANY_CHECK_THREADS] for start in range(COMPANY_CHECK_THREADS)]

    def ask(stream: list[str]) -> dict[str, list[dt.date] | ProviderError]:
        try:
            return provider.check_companies(connection_id=connection.pk, company_codes=stream)
        finally:
            connections.close_all()  # this thread's own database connection

    with ThreadPoolExecutor(max_workers=COMPANY_CHECK_THREADS) as pool:
        answers = [
            answer
            for stream_answers in pool.map(ask, filter(None, streams))
            for answer in stream_answers.items()
        ]
    fresh = {}
    for code, answer in answers:
        results[code] = _company_verdict(answer)
        # A refusal that may be temporary (WoW unreachable, a timeout) is never remembered.
        if not isinstance(answer, ProviderError) or answer.kind == "config":
            fresh[keys[code]] = results[code]
    cache.set_many(fresh, COMPANY_CHECK_CACHE_SECONDS)
    return results


def _judge_rows(
    upload: ClientFileImport, *, company_results: dict[str, dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """What each row will do (``actions``) or why it cannot (``problem``), against the firm's files and
    links as they are now, and WoW's answers for the company codes when ``company_results`` is given."""
    firm = upload.firm
    files = {f.file_code.lower(): f for f in ClientFile.objects.filter(firm=firm)}
    active_links = {
        link.client_file_id: link
        for link in ClientLink.objects.filter(firm=firm, unlinked_at__isnull=True).select_related(
            "client_file"
        )
    }
    linked_codes = {link.company_code.lower(): link for link in active_links.values()}
    seen_files: set[str] = set()
    seen_codes: set[str] = set()
    judged = []
    for source in upload.rows:
        row = {
            key: source[key] for key in ("line", "file_code", "name", "company_code", "sync_from", "formula")
        }
        row.update(actions=[], problem="", detail="")
        judged.append(row)
        code_key = row["file_code"].lower()
        company = row["company_code"]
        existing = files.get(code_key)

        def refuse(problem: str, detail: Any = "", row: dict[str, Any] = row) -> None:
            """``detail``: words that need no translation (a name, a code), a notice (``{"code", "params"}``)
            or a list of ISO dates, worded when read (administration/selectors.py)."""
            row["problem"], row["detail"] = problem, detail

        if row["formula"]:
            refuse("formula")
            continue
        if not row["file_code"]:
            refuse("missing_file_code")
            continue
        if code_key in seen_files:
            refuse("duplicate_file_code")
            continue
        seen_files.add(code_key)
        if len(row["file_code"]) > 50 or len(row["name"]) > 200 or len(company) > 100:
            refuse("too_long")
            continue
        if any(not ch.isprintable() for ch in row["file_code"] + row["name"] + company):
            refuse("unprintable")
            continue
        if existing is None and not row["name"]:
            refuse("missing_name")
            continue
        start = None
        if row["sync_from"]:
            try:
                start = _parse_date(row["sync_from"])
            except ValueError:
                refuse("bad_date")
                continue
            row["sync_from"] = start.isoformat() if start else ""
            if not company:
                refuse("date_without_company")
                continue
        if existing is None:
            row["actions"].append("create")
        elif row["name"] and row["name"] != existing.name:
            row["actions"].append("rename")
        if company:
            if company.lower() in seen_codes:
                refuse("duplicate_company_code")
                continue
            seen_codes.add(company.lower())
            current = active_links.get(existing.pk) if existing else None
            holder = linked_codes.get(company.lower())
            if current is not None and current.company_code.lower() != company.lower():
                refuse("file_linked_elsewhere", current.company_code)
                continue
            if holder is not None and (existing is None or holder.client_file_id != existing.pk):
                refuse(
                    "company_linked_elsewhere", f"{holder.client_file.name} ({holder.client_file.file_code})"
                )
                continue
            if current is None:
                if existing is not None and existing.archived_at is not None:
                    refuse("archived")
                    continue
                if upload.connection_id is None:
                    refuse("no_connection")
                    continue
                if company_results is not None:
                    answer = company_results.get(company, {"problem": "company_unchecked"})
                    if "problem" in answer:
                        refuse(answer["problem"], answer.get("notice") or answer.get("message", ""))
                        continue
                    if start is not None and answer["starts"] and start.isoformat() not in answer["starts"]:
                        refuse("not_a_year_start", list(answer["starts"]))
                        continue
                row["actions"].append("link")
        if not row["actions"]:
            row["actions"].append("unchanged")
    return judged


def client_file_import_check(*, import_id: int) -> ClientFileImport:
    """Judge every row, asking WoW about each new company code once (a few at a time, remembered)."""
    upload = ClientFileImport.objects.select_related("firm").get(pk=import_id)
    if upload.status != ClientFileImport.Status.CHECKING:
        return upload
    results: dict[str, dict[str, Any]] = {}
    connection = (
        Connection.objects.filter(pk=upload.connection_id, firm=upload.firm).first()
        if upload.connection_id is not None
        else None
    )
    if connection is not None and connection.is_usable:
        codes = sorted(
            {
                row["company_code"]
                for row in _judge_rows(upload, company_results=None)
                if "link" in row["actions"]
            }
        )
        results = _company_checks(connection, codes)
    elif upload.connection_id is not None:
        upload.connection_id = None  # gone or not connected: every code row says "connect first"
    upload.rows = _judge_rows(upload, company_results=results)
    upload.companies = results
    upload.status = ClientFileImport.Status.READY
    upload.checked_at = timezone.now()
    upload.save(update_fields=["rows", "companies", "status", "checked_at", "connection_id"])
    return upload


def client_file_import_fail(*, import_id: int) -> None:
    ClientFileImport.objects.filter(pk=import_id, status=ClientFileImport.Status.CHECKING).update(
        status=ClientFileImport.Status.FAILED, error_code="unexpected"
    )


def client_file_import_apply(*, upload: ClientFileImport, actor: User | None) -> dict[str, int]:
    """Create, rename and link as the preview said, in one transaction; first syncs are left to the
    dispatcher (due at once, on the scheduled queue), so a firm's 300 new files never hold the "Sync now"
    queue that every firm's people wait on."""
    if upload.status != ClientFileImport.Status.READY:
        raise ValidationError(_("This import was already done, or is still being checked."))
    if upload.checked_at is None or timezone.now() - upload.checked_at > IMPORT_PREVIEW_VALID_FOR:
        raise ValidationError(_("This preview is more than an hour old; upload the file again."))
    again = _judge_rows(upload, company_results=upload.companies)
    if [(r["actions"], r["problem"]) for r in again] != [(r["actions"], r["problem"]) for r in upload.rows]:
        raise ValidationError(
            _(
                "Client files or links changed since this preview was made; upload the file again to see "
                "what it would do now."
            )
        )
    connection = (
        Connection.objects.filter(pk=upload.connection_id, firm=upload.firm).first()
        if upload.connection_id is not None
        else None
    )
    counts = {"created": 0, "renamed": 0, "linked": 0, "skipped": 0, "unchanged": 0}
    firm = upload.firm
    now = timezone.now()
    with transaction.atomic():
        locked = ClientFileImport.objects.select_for_update().get(pk=upload.pk)
        if locked.status != ClientFileImport.Status.READY:
            raise ValidationError(_("This import was already done, or is still being checked."))
        files = {f.file_code.lower(): f for f in ClientFile.objects.filter(firm=firm)}
        for row in upload.rows:
            if row["problem"]:
                counts["skipped"] += 1
                continue
            client_file = files.get(row["file_code"].lower())
            if "create" in row["actions"]:
                client_file = client_services.client_file_create(
                    firm=firm, name=row["name"], file_code=row["file_code"]
                )
                counts["created"] += 1
            elif "rename" in row["actions"]:
                assert client_file is not None
                client_file = client_services.client_file_update(
                    client_file=client_file, name=row["name"], file_code=client_file.file_code
                )
                counts["renamed"] += 1
            if "link" in row["actions"]:
                assert client_file is not None and connection is not None
                client_link_set(
                    client_file=client_file,
                    connection=connection,
                    company_code=row["company_code"],
                    actor=actor,
                    start_date=dt.date.fromisoformat(row["sync_from"]) if row["sync_from"] else None,
                    checked_by_import=True,
                )
                counts["linked"] += 1
            if row["actions"] == ["unchanged"]:
                counts["unchanged"] += 1
        locked.status = ClientFileImport.Status.APPLIED
        locked.applied_at = now
        locked.applied_by = actor
        locked.save(update_fields=["status", "applied_at", "applied_by"])
        _audit(
            firm,
            actor,
            "files_imported",
            filename=upload.filename,
            created=counts["created"],
            renamed=counts["renamed"],
            linked=counts["linked"],
            skipped=counts["skipped"],
        )
    return counts


# --- People and invitations ---------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose one of the roles.")})
    return role


def _given_files(firm: Firm, role: str, client_files: Iterable[ClientFile]) -> list[ClientFile]:
    files = list(client_files)
    if any(f.firm_id != firm.pk for f in files):
        raise ValidationError({"client_files": _("A client file of another firm cannot be given.")})
    if role in {Role.ADMIN, Role.STAFF}:
        return []  # they see every client file; a list would only mislead
    return files


def _send_invitation(invitation: Invitation, *, token: str, accept_url: Callable[[str], str]) -> None:
    language = invitation.language or invitation.firm.default_language or translation.get_language() or "en"
    context = {
        "invitation": invitation,
        "firm": invitation.firm,
        "accept_url": accept_url(token),
        "inviter": invitation.invited_by.get_full_name() or invitation.invited_by.email
        if invitation.invited_by
        else "",
        "valid_days": INVITATION_VALID_FOR.days,
    }
    with translation.override(language):
        subject = _("You are invited to %(firm)s on Silverfin sync") % {"firm": invitation.firm.name}
        text = render_to_string("administration/email/invitation.txt", context)
        html = render_to_string("administration/email/invitation.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[invitation.email])
    message.attach_alternative(html, "text/html")
    transaction.on_commit(lambda: message.send())


def invitation_send(
    *,
    firm: Firm,
    actor: User | None,
    email: str,
    role: str,
    client_files: Iterable[ClientFile] = (),
    language: str = "",
    accept_url: Callable[[str], str],
) -> Invitation:
    """E-mail a one-time link, valid 7 days, that gives ``role`` in ``firm`` to whoever sets a password
    with it (or, for someone who already has a log-in, joins the firm with it)."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from error
    role = _clean_role(role)
    files = _given_files(firm, role, client_files)
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose one of the languages.")})
    if Membership.objects.filter(firm=firm, user__username__iexact=email).exists():
        raise ValidationError({"email": _("%(email)s is already a member of this firm.") % {"email": email}})
    open_ = Invitation.objects.filter(
        firm=firm, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if open_.filter(expires_at__gt=timezone.now()).exists():
        raise ValidationError(
            {
                "email": _("%(email)s has already been invited; re-send that invitation instead.")
                % {"email": email}
            }
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        open_.update(revoked_at=now)  # an expired invitation makes way for the new one
        invitation = Invitation.objects.create(
            firm=firm,
            email=email,
            role=role,
            language=language,
            token_hash=_token_hash(token),
            invited_by=actor,
            sent_at=now,
            expires_at=now + INVITATION_VALID_FOR,
        )
        invitation.client_files.set(files)
        _audit(firm, actor, "invited", email=email, role=role)
        _send_invitation(invitation, token=token, accept_url=accept_url)
    return invitation


def invitation_resend(
    *, invitation: Invitation, actor: User | None, accept_url: Callable[[str], str]
) -> Invitation:
    """A new link (the old one stops working), valid 7 days from now."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError(_("This invitation was already accepted or revoked."))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        invitation.token_hash = _token_hash(token)
        invitation.sent_at = now
        invitation.expires_at = now + INVITATION_VALID_FOR
        invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
        _audit(invitation.firm, actor, "invite_resent", email=invitation.email)
        _send_invitation(invitation, token=token, accept_url=accept_url)
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit(invitation.firm, actor, "invite_revoked", email=invitation.email)
    return invitation


def invitation_for_token(*, token: str) -> Invitation | None:
    """The open invitation this link's token belongs to; None for a wrong, used, revoked or expired one."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("firm")
        .filter(
            token_hash=_token_hash(token),
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


def _join(invitation: Invitation, user: User) -> Membership:
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if (
            locked.accepted_at is not None
            or locked.revoked_at is not None
            or locked.expires_at <= timezone.now()
        ):
            raise ValidationError(_("This invitation link is no longer valid; ask the firm for a new one."))
        membership = client_services.membership_set(
            firm=locked.firm, user=user, role=locked.role, client_files=locked.client_files.all()
        )
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
        if locked.language:
            client_services.profile_language_set(user=user, language=locked.language)
        _audit(locked.firm, user, "joined", email=user.email or user.username, role=locked.role)
    return membership


def invitation_accept_new_user(*, invitation: Invitation, password: str, full_name: str = "") -> User:
    """Someone without a log-in sets their password; they can log in with the invited e-mail from now on."""
    if User.objects.filter(username__iexact=invitation.email).exists():
        raise ValidationError(_("You already have a log-in: log in with it to join the firm."))
    candidate = User(username=invitation.email, email=invitation.email)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as error:
        raise ValidationError({"password1": error.messages}) from error
    with transaction.atomic():
        user = client_services.user_get_or_create(
            email=invitation.email, password=password, full_name=full_name
        )
        _join(invitation, user)
    return user


def invitation_accept_existing_user(*, invitation: Invitation, user: User) -> Membership:
    """Someone who already logs in (for another firm) joins with the same log-in."""
    if user.username.lower() != invitation.email.lower():
        raise ValidationError(
            _("This invitation is for %(email)s; log out and log in as that person to accept it.")
            % {"email": invitation.email}
        )
    return _join(invitation, user)


def _other_admins(membership: Membership) -> bool:
    return (
        Membership.objects.filter(firm_id=membership.firm_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


def membership_change(
    *, membership: Membership, actor: User | None, role: str, client_files: Iterable[ClientFile]
) -> Membership:
    """A new role and/or other files given; effective at the person's next request."""
    role = _clean_role(role)
    files = _given_files(membership.firm, role, client_files)
    with transaction.atomic():
        locked = Membership.objects.select_for_update().select_related("firm", "user").get(pk=membership.pk)
        if locked.role == Role.ADMIN and role != Role.ADMIN and not _other_admins(locked):
            raise ValidationError(
                {
                    "role": _(
                        "The firm’s last admin cannot be given another role; make someone else an admin first."
                    )
                }
            )
        old_role = locked.role
        old_files = set(locked.client_files.values_list("pk", flat=True))
        client_services.membership_set(firm=locked.firm, user=locked.user, role=role, client_files=files)
        who = locked.user.email or locked.user.username
        if old_role != role:
            _audit(locked.firm, actor, "role_changed", email=who, old_role=old_role, role=role)
        if old_files != {f.pk for f in files}:
            _audit(locked.firm, actor, "files_given", email=who, count=len(files))
    locked.refresh_from_db()
    return locked


def membership_remove(*, membership: Membership, actor: User | None) -> None:
    """The person loses all access to the firm at their next request; their log-in stays (other firms)."""
    with transaction.atomic():
        locked = Membership.objects.select_for_update().select_related("firm", "user").get(pk=membership.pk)
        if locked.role == Role.ADMIN and not _other_admins(locked):
            raise ValidationError(
                _("The firm’s last admin cannot be removed; make someone else an admin first.")
            )
        who = locked.user.email or locked.user.username
        locked.delete()
        _audit(locked.firm, actor, "removed", email=who)
