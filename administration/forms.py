from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clients.models import ClientFile, Firm, Role
from syncs.models import Connection


class ClientFileForm(forms.Form):
    name = forms.CharField(label=_("Client name"), max_length=200)
    file_code = forms.CharField(
        label=_("File code"), max_length=50, help_text=_("The firm’s own reference for this client.")
    )


class ClientFileAddForm(ClientFileForm):
    company_code = forms.CharField(
        label=_("WinbooksOnWeb company code"),
        max_length=100,
        required=False,
        help_text=_("Optional: link the file now and start its first sync."),
    )
    start_date = forms.DateField(
        label=_("Do not sync before"),
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional: the first day of the first fiscal year to sync."),
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet"),
        help_text=_(
            "A CSV file or an Excel workbook whose first line names the columns: file code, name, and "
            "optionally company code and sync from (31/12/2024 or 2024-12-31)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    connection = forms.ModelChoiceField(
        label=_("Check company codes against"),
        queryset=Connection.objects.none(),
        required=False,
        empty_label=None,
    )

    def __init__(self, *args: Any, firm: Firm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        syncs = Connection.objects.filter(firm=firm, status=Connection.Status.CONNECTED).order_by("name")
        field = self.fields["connection"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = syncs
        self._only_sync = syncs.first() if syncs.count() == 1 else None
        if syncs.count() <= 1:
            field.widget = forms.HiddenInput()

    def clean_connection(self) -> Connection | None:
        # With one working sync there is nothing to choose: its companies are the ones checked.
        return self.cleaned_data.get("connection") or self._only_sync


def _role_choices() -> list[tuple[str, Any]]:
    return [(role.value, role.label) for role in Role]


class _FilesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.file_code})"


class PersonAccessForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)
    client_files = _FilesField(
        label=_("Client files given"),
        queryset=ClientFile.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For external contributors and Pulse users; admins and staff see every client file."),
    )

    def __init__(self, *args: Any, firm: Firm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["client_files"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = ClientFile.objects.filter(firm=firm, archived_at__isnull=True).order_by("name", "pk")


class InviteForm(PersonAccessForm):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("The firm’s default")), *settings.LANGUAGES],
    )
    field_order = ["email", "role", "client_files", "language"]


class AcceptForm(forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )
    password2 = forms.CharField(
        label=_("Password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class FileRightsForm(forms.Form):
    staff_manage_client_files = forms.BooleanField(
        label=_("Staff contributors may add, edit, archive and import client files"), required=False
    )
