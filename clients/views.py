"""Thin views: check access, read through selectors, render."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .access import Action, require_firm
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
