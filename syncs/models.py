"""Firm-level syncs (connections), client links, sync runs and their issues, cursors, and the audit log."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

import winbooks
from clients.models import ClientFile, Firm, Period
from silverfin_sync.crypto import EncryptedTextField
from silverfin_sync.notices import Notice, render, render_hint

WINBOOKS_DEFAULT_API_URL = winbooks.DEFAULT_API_URL  # the WoW client knows where WoW is


class ErrorKind(models.TextChoices):
    """What went wrong, by who can fix it: a provider's error (``syncs.providers.base.ProviderError``) has
    one of the first four, and a run that failed or waits to retry records its kind (``SyncRun.error_class``).
    How each is handled: syncs/providers/base.py."""

    ACCESS = "access", _("Access refused")  # the firm's connection: an admin reconnects
    CONFIG = "config", _("Set-up to fix")  # this client file's link, or what was asked of the package
    TRANSIENT = "transient", _("Temporary problem")  # retried with backoff
    DATA = "data", _("Unreadable data")  # what the package sent cannot be taken in
    # A run's only: it stopped on an unexpected error (a bug, logged for the team), never a provider's.
    INTERNAL = "internal", _("Unexpected error")


class Provider(models.TextChoices):
    WINBOOKS = "winbooks", "WinbooksOnWeb"


# The encrypted columns of a connection. Pages and lists never load them (the default manager defers them, and
# a join through a link defers them with ``CONNECTION_SECRETS_VIA_LINK``): a wrong encryption key then breaks
# only what needs a secret (a sync), and an admin can still see the Syncs tab and reconnect.
CONNECTION_SECRET_FIELDS = ("email", "access_token", "refresh_token")
CONNECTION_SECRETS_VIA_LINK = tuple(f"connection__{name}" for name in CONNECTION_SECRET_FIELDS)


class ConnectionManager(models.Manager["Connection"]):
    def get_queryset(self) -> models.QuerySet[Connection]:
        # Read on first access (through the base manager, which loads every column) where a secret is needed.
        return super().get_queryset().defer(*CONNECTION_SECRET_FIELDS)

    def with_secrets(self) -> models.QuerySet[Connection]:
        """Connections with their secrets read (and decrypted) at once, as they are at that moment."""
        return super().get_queryset()


class Connection(models.Model):
    """A firm's connection to a bookkeeping package (what the Syncs tab lists as a "sync").

    The credentials are the firm's, shared by every client file linked to it: the e-mail and tokens are
    stored encrypted and never leave the server. ``status`` is the connection's health: a refused refresh
    marks it ``needs_reconnect`` once, and no run uses it until an admin reconnects.
    """

    class Status(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnecting")
        DISCONNECTED = "disconnected", _("Disconnected")

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.WINBOOKS)
    api_url = models.URLField(default=WINBOOKS_DEFAULT_API_URL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    # Why it needs reconnecting, as a notice (silverfin_sync/notices.py): worded in the reader's language.
    status_reason_code = models.CharField(max_length=60, blank=True)
    status_reason_params = models.JSONField(default=dict, blank=True)
    status_changed_at = models.DateTimeField(null=True)

    # Secrets: encrypted at rest (MultiFernet), never rendered, logged or shown in the admin.
    email = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True)

    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(null=True)
    nightly_sync_time = models.TimeField(
        default=dt.time(2, 0), help_text="When linked client files sync each night (the firm's time zone)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConnectionManager()

    class Meta:
        ordering = ["firm", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "name"],
                condition=~Q(status="disconnected"),
                name="connection_name_unique_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.CONNECTED

    @property
    def status_reason(self) -> str:
        return render(self.status_reason_code, self.status_reason_params) if self.status_reason_code else ""


class ClientLink(models.Model):
    """A client file linked to a connection by the package's company code (WoW's folder code).

    A client file has at most one active link; a company code is linked to at most one client file of the
    firm. Unlinking keeps the row (``unlinked_at``) so the history of runs stays readable.
    """

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    client_file = models.ForeignKey(ClientFile, on_delete=models.CASCADE, related_name="links")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="links")
    company_code = models.CharField(max_length=100)
    start_date = models.DateField(
        null=True, blank=True, help_text="Optional: sync nothing booked before this fiscal-year start."
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(auto_now_add=True)
    unlinked_at = models.DateTimeField(null=True)
    # Neither this nor latest_run is indexed: the dispatcher rewrites both on every due link each night, and
    # unindexed they are rewritten in place (HOT, with the table's fillfactor, migration 0012); the due links
    # are read by a scan of the links (docs/architecture.md, "The dispatcher writes a night in three
    # statements").
    next_sync_at = models.DateTimeField(null=True)
    last_success_at = models.DateTimeField(null=True)
    # The link's newest run, kept by the database itself (a trigger on every new run, migration 0009), so
    # the overview reads every file's state with joins instead of a subquery per file and per use.
    latest_run = models.ForeignKey(
        "SyncRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        ordering = ["client_file", "-linked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_file"],
                condition=Q(unlinked_at__isnull=True),
                name="one_active_link_per_client_file",
            ),
            models.UniqueConstraint(
                fields=["firm", "company_code"],
                condition=Q(unlinked_at__isnull=True),
                name="company_code_linked_once_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_file} → {self.company_code}"

    @property
    def is_active(self) -> bool:
        return self.unlinked_at is None


class SyncCursor(models.Model):
    """How far one stream of a link has been read: the last (Modified, Id) written to the ledger."""

    link = models.ForeignKey(ClientLink, on_delete=models.CASCADE, related_name="cursors")
    stream = models.CharField(max_length=40)
    modified = models.DateTimeField(null=True)
    last_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["link", "stream"]
        constraints = [models.UniqueConstraint(fields=["link", "stream"], name="one_cursor_per_link_stream")]

    def __str__(self) -> str:
        return f"{self.stream} of {self.link} at {self.modified}"


class SyncRun(models.Model):
    """One sync of one link: who asked, what it did, how it ended, and whether the books tie out."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Sync now")
        FIRST_LINK = "first_link", _("First sync after linking")

    class Status(models.TextChoices):
        # A sync (feminine in French: "réussie", "échouée").
        QUEUED = "queued", pgettext_lazy("sync run status", "Queued")
        RUNNING = "running", pgettext_lazy("sync run status", "Running")
        SUCCEEDED = "succeeded", pgettext_lazy("sync run status", "Succeeded")
        SUCCEEDED_WITH_ISSUES = (
            "succeeded_with_issues",
            pgettext_lazy("sync run status", "Succeeded with issues"),
        )
        FAILED = "failed", pgettext_lazy("sync run status", "Failed")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    link = models.ForeignKey(ClientLink, on_delete=models.CASCADE, related_name="runs")
    client_file = models.ForeignKey(ClientFile, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.QUEUED)
    attempt = models.IntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    # The claim: who runs it (one token per claim) and until when, unless the heartbeat renews it. Another
    # worker takes the run over only once both the heartbeat is stale and the lease has expired; every write
    # of the run is made on the condition that it still holds the claim (syncs/liveness.py).
    claimed_by = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True)
    # Not to be started before this (a long Retry-After from WoW): the dispatcher sends it then.
    not_before = models.DateTimeField(null=True)

    # Progress while it runs: {"stream": "entries", "pages": 3, "records": 1500, "streams_done": 5, ...}
    progress = models.JSONField(default=dict)
    # Per entity: {"entries": {"created": 10, "updated": 2, "deleted": 1, "unchanged": 0}, ...}
    counts = models.JSONField(default=dict)
    api_calls = models.IntegerField(default=0)
    api_calls_by_kind = models.JSONField(default=dict)
    error_class = models.CharField(max_length=30, blank=True, choices=ErrorKind.choices)
    # How it failed (or why it waits), as a notice (silverfin_sync/notices.py): worded when read.
    error_code = models.CharField(max_length=60, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    reconciled = models.BooleanField(
        null=True, help_text="Every checked period ties out with WoW's own sums."
    )

    class Meta:
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["link"], condition=Q(status__in=["queued", "running"]), name="one_active_run_per_link"
            ),
        ]
        indexes = [
            models.Index(fields=["client_file", "-queued_at"]),
            # The few active runs among millions: the dispatcher's forgotten and stale runs, the claim's count
            # of a firm's running syncs.
            models.Index(
                fields=["status", "queued_at"],
                condition=Q(status__in=["queued", "running"]),
                name="active_runs",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.link} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def error_message(self) -> str:
        """The run's error in the reader's language ("" when it has none)."""
        return render(self.error_code, self.error_params) if self.error_code else ""

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class SyncIssue(models.Model):
    """Something a run could not take in as it is: a record quarantined, an account still in use, ..."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="issues")
    entity = models.CharField(max_length=40)
    wow_id = models.CharField(max_length=64, blank=True)
    reference = models.CharField(
        max_length=200, blank=True, help_text="What a user recognises: a code, a number."
    )
    # What is wrong, as a notice (silverfin_sync/notices.py); the problem and what to do about it are
    # worded in the reader's language.
    code = models.CharField(max_length=60)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "pk"]

    def __str__(self) -> str:
        return f"{self.entity} {self.reference}: {self.problem}"

    @property
    def problem(self) -> str:
        return render(self.code, self.params)

    @property
    def hint(self) -> str:
        return render_hint(self.code, self.params)


class PeriodCheck(models.Model):
    """A run's proof for one period: the ledger's trial balance against WoW's own per-account sums."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="period_checks")
    period = models.ForeignKey(Period, null=True, on_delete=models.SET_NULL, related_name="+")
    period_key = models.CharField(max_length=20)
    ties_out = models.BooleanField()
    healed = models.BooleanField(default=False, help_text="Fetched again whole after a first mismatch.")
    line_count = models.IntegerField(default=0)
    # [{"account": "700000", "ledger": "-1000.00", "wow": "-1100.00", "difference": "100.00"}, ...]
    differences = models.JSONField(default=list)

    class Meta:
        ordering = ["run", "period_key"]

    def __str__(self) -> str:
        return f"{self.period_key}: {'ties out' if self.ties_out else 'does not tie out'}"


class AuditEvent(models.Model):
    """Who connected, reconnected, disconnected, linked, relinked or unlinked what, and when."""

    class Action(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        RECONNECTED = "reconnected", _("Reconnected")
        DISCONNECTED = "disconnected", _("Disconnected")
        NEEDS_RECONNECT = "needs_reconnect", _("Marked as needing reconnection")
        LINKED = "linked", _("Linked")
        RELINKED = "relinked", _("Relinked")
        UNLINKED = "unlinked", _("Unlinked")
        SCHEDULE_CHANGED = "schedule_changed", _("Changed the nightly sync time")
        START_DATE_CHANGED = "start_date_changed", _("Changed “Do not sync before”")
        BOOKS_LOCKED = "books_locked", _("Closed the books")
        BOOKS_UNLOCKED = "books_unlocked", _("Reopened the books")
        ALERT_ACCEPTED = "alert_accepted", _("Accepted changes in closed periods")
        # The firm's administration (administration/): client files and people.
        FILE_ADDED = "file_added", _("Client file added")
        FILE_EDITED = "file_edited", _("Client file edited")
        FILE_ARCHIVED = "file_archived", _("Client file archived")
        FILE_UNARCHIVED = "file_unarchived", _("Client file unarchived")
        FILES_IMPORTED = "files_imported", _("Client files imported")
        FILE_RIGHTS = "file_rights", _("Who may manage client files")
        INVITED = "invited", _("Invited")
        INVITE_RESENT = "invite_resent", _("Invitation re-sent")
        INVITE_REVOKED = "invite_revoked", _("Invitation revoked")
        JOINED = "joined", _("Joined")
        ROLE_CHANGED = "role_changed", _("Role changed")
        FILES_GIVEN = "files_given", _("Client files given")
        REMOVED = "removed", _("Removed from the firm")

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    connection = models.ForeignKey(Connection, null=True, on_delete=models.SET_NULL, related_name="+")
    client_file = models.ForeignKey(ClientFile, null=True, on_delete=models.SET_NULL, related_name="+")
    # The names the summary needs, as they were at the time (a sync or client file may be renamed since);
    # the summary is worded from the action and these, in the reader's language.
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["firm", "-created_at"])]

    def __str__(self) -> str:
        return self.summary

    @property
    def summary(self) -> str:
        if "text" in self.parameters and len(self.parameters) == 1:
            return str(self.parameters["text"])  # written before summaries were worded when read
        return render(f"audit.{self.action}", self.parameters)


def notice_fields(prefix: str, notice: Notice | None) -> dict[str, object]:
    """The two columns a notice is stored in, e.g. ``error_code`` and ``error_params``."""
    if notice is None:
        return {f"{prefix}_code": "", f"{prefix}_params": {}}
    return {f"{prefix}_code": notice.code, f"{prefix}_params": notice.params}


class LockedBalance(models.Model):
    """An account's movement in a closed period: as it was when the books were locked, and as last
    accepted. A sync that leaves the current movement different from the accepted one opens an alert."""

    client_file = models.ForeignKey(ClientFile, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("clients.Account", on_delete=models.CASCADE, related_name="+")
    locked_debit = models.DecimalField(max_digits=19, decimal_places=4)
    locked_credit = models.DecimalField(max_digits=19, decimal_places=4)
    locked_closing = models.DecimalField(max_digits=19, decimal_places=4)
    # debit − credit in the period, as the firm last accepted it (at lock time, then at each acceptance)
    accepted_net = models.DecimalField(max_digits=19, decimal_places=4)
    locked_at = models.DateTimeField()

    class Meta:
        ordering = ["period", "account"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "account"], name="one_locked_balance_per_period_account"
            )
        ]
        indexes = [models.Index(fields=["client_file", "period"])]

    def __str__(self) -> str:
        return f"Locked balance of account {self.account_id} in period {self.period_id}"


class ChangeAlert(models.Model):
    """What syncs changed in a client file's closed periods, open until a person accepts it. Runs before
    anyone looks add to the one open alert: per (period, account) the first "before" and the latest
    "after"; a change back to the accepted figure closes its line."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")

    client_file = models.ForeignKey(ClientFile, on_delete=models.CASCADE, related_name="change_alerts")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    runs = models.ManyToManyField(SyncRun, related_name="change_alerts", blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_file"], condition=Q(status="open"), name="one_open_change_alert_per_file"
            )
        ]

    def __str__(self) -> str:
        return f"Change alert {self.pk} of {self.client_file}"


class ChangeAlertLine(models.Model):
    """One account in one closed period: its movement (debit − credit) accepted, and now."""

    alert = models.ForeignKey(ChangeAlert, on_delete=models.CASCADE, related_name="lines")
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("clients.Account", on_delete=models.CASCADE, related_name="+")
    before = models.DecimalField(max_digits=19, decimal_places=4)
    after = models.DecimalField(max_digits=19, decimal_places=4)

    class Meta:
        ordering = ["period__year", "period__number", "account__number"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "period", "account"], name="one_alert_line_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.period_id}: {self.before} -> {self.after}"

    @property
    def difference(self) -> Decimal:
        return self.after - self.before


class ChangeAlertItem(models.Model):
    """What a run did in a closed period: a document added, changed or removed (with its lines before and
    after), or an account renamed."""

    class Kind(models.TextChoices):
        ADDED = "added", _("Added")
        CHANGED = "changed", _("Changed")
        REMOVED = "removed", _("Removed")
        RENAMED = "renamed", _("Account renamed")

    alert = models.ForeignKey(ChangeAlert, on_delete=models.CASCADE, related_name="items")
    run = models.ForeignKey(SyncRun, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    wow_id = models.UUIDField()
    label = models.CharField(max_length=200, blank=True)  # document number, or account number
    book_date = models.DateField(null=True, blank=True)
    # [{"period": "2024-03", "account": "700000", "amount": "-100.0000", "description": ...}] or names
    before = models.JSONField(default=list, blank=True)
    after = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}"
