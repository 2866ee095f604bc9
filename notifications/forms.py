from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class NotificationSettingsForm(forms.Form):
    daily_digest = forms.BooleanField(
        label=_("Daily digest"),
        required=False,
        help_text=_(
            "Once a day, the client files whose sync failed or has issues since the last digest, grouped by "
            "cause. Nothing is sent when everything is in step."
        ),
    )
    reconnect_alerts = forms.BooleanField(
        label=_("When a sync needs reconnecting"),
        required=False,
        help_text=_("One e-mail naming the client files it leaves unsynced, with a link to reconnect it."),
    )
    closed_period_alerts = forms.BooleanField(
        label=_("When a sync changes closed periods"),
        required=False,
        help_text=_(
            "One e-mail when changes made in WinbooksOnWeb reach a client file's closed periods, with the net "
            "effect per period and a link to the changes to accept. Off unless you turn it on."
        ),
    )
