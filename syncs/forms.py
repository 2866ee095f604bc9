from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clients.models import Firm

from .models import WINBOOKS_DEFAULT_API_URL, Connection
from .selectors import connection_choices_for_linking
from .services import EXCHANGE_TOKEN_MISSING, MAX_EXCHANGE_TOKEN_LENGTH


class ConnectWinbooksForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        initial="WinbooksOnWeb",
        help_text=_("How this sync is called on the Syncs tab."),
    )
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        help_text=_("The e-mail address entered in WinbooksOnWeb when the token was created."),
    )
    exchange_token = forms.CharField(
        label=_("Exchange token"),
        max_length=MAX_EXCHANGE_TOKEN_LENGTH,
        strip=True,
        error_messages={"required": EXCHANGE_TOKEN_MISSING},
        # Never sent back to the browser, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("The token WinbooksOnWeb sent by e-mail. It works once."),
    )
    api_url = forms.CharField(
        label=_("API location"),
        max_length=200,
        required=False,
        initial=WINBOOKS_DEFAULT_API_URL,
        help_text=_("Leave as it is unless WinbooksOnWeb's e-mail gives another API location."),
    )


class ReconnectForm(forms.Form):
    email = ConnectWinbooksForm.base_fields["email"]
    exchange_token = ConnectWinbooksForm.base_fields["exchange_token"]


class LinkForm(forms.Form):
    connection = forms.ModelChoiceField(queryset=Connection.objects.none(), label=_("Sync"), empty_label=None)
    company_code = forms.CharField(
        label=_("WinbooksOnWeb company code"),
        max_length=100,
        error_messages={"required": _("Enter the WinbooksOnWeb company code.")},
        help_text=_(
            "In WinbooksOnWeb's company switcher, the code in brackets after the company name, exactly as "
            "written there: capitals matter."
        ),
    )
    start_date = forms.DateField(
        label=_("Do not sync before (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # the format a date input reads
        help_text=_("The first day of a fiscal year; earlier years are left out."),
    )

    def __init__(self, *args: Any, firm: Firm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this firm's connected syncs can be chosen: another firm's id fails validation.
        field = self.fields["connection"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = connection_choices_for_linking(firm=firm)
        field.label_from_instance = lambda connection: connection.name  # type: ignore[method-assign,assignment]


class ScheduleForm(forms.Form):
    nightly_sync_time = forms.TimeField(
        label=_("Nightly sync at"),
        input_formats=["%H:%M", "%H:%M:%S"],
        error_messages={
            "required": _("Enter the time of the nightly sync, e.g. 02:30."),
            "invalid": _("Enter the time of the nightly sync as hours and minutes, e.g. 02:30."),
        },
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
