"""Who wants which e-mails, and which e-mails went out (so none goes out twice for the same cause)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clients.models import Firm


class NotificationSetting(models.Model):
    """A person's choices for one firm. ``None`` is the role's default: the daily digest and the reconnect
    alert are on for admins, off for everyone else (the reconnect alert goes to admins only)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    daily_digest = models.BooleanField(null=True)
    reconnect_alerts = models.BooleanField(null=True)
    # Opt-in, for those who may accept the changes (admins and staff): a mail when changes reach closed books.
    closed_period_alerts = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "firm"], name="one_notification_setting_per_user_and_firm"
            )
        ]

    def __str__(self) -> str:
        return f"Notifications of {self.user} in {self.firm}"


class SentNotification(models.Model):
    """One e-mail sent (or being sent) for one cause on one day. The unique constraint is the storm guard:
    whatever fails how many times, a firm gets at most one mail per cause per day."""

    class Kind(models.TextChoices):
        NEEDS_RECONNECT = "needs_reconnect", _("A sync needs reconnecting")
        DAILY_DIGEST = "daily_digest", _("Daily digest")
        CLOSED_PERIOD_CHANGES = "closed_changes", _("Changes reached closed periods")

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What the cause is about: the connection's id for a reconnect alert, the recipient's id for a digest,
    # the change alert's id for changes in closed periods.
    subject_id = models.BigIntegerField()
    day = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.IntegerField(default=0)
    files = models.IntegerField(default=0)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "kind", "subject_id", "day"], name="one_mail_per_firm_cause_and_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.firm} on {self.day}"
