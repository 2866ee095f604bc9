"""Thin views: check access, read through selectors, render."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .access import Action, require_client_file, require_firm
from .forms import ThrottledAuthenticationForm
from .models import Role
from .selectors import client_file_list_visible, membership_list_for_user


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their firm; list firms when there are several."""
    assert request.user.is_authenticated  # login_required
    memberships = [m for m in membership_list_for_user(user=request.user) if m.role != Role.PULSE]
    if len(memberships) == 1:
        return redirect("firm_overview", firm_slug=memberships[0].firm.slug)
    return render(request, "clients/home.html", {"memberships": memberships})


@login_required
def firm_overview(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.VIEW_FIRM)
    return render(
        request,
        "clients/firm_overview.html",
        {
            "access": access,
            "firm": access.firm,
            "active_tab": "client_files",
            "client_files": client_file_list_visible(access=access),
            "can_view_syncs": access.may(Action.VIEW_SYNCS),
        },
    )


@login_required
def client_file_detail(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.VIEW_CLIENT_FILE
    )
    return render(
        request,
        "clients/client_file_detail.html",
        {
            "access": access,
            "firm": access.firm,
            "client_file": client_file,
            "active_tab": "client_files",
            "can_view_syncs": access.may(Action.VIEW_SYNCS),
            "can_link": access.may(Action.LINK_CLIENT_FILE),
        },
    )
