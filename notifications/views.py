"""A person's notification settings for one firm. Thin: access, form, one service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from clients.access import Action, require_firm
from clients.models import Role

from . import selectors, services
from .forms import NotificationSettingsForm


@login_required
def notification_settings(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.VIEW_FIRM)
    is_admin = access.membership.role == Role.ADMIN
    form = NotificationSettingsForm(
        request.POST or None, initial=selectors.effective_choices(membership=access.membership)
    )
    if not is_admin:
        del form.fields["reconnect_alerts"]
    if not access.may(Action.ACCEPT_CHANGES):
        del form.fields["closed_period_alerts"]
    if request.method == "POST" and form.is_valid():
        services.notification_settings_set(
            membership=access.membership,
            daily_digest=form.cleaned_data["daily_digest"],
            reconnect_alerts=form.cleaned_data.get("reconnect_alerts", False),
            closed_period_alerts=form.cleaned_data.get("closed_period_alerts", False),
        )
        messages.success(request, _("Your notification settings are saved."))
        return redirect("notification_settings", firm_slug=access.firm.slug)
    return render(
        request,
        "notifications/settings.html",
        {
            "access": access,
            "firm": access.firm,
            "active_tab": "client_files",
            "can_view_syncs": access.may(Action.VIEW_SYNCS),
            "form": form,
            "email": access.membership.user.email,
        },
    )
