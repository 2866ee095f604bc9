"""Views of the firm's Syncs tab and of a client file's sync panel. Thin: access check, form, one service,
redirect or render. The client file page lives here because it shows sync state next to the ledger
(``syncs`` may use ``clients``, never the reverse)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from clients.access import Action, FirmAccess, require_client_file, require_firm
from clients.models import ClientFile
from silverfin_sync.view_helpers import add_service_errors, signed_in_user

from . import locks, selectors, services
from .forms import ConnectWinbooksForm, LinkForm, ReconnectForm, ScheduleForm
from .models import ClientLink
from .runs import client_file_sync_now


@login_required
def syncs_tab(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.VIEW_SYNCS)
    can_manage = access.may(Action.MANAGE_SYNCS)
    return render(
        request,
        "syncs/syncs_tab.html",
        {
            "access": access,
            "firm": access.firm,
            "active_tab": "syncs",
            "can_view_syncs": True,
            "can_manage": can_manage,
            "connections": selectors.connection_list_for_tab(firm=access.firm),
            "time_zone": settings.TIME_ZONE,
            "alerts": selectors.reconnect_alerts(firm=access.firm),
            "audit_events": selectors.audit_event_list(firm=access.firm) if can_manage else [],
        },
    )


def _tab_context(access: FirmAccess, **extra: object) -> dict[str, object]:
    return {"access": access, "firm": access.firm, "active_tab": "syncs", "can_view_syncs": True, **extra}


@login_required
def sync_add(request: HttpRequest, firm_slug: str) -> HttpResponse:
    """Add new sync: choose the kind, then the package (two steps, as accountants know them)."""
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    kind = request.GET.get("kind", "")
    return render(request, "syncs/sync_add.html", _tab_context(access, kind=kind))


@login_required
def sync_add_package(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    package = request.GET.get("package", "")
    if package == "winbooks":
        return redirect("sync_connect_winbooks", firm_slug=access.firm.slug)
    messages.error(request, gettext("Choose a package to connect."))
    return redirect(reverse("sync_add", args=[access.firm.slug]) + "?kind=bookkeeping")


@sensitive_post_parameters("exchange_token")  # never in an error report
@login_required
def sync_connect_winbooks(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    form = ConnectWinbooksForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_connect(
                firm=access.firm,
                actor=signed_in_user(request),
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                exchange_token=form.cleaned_data["exchange_token"],
                api_url=form.cleaned_data["api_url"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                gettext("Connected to WinbooksOnWeb.")
                if connection.name == "WinbooksOnWeb"
                else gettext("“%(name)s” is connected to WinbooksOnWeb.") % {"name": connection.name},
            )
            return redirect("syncs_tab", firm_slug=access.firm.slug)
    return render(request, "syncs/connect_winbooks.html", _tab_context(access, form=form))


@sensitive_post_parameters("exchange_token")  # never in an error report
@login_required
def sync_reconnect(request: HttpRequest, firm_slug: str, connection_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    connection = selectors.connection_get_for_firm(firm=access.firm, connection_id=connection_id)
    form = ReconnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_reconnect(
                connection=connection,
                actor=signed_in_user(request),
                email=form.cleaned_data["email"],
                exchange_token=form.cleaned_data["exchange_token"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                gettext(
                    "“%(name)s” is reconnected. Its client files sync again: those whose last sync was "
                    "refused access are queued to sync now."
                )
                % {"name": connection.name},
            )
            return redirect("syncs_tab", firm_slug=access.firm.slug)
    return render(request, "syncs/reconnect.html", _tab_context(access, form=form, connection=connection))


@login_required
@require_POST
def sync_schedule(request: HttpRequest, firm_slug: str, connection_id: int) -> HttpResponse:
    """An admin moves a sync's nightly run (the firm's time zone); audited."""
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    connection = selectors.connection_get_for_firm(firm=access.firm, connection_id=connection_id)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        at = form.cleaned_data["nightly_sync_time"]
        services.connection_schedule_set(connection=connection, actor=signed_in_user(request), at=at)
        messages.success(
            request,
            gettext("“%(name)s” now syncs every night at %(time)s.")
            % {"name": connection.name, "time": f"{at:%H:%M}"},
        )
    else:
        messages.error(request, " ".join(str(e) for e in form.errors["nightly_sync_time"]))
    return redirect("syncs_tab", firm_slug=access.firm.slug)


@login_required
def sync_disconnect(request: HttpRequest, firm_slug: str, connection_id: int) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.MANAGE_SYNCS)
    connection = selectors.connection_get_for_firm(firm=access.firm, connection_id=connection_id)
    if request.method == "POST":
        services.connection_disconnect(connection=connection, actor=signed_in_user(request))
        messages.success(
            request,
            gettext("“%(name)s” is disconnected. Ledgers and history are kept.") % {"name": connection.name},
        )
        return redirect("syncs_tab", firm_slug=access.firm.slug)
    linked = connection.links.filter(unlinked_at__isnull=True).count()
    return render(
        request, "syncs/disconnect.html", _tab_context(access, connection=connection, linked=linked)
    )


@login_required
def client_file_detail(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.VIEW_CLIENT_FILE
    )
    can_link = access.may(Action.LINK_CLIENT_FILE)
    link = selectors.client_link_active(client_file=client_file)
    form = None
    if can_link:
        initial = (
            {
                "company_code": link.company_code,
                "connection": link.connection_id,
                "start_date": link.start_date,
            }
            if link
            else {}
        )
        form = LinkForm(firm=access.firm, initial=initial)
    return render(
        request, "clients/client_file_detail.html", _client_context(access, client_file, link, form)
    )


def _client_context(
    access: FirmAccess, client_file: ClientFile, link: ClientLink | None, form: LinkForm | None
) -> dict[str, object]:
    return {
        "access": access,
        "firm": access.firm,
        "client_file": client_file,
        "active_tab": "client_files",
        "can_view_syncs": access.may(Action.VIEW_SYNCS),
        "can_link": access.may(Action.LINK_CLIENT_FILE),
        "can_sync": access.may(Action.SYNC_CLIENT_FILE),
        "link": link,
        "link_form": form,
        "latest_run": selectors.sync_run_latest(client_file=client_file),
        "has_connections": selectors.connection_choices_for_linking(firm=access.firm).exists(),
        # Closed books: the lock date, the period ends to choose from, the open change alert.
        "can_lock": access.may(Action.LOCK_BOOKS),
        "can_unlock": access.may(Action.UNLOCK_BOOKS),
        "lock_choices": locks.period_ends(client_file=client_file) if access.may(Action.LOCK_BOOKS) else [],
        "alert_effects": locks.change_alert_effects(alert=alert)
        if (alert := locks.change_alert_open(client_file=client_file))
        else [],
        "open_alert": alert,
    }


@login_required
@require_POST
def client_link(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.LINK_CLIENT_FILE
    )
    form = LinkForm(request.POST, firm=access.firm)
    before = selectors.client_link_active(client_file=client_file)
    if form.is_valid():
        try:
            link = services.client_link_set(
                client_file=client_file,
                connection=form.cleaned_data["connection"],
                company_code=form.cleaned_data["company_code"],
                start_date=form.cleaned_data["start_date"],
                actor=signed_in_user(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _link_message(before, link))
            return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
    current = selectors.client_link_active(client_file=client_file)
    return render(
        request,
        "clients/client_file_detail.html",
        _client_context(access, client_file, current, form),
        status=400,
    )


def _link_message(before: ClientLink | None, after: ClientLink) -> str:
    if before is not None and before.pk == after.pk:
        if before.start_date == after.start_date:
            return gettext("Nothing changed.")
        return gettext(
            "“Do not sync before” is changed. A sync has started that brings the ledger in line with it."
        )
    return gettext("Linked to WinbooksOnWeb company {code}. The first sync has started.").format(
        code=after.company_code
    )


@login_required
def client_unlink(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    """GET asks for confirmation (the client file stops syncing); POST removes the link."""
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.LINK_CLIENT_FILE
    )
    if request.method != "POST":
        link = selectors.client_link_active(client_file=client_file)
        if link is None:
            return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
        return render(
            request,
            "syncs/unlink_confirm.html",
            {
                "access": access,
                "firm": access.firm,
                "client_file": client_file,
                "link": link,
                "active_tab": "client_files",
                "can_view_syncs": access.may(Action.VIEW_SYNCS),
            },
        )
    if services.client_link_remove(client_file=client_file, actor=signed_in_user(request)):
        messages.success(request, gettext("The link is removed. The ledger and the sync history are kept."))
    return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)


@login_required
@require_POST
def client_sync_now(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.SYNC_CLIENT_FILE
    )
    try:
        _, created = client_file_sync_now(client_file=client_file, requested_by=signed_in_user(request))
    except ValidationError as refused:
        messages.error(request, refused.messages[0])
    else:
        messages.success(
            request,
            gettext("Sync started.")
            if created
            else gettext("A sync is already running for this client file."),
        )
    return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
