"""The firm's administration in the browser: client files, the spreadsheet import, people and
invitations. Thin: access check, form, one service, redirect or render."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from clients.access import Action, FirmAccess, require_client_file, require_firm
from clients.models import Membership, Role
from silverfin_sync.view_helpers import add_service_errors, signed_in_user
from syncs.models import Connection

from . import selectors, services
from .forms import (
    AcceptForm,
    ClientFileAddForm,
    ClientFileForm,
    FileRightsForm,
    ImportForm,
    InviteForm,
    PersonAccessForm,
)
from .models import ClientFileImport, Invitation


def _context(access: FirmAccess, **extra: object) -> dict[str, object]:
    return {
        "access": access,
        "firm": access.firm,
        "can_view_syncs": access.may(Action.VIEW_SYNCS),
        "can_manage_people": access.may(Action.MANAGE_PEOPLE),
        **extra,
    }


def _accept_url(request: HttpRequest) -> Callable[[str], str]:
    return lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token]))


# --- Client files -------------------------------------------------------------------------------------


@login_required
def client_file_add(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_CLIENT_FILES)
    connection = (
        Connection.objects.filter(firm=access.firm, status=Connection.Status.CONNECTED).order_by("pk").first()
    )
    form = ClientFileAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client_file = services.client_file_add(
                firm=access.firm,
                actor=signed_in_user(request),
                name=form.cleaned_data["name"],
                file_code=form.cleaned_data["file_code"],
                connection=connection,
                company_code=form.cleaned_data["company_code"],
                start_date=form.cleaned_data["start_date"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The client file “%(name)s” was added.") % {"name": client_file.name})
            return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
    return render(
        request,
        "administration/client_file_add.html",
        _context(access, form=form, active_tab="client_files", connection=connection),
    )


@login_required
def client_file_edit(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.MANAGE_CLIENT_FILES
    )
    form = ClientFileForm(
        request.POST or None, initial={"name": client_file.name, "file_code": client_file.file_code}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.client_file_edit(
                client_file=client_file,
                actor=signed_in_user(request),
                name=form.cleaned_data["name"],
                file_code=form.cleaned_data["file_code"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The client file is saved."))
            return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
    return render(
        request,
        "administration/client_file_edit.html",
        _context(access, form=form, client_file=client_file, active_tab="client_files"),
    )


@login_required
@require_POST
def client_file_archive(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.MANAGE_CLIENT_FILES
    )
    services.client_file_archive(client_file=client_file, actor=signed_in_user(request))
    messages.success(
        request, _("The client file is archived: it no longer syncs; its ledger and history stay readable.")
    )
    return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)


@login_required
@require_POST
def client_file_unarchive(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.MANAGE_CLIENT_FILES
    )
    services.client_file_unarchive(client_file=client_file, actor=signed_in_user(request))
    messages.success(request, _("The client file is back in the overview and syncs again."))
    return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)


# --- Import -------------------------------------------------------------------------------------------


@login_required
def client_file_import(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_CLIENT_FILES)
    form = ImportForm(request.POST or None, request.FILES or None, firm=access.firm)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Never more than one byte past the limit is read: a larger file is refused by its size.
            data = upload.read(settings.CLIENT_FILE_IMPORT_MAX_BYTES + 1)
            started = services.client_file_import_start(
                firm=access.firm,
                actor=signed_in_user(request),
                filename=upload.name or "",
                data=data,
                size=upload.size,
                connection=form.cleaned_data.get("connection"),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("client_file_import_preview", firm_slug=access.firm.slug, import_id=started.pk)
    return render(
        request, "administration/import_upload.html", _context(access, form=form, active_tab="client_files")
    )


def _import_for(access: FirmAccess, import_id: int) -> ClientFileImport:
    upload = ClientFileImport.objects.filter(firm=access.firm, pk=import_id).first()
    if upload is None:
        raise Http404(_("No such import."))
    return upload


@login_required
def client_file_import_preview(request: HttpRequest, firm_slug: str, import_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_CLIENT_FILES)
    upload = _import_for(access, import_id)
    context = _context(
        access,
        upload=upload,
        summary=selectors.import_summary(upload=upload),
        stale=selectors.import_is_stale(upload=upload),
        rows=selectors.import_rows_display(upload=upload),
        active_tab="client_files",
    )
    if request.htmx:  # type: ignore[attr-defined]
        if upload.status == ClientFileImport.Status.CHECKING:
            return render(request, "administration/_import_rows.html", context)
        return HttpResponseClientRefresh()  # checked: the whole page, with its summary and confirmation
    return render(request, "administration/import_preview.html", context)


@login_required
@require_POST
def client_file_import_confirm(request: HttpRequest, firm_slug: str, import_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_CLIENT_FILES)
    upload = _import_for(access, import_id)
    try:
        counts = services.client_file_import_apply(upload=upload, actor=signed_in_user(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("client_file_import_preview", firm_slug=access.firm.slug, import_id=upload.pk)
    messages.success(
        request,
        _(
            "Imported: %(created)s new, %(renamed)s renamed, %(linked)s linked (their first syncs start within "
            "a minute), %(skipped)s skipped."
        )
        % counts,
    )
    return redirect("firm_overview", firm_slug=access.firm.slug)


# --- People -------------------------------------------------------------------------------------------


@login_required
def people(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    rights_form = FileRightsForm(
        request.POST or None, initial={"staff_manage_client_files": access.firm.staff_manage_client_files}
    )
    if request.method == "POST" and rights_form.is_valid():
        services.firm_client_file_rights_set(
            firm=access.firm,
            actor=signed_in_user(request),
            staff_may_manage=rights_form.cleaned_data["staff_manage_client_files"],
        )
        messages.success(request, _("Saved."))
        return redirect("people", firm_slug=access.firm.slug)
    return render(
        request,
        "administration/people.html",
        _context(
            access,
            active_tab="people",
            memberships=selectors.people_list(firm=access.firm),
            invitations=selectors.invitation_list_open(firm=access.firm),
            rights_form=rights_form,
            roles_with_files={Role.EXTERNAL.value, Role.PULSE.value},
        ),
    )


@login_required
def person_invite(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    form = InviteForm(request.POST or None, firm=access.firm)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_send(
                firm=access.firm,
                actor=signed_in_user(request),
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                client_files=form.cleaned_data["client_files"],
                language=form.cleaned_data["language"],
                accept_url=_accept_url(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("An invitation was e-mailed to %(email)s; its link works for %(days)s days.")
                % {"email": invitation.email, "days": services.INVITATION_VALID_FOR.days},
            )
            return redirect("people", firm_slug=access.firm.slug)
    return render(
        request, "administration/person_invite.html", _context(access, form=form, active_tab="people")
    )


def _membership_for(access: FirmAccess, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(firm=access.firm, pk=membership_id).first()
    if membership is None:
        raise Http404(_("No such person in this firm."))
    return membership


@login_required
def person_edit(request: HttpRequest, firm_slug: str, membership_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    membership = _membership_for(access, membership_id)
    form = PersonAccessForm(
        request.POST or None,
        firm=access.firm,
        initial={"role": membership.role, "client_files": list(membership.client_files.all())},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change(
                membership=membership,
                actor=signed_in_user(request),
                role=form.cleaned_data["role"],
                client_files=form.cleaned_data["client_files"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("The access of %(email)s is saved.") % {"email": membership.user.username}
            )
            return redirect("people", firm_slug=access.firm.slug)
    return render(
        request,
        "administration/person_edit.html",
        _context(access, form=form, membership=membership, active_tab="people"),
    )


@login_required
@require_POST
def person_remove(request: HttpRequest, firm_slug: str, membership_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    membership = _membership_for(access, membership_id)
    try:
        services.membership_remove(membership=membership, actor=signed_in_user(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("%(email)s no longer has access to this firm.") % {"email": membership.user.username}
        )
    return redirect("people", firm_slug=access.firm.slug)


def _invitation_for(access: FirmAccess, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(firm=access.firm, pk=invitation_id).first()
    if invitation is None:
        raise Http404(_("No such invitation in this firm."))
    return invitation


@login_required
@require_POST
def invitation_resend(request: HttpRequest, firm_slug: str, invitation_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    invitation = _invitation_for(access, invitation_id)
    try:
        services.invitation_resend(
            invitation=invitation, actor=signed_in_user(request), accept_url=_accept_url(request)
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("A new invitation was e-mailed to %(email)s.") % {"email": invitation.email}
        )
    return redirect("people", firm_slug=access.firm.slug)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, firm_slug: str, invitation_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_PEOPLE)
    invitation = _invitation_for(access, invitation_id)
    services.invitation_revoke(invitation=invitation, actor=signed_in_user(request))
    messages.success(
        request,
        _("The invitation of %(email)s is revoked; its link no longer works.") % {"email": invitation.email},
    )
    return redirect("people", firm_slug=access.firm.slug)


@sensitive_post_parameters("password1", "password2")
def invitation_accept(request: HttpRequest, invitation_token: str) -> HttpResponse:
    """The link in the e-mail. Open to anyone holding it; it works once, for 7 days."""
    invitation = services.invitation_for_token(token=invitation_token)
    if invitation is None:
        return render(request, "administration/invitation_invalid.html", status=404)
    existing = User.objects.filter(username__iexact=invitation.email).exists()
    form = AcceptForm(request.POST or None) if not existing else None
    error = ""
    if request.method == "POST":
        try:
            if existing:
                if not request.user.is_authenticated:
                    return redirect(f"{reverse('login')}?next={request.path}")
                services.invitation_accept_existing_user(invitation=invitation, user=signed_in_user(request))
                user = signed_in_user(request)
            else:
                assert form is not None
                if not form.is_valid():
                    raise ValidationError("")
                user = services.invitation_accept_new_user(
                    invitation=invitation,
                    password=form.cleaned_data["password1"],
                    full_name=form.cleaned_data["full_name"],
                )
                login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        except ValidationError as failure:
            if form is not None and hasattr(failure, "error_dict"):
                add_service_errors(form, failure)
            elif failure.messages != [""]:
                error = " ".join(failure.messages)
        else:
            messages.success(request, _("Welcome to %(firm)s.") % {"firm": invitation.firm.name})
            return redirect("home")
    return render(
        request,
        "administration/invitation_accept.html",
        {"invitation": invitation, "form": form, "existing": existing, "error": error},
    )
