"""The Django admin for operators. Secrets are never shown: the encrypted fields are excluded from every
form and list, so not even a superuser reads a token here."""

from django.contrib import admin
from django.db import models

from .models import AuditEvent, ClientLink, Connection, SyncIssue, SyncRun

SECRET_FIELDS = ("email", "access_token", "refresh_token")


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "firm", "provider", "status", "connected_at"]
    list_filter = ["status", "provider"]
    search_fields = ["name", "firm__name"]
    exclude = SECRET_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # The API location is where the firm's tokens are sent: it is set by connecting (checked against the
    # allowed WoW hosts), never by editing the row here.
    readonly_fields = [
        "api_url",
        "access_token_expires_at",
        "connected_by",
        "connected_at",
        "status_changed_at",
    ]


@admin.register(ClientLink)
class ClientLinkAdmin(admin.ModelAdmin):
    list_display = [
        "client_file",
        "company_code",
        "connection",
        "linked_at",
        "unlinked_at",
        "last_success_at",
    ]
    list_filter = ["connection__firm"]
    search_fields = ["company_code", "client_file__name"]


class SyncIssueInline(admin.TabularInline):
    model = SyncIssue
    extra = 0
    readonly_fields = ["entity", "wow_id", "reference", "problem", "hint"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "client_file",
        "trigger",
        "status",
        "queued_at",
        "finished_at",
        "api_calls",
        "reconciled",
    ]
    list_filter = ["status", "trigger"]
    inlines = [SyncIssueInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "firm", "actor", "action", "summary"]
    list_filter = ["action"]
