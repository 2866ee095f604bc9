"""What a firm's admins do in the browser that needs its own rows: invitations and spreadsheet imports.

Client files, memberships and roles stay in ``clients``; links and the audit log in ``syncs``. This app
orchestrates both, the way ``syncs`` builds on ``clients``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import ClientFile, Firm, Role


class Invitation(models.Model):
    """An e-mailed, one-time link that gives its holder a role in a firm.

    Only a hash of the link's token is stored: a database read does not hand out log-ins. Re-sending makes
    a new token (the old link stops working) and a new expiry.
    """

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    client_files = models.ManyToManyField(ClientFile, blank=True, related_name="+")
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_firm_and_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.firm}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def is_expired(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at <= timezone.now()


class ClientFileImport(models.Model):
    """One uploaded spreadsheet of client files: its rows, what each will do, and whether it was applied.

    The rows are checked (against WoW for company codes) in a worker, so no web request waits on WoW; the
    admin reads the preview and confirms; nothing is written to client files or links before that.
    """

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        READY = "ready", _("Ready to import")
        APPLIED = "applied", _("Imported")
        FAILED = "failed", _("Could not be checked")

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="client_file_imports")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CHECKING)
    # The connection whose companies the codes are checked against (null: no code to check, or no sync).
    connection_id = models.IntegerField(null=True, blank=True)
    # One dict per data row: line, file_code, name, company_code, sync_from, outcome, problem (a code).
    rows = models.JSONField(default=list)
    # WoW's answer per company code at check time; the confirmation judges the rows again with these, so
    # only a change in the firm's own files and links since the preview can make it refuse.
    companies = models.JSONField(default=dict)
    error_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Import {self.filename} for {self.firm}"
