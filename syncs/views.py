"""Views of the firm's Syncs tab."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients.access import Action, require_firm


@login_required
def syncs_tab(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.VIEW_SYNCS)
    return render(
        request,
        "syncs/syncs_tab.html",
        {
            "access": access,
            "firm": access.firm,
            "active_tab": "syncs",
            "can_view_syncs": True,
            "can_manage": access.may(Action.MANAGE_SYNCS),
        },
    )
