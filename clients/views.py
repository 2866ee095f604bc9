"""Thin views: check access, read through selectors, render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .access import Action, require_firm
from .forms import FirmLanguageForm, LanguageForm, ThrottledAuthenticationForm, ThrottledPasswordResetForm
from .models import Profile, Role
from .selectors import membership_list_for_user, user_language
from .services import firm_default_language_set, profile_language_set


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page behind the reset throttle (the form needs the request for the client address)."""

    form_class = ThrottledPasswordResetForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


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


def _remember_language(response: HttpResponse, language: str) -> HttpResponse:
    """The language cookie: the browser's choice before log-in, and after log-out."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header's switcher: the signed-in user's own language, remembered on their profile; before
    log-in, in the browser."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = ""
    if request.user.is_authenticated and language:
        profile_language_set(user=request.user, language=language)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home")
    return _remember_language(HttpResponseRedirect(target), language)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's language, and for each firm they administer, the firm's default language."""
    assert request.user.is_authenticated  # login_required
    admin_firms = [m.firm for m in membership_list_for_user(user=request.user) if m.role == Role.ADMIN]
    own = Profile.objects.filter(user=request.user).values_list("language", flat=True).first() or ""
    form = LanguageForm(initial={"language": own})
    if request.method == "POST" and "default_language" in request.POST:
        firm = next((f for f in admin_firms if f.slug == request.POST.get("firm")), None)
        if firm is None:
            require_firm(request.user, request.POST.get("firm", ""), Action.MANAGE_FIRM)
        firm_form = FirmLanguageForm(request.POST)
        if firm is not None and firm_form.is_valid():
            firm_default_language_set(firm=firm, language=firm_form.cleaned_data["default_language"])
            messages.success(request, _("The firm’s default language is saved."))
            return redirect("profile")
    elif request.method == "POST":
        form = LanguageForm(request.POST)
        if form.is_valid():
            language = form.cleaned_data["language"]
            profile_language_set(user=request.user, language=language)
            # The confirmation in the language just chosen (or what it now resolves to).
            translation.activate(
                user_language(user=request.user)
                or translation.get_language_from_request(request, check_path=False)
            )
            messages.success(request, _("Your language is saved."))
            return _remember_language(redirect("profile"), language)
    firm_forms = [
        (firm, FirmLanguageForm(initial={"default_language": firm.default_language})) for firm in admin_firms
    ]
    return render(request, "clients/profile.html", {"form": form, "firm_forms": firm_forms})
