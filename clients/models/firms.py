"""Firms, memberships with roles, and client files.

A user reaches a firm only through a ``Membership``; every query of the portal starts from the firm the
membership grants, so no user can name their way into another firm's objects.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Firm(models.Model):
    """An accounting firm: the tenant. Everything else belongs to exactly one firm."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in URLs and operator commands.")
    # The language of its people who chose none; blank: each browser's own.
    default_language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)
    # Admins always manage client files; staff contributors too when the firm says so (Silverfin's
    # "add files" right is the firm's choice).
    staff_manage_client_files = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    STAFF = "staff", _("Staff contributor")
    EXTERNAL = "external", _("External contributor")
    PULSE = "pulse", _("Pulse user")


class ClientFile(models.Model):
    """The firm's file on one client company; its ledger is kept in step with the client's books."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="client_files")
    name = models.CharField(max_length=200)
    file_code = models.CharField(
        max_length=50, help_text="The firm's own reference for this client, unique within the firm."
    )
    # Archived: no sync runs, out of the overview's default list; the ledger and history stay readable.
    archived_at = models.DateTimeField(null=True, blank=True)
    # The books are closed up to this period end: syncs still write what WoW says, and every change in a
    # closed period opens a change alert for a person to accept (syncs/locks.py).
    books_locked_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "file_code"], name="client_file_code_unique_per_firm"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.file_code})"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Membership(models.Model):
    """A user's place in a firm, with one role.

    External contributors and Pulse users work only on the client files listed in ``client_files``;
    admins and staff contributors see every client file of the firm.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    client_files = models.ManyToManyField(
        ClientFile,
        blank=True,
        related_name="granted_memberships",
        help_text="For external contributors and Pulse users: the client files they are given.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["firm", "user", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "firm"], name="one_membership_per_user_and_firm"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.firm} ({self.get_role_display()})"

    @property
    def sees_all_client_files(self) -> bool:
        return self.role in {Role.ADMIN, Role.STAFF}


class Profile(models.Model):
    """What a person chose for themselves: for now, the language of the portal (blank: the firm's default)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"
