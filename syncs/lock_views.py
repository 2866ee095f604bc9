"""Closed books on a client file: the lock date, and the change alerts syncs open in closed periods.
Thin: access check, form, one service, redirect or render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clients.access import Action, require_client_file
from silverfin_sync.view_helpers import signed_in_user

from . import locks
from .models import ChangeAlert


@login_required
@require_POST
def books_lock(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = require_client_file(request.user, firm_slug, client_file_id, Action.LOCK_BOOKS)
    raw = request.POST.get("until", "").strip()
    until: dt.date | None = None
    if raw:
        try:
            until = dt.date.fromisoformat(raw)
        except ValueError:
            messages.error(request, _("Choose the last day of one of this client file’s periods."))
            return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)
    if locks.books_lock_moves_back(client_file=client_file, until=until) and not access.may(
        Action.UNLOCK_BOOKS
    ):
        raise PermissionDenied(_("Only an admin may unlock periods."))
    try:
        locks.books_lock_set(client_file=client_file, until=until, actor=signed_in_user(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("The books are closed up to %(date)s.") % {"date": date_format(until, "SHORT_DATE_FORMAT")}
            if until
            else _("The books are open again."),
        )
    return redirect("client_file_detail", firm_slug=access.firm.slug, client_file_id=client_file.pk)


@login_required
@require_GET
def change_alerts(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    """The open alert (each closed period and account before and after, the documents responsible) and
    the accepted ones."""
    access, client_file = require_client_file(
        request.user, firm_slug, client_file_id, Action.VIEW_CLIENT_FILE
    )
    alerts = list(locks.change_alert_list(client_file=client_file)[:20])
    shown = [
        (alert, list(locks.change_alert_lines(alert=alert)), list(alert.items.all())) for alert in alerts
    ]
    # Each document still in the ledger links to its page.
    entry_pks = locks.entry_pks(
        client_file=client_file, wow_ids=[i.wow_id for _a, _l, items in shown for i in items]
    )
    for _alert, _lines, items in shown:
        for item in items:
            item.entry_pk = entry_pks.get(item.wow_id)  # type: ignore[attr-defined]
    return render(
        request,
        "ledger/change_alerts.html",
        {
            "access": access,
            "firm": access.firm,
            "client_file": client_file,
            "active_tab": "client_files",
            "can_view_syncs": access.may(Action.VIEW_SYNCS),
            "can_accept": access.may(Action.ACCEPT_CHANGES),
            "alerts": shown,
        },
    )


@login_required
@require_POST
def change_alert_accept(
    request: HttpRequest, firm_slug: str, client_file_id: int, alert_id: int
) -> HttpResponse:
    access, client_file = require_client_file(request.user, firm_slug, client_file_id, Action.ACCEPT_CHANGES)
    alert = ChangeAlert.objects.filter(client_file=client_file, pk=alert_id).first()
    if alert is None:
        raise Http404(_("No such change alert in this client file."))
    try:
        locks.change_alert_accept(
            alert=alert, actor=signed_in_user(request), note=request.POST.get("note", "")
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The changes are accepted; later syncs are compared with these figures."))
    return redirect("change_alerts", firm_slug=access.firm.slug, client_file_id=client_file.pk)
