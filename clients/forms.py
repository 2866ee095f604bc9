from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from silverfin_sync.client_address import client_address

from .throttle import login_attempt_reserve, login_attempt_succeeded, password_reset_reserve


class ThrottledLoginMixin(AuthenticationForm):
    """Refuses an attempt without checking the password once its counters are over their limits."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _("Too many failed log-ins. Wait %(minutes)s minutes and try again."),
        "invalid_login": _(
            "This e-mail address and password do not match an account. The password is case-sensitive."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()  # nothing is checked without both; the form says what is missing
        # E-mails log in whatever their capitals (clients/backends.py): they count as one for the throttle too.
        reservation = login_attempt_reserve(
            username=username.strip().lower(), address=client_address(self.request)
        )
        if reservation.refused:
            raise forms.ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)},
            )
        cleaned = super().clean()  # a wrong password raises: the reserved attempt stays counted
        login_attempt_succeeded(reservation)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin):
    """Django's log-in form behind the throttle."""


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's log-in form behind the same throttle."""

    error_messages = {**AdminAuthenticationForm.error_messages, **ThrottledLoginMixin.error_messages}


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Your language"),
        required=False,
        choices=[("", _("The firm’s default")), *settings.LANGUAGES],
        help_text=_("The language of the portal’s pages, numbers and dates for you."),
    )


class FirmLanguageForm(forms.Form):
    default_language = forms.ChoiceField(
        label=_("The firm’s default language"),
        required=False,
        choices=[("", _("Each browser’s own")), *settings.LANGUAGES],
        help_text=_("For the firm’s people who have not chosen a language themselves."),
    )


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form, refused (before any mail) past the reset limits of clients/throttle.py."""

    def __init__(self, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        allowed = (
            not email
            or self.request is None
            or password_reset_reserve(email=email, address=client_address(self.request))
        )
        if not allowed:
            raise forms.ValidationError(
                _("Too many password-reset requests. Wait %(minutes)s minutes and try again."),
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)},
            )
        return cleaned
