"""English sentences stored by the worker become codes with parameters, worded when read (silverfin_sync/
notices.py). Rows written before keep their words: a sentence the product wrote word for word becomes its
code (so it reads in Dutch and French too); any other text is kept as it was, shown as written (``legacy``).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

# Sentences the product stored without parameters, and their codes.
KNOWN_TEXTS = {
    "The client file was unlinked while the sync was running.": "run.unlinked_while_running",
    "The database was briefly unavailable; the sync continues shortly.": "run.database_unavailable",
    "The sync was disconnected before this run started.": "run.cancelled_disconnected",
    "The client file was linked to another company before this run started.": "run.cancelled_relinked",
    "The client file was unlinked before this run started.": "run.cancelled_unlinked",
    "The sync stopped on an unexpected error; it has been logged for the team. The next sync starts again "
    "from where this one got to.": "run.unexpected_error",
    "WinbooksOnWeb asks us to slow down; the sync will try again shortly.": "wow.rate_limited",
    "WinbooksOnWeb could not be reached. Check the API location and try again in a few minutes.": (
        "wow.unreachable"
    ),
    "WinbooksOnWeb had a temporary problem answering; try again in a few minutes.": "wow.temporary",
    "WinbooksOnWeb no longer accepts this firm's connection (its access was revoked or has lapsed). An admin "
    "must reconnect it with a new exchange token on the Syncs tab.": "wow.access_revoked",
    "WinbooksOnWeb knows no company with this code. Copy the code from WinbooksOnWeb's company switcher, "
    "where it appears in brackets after the company name.": "wow.company_unknown",
    "This firm's WinbooksOnWeb connection needs reconnecting by an admin on the Syncs tab.": "wow.needs_reconnect",
    "Deleted in WinbooksOnWeb, but the ledger still has bookings on it, so it is kept.": "issue.deleted_but_used",
    "The document is booked in a period the ledger does not know.": "issue.unknown_period",
    "The document's journal is unknown to the ledger.": "issue.unknown_journal",
}
def _notice(text: str) -> tuple[str, dict[str, Any]]:
    if not text:
        return "", {}
    code = KNOWN_TEXTS.get(text.strip())
    return (code, {}) if code else ("legacy", {"text": text})


def forwards(apps: Any, schema_editor: Any) -> None:
    SyncRun = apps.get_model("syncs", "SyncRun")
    SyncIssue = apps.get_model("syncs", "SyncIssue")
    Connection = apps.get_model("syncs", "Connection")
    AuditEvent = apps.get_model("syncs", "AuditEvent")
    for run in SyncRun.objects.exclude(error_message="").only("pk", "error_message").iterator():
        code, params = _notice(run.error_message)
        SyncRun.objects.filter(pk=run.pk).update(error_code=code, error_params=params)
    for connection in Connection.objects.exclude(status_reason="").only("pk", "status_reason").iterator():
        code, params = _notice(connection.status_reason)
        Connection.objects.filter(pk=connection.pk).update(status_reason_code=code, status_reason_params=params)
    for issue in SyncIssue.objects.only("pk", "problem", "hint").iterator():
        code, params = _notice(issue.problem)
        if code == "legacy" or not code:
            code, params = "legacy", {"text": issue.problem, "hint": issue.hint}
        SyncIssue.objects.filter(pk=issue.pk).update(code=code, params=params)
    for event in AuditEvent.objects.only("pk", "summary").iterator():
        AuditEvent.objects.filter(pk=event.pk).update(parameters={"text": event.summary})


def backwards(apps: Any, schema_editor: Any) -> None:
    """Back to stored sentences: in English, as the earlier release wrote them."""
    from django.utils import translation

    from silverfin_sync.notices import render, render_hint

    SyncRun = apps.get_model("syncs", "SyncRun")
    SyncIssue = apps.get_model("syncs", "SyncIssue")
    Connection = apps.get_model("syncs", "Connection")
    AuditEvent = apps.get_model("syncs", "AuditEvent")
    with translation.override("en"):
        for run in SyncRun.objects.exclude(error_code="").iterator():
            SyncRun.objects.filter(pk=run.pk).update(error_message=render(run.error_code, run.error_params))
        for connection in Connection.objects.exclude(status_reason_code="").iterator():
            Connection.objects.filter(pk=connection.pk).update(
                status_reason=render(connection.status_reason_code, connection.status_reason_params)[:500]
            )
        for issue in SyncIssue.objects.iterator():
            SyncIssue.objects.filter(pk=issue.pk).update(
                problem=render(issue.code, issue.params)[:500], hint=render_hint(issue.code, issue.params)[:500]
            )
        for event in AuditEvent.objects.iterator():
            parameters = event.parameters
            summary = parameters["text"] if list(parameters) == ["text"] else render(f"audit.{event.action}", parameters)
            AuditEvent.objects.filter(pk=event.pk).update(summary=summary[:500])


class Migration(migrations.Migration):
    dependencies = [("syncs", "0003_audit_schedule_changed")]

    operations = [
        migrations.AddField(
            model_name="connection", name="status_reason_code", field=models.CharField(blank=True, max_length=60)
        ),
        migrations.AddField(
            model_name="connection",
            name="status_reason_params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(model_name="syncrun", name="error_code", field=models.CharField(blank=True, max_length=60)),
        migrations.AddField(
            model_name="syncrun", name="error_params", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.AddField(
            model_name="syncissue", name="code", field=models.CharField(default="legacy", max_length=60), preserve_default=False
        ),
        migrations.AddField(model_name="syncissue", name="params", field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="auditevent", name="parameters", field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(
            model_name="syncissue", name="problem", field=models.CharField(blank=True, max_length=500)
        ),
        migrations.AlterField(
            model_name="auditevent", name="summary", field=models.CharField(blank=True, max_length=500)
        ),
        migrations.RunPython(forwards, backwards),
    ]
