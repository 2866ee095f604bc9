"""The firm overview (the "Client files" tab): every client file with its sync state, the live refresh of
its running rows and "Sync now" over one row, the selected rows or every file a filter matches. It lives in
``syncs`` because it shows sync state (``clients`` never imports ``syncs``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from clients.access import Action, require_firm

from . import services
from .overview_selectors import (
    SORTS,
    OverviewFilter,
    overview_chips,
    overview_files_matching,
    overview_page,
    overview_rows_by_id,
)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


@login_required
@require_GET
def firm_overview(request: HttpRequest, firm_slug: str) -> HttpResponse:
    access = require_firm(request.user, firm_slug, Action.VIEW_FIRM)
    flt = OverviewFilter.from_query(request.GET)
    overview = overview_page(access=access, flt=flt)
    return render(
        request,
        "clients/firm_overview.html",
        {
            "access": access,
            "firm": access.firm,
            "active_tab": "client_files",
            "can_view_syncs": access.may(Action.VIEW_SYNCS),
            "can_sync": access.may(Action.SYNC_CLIENT_FILE),
            "overview": overview,
            "filter": flt,
            "filter_query": urlencode(flt.params()),
            "page_query": urlencode({**flt.params(), "page": str(overview.page.number)}),
            "sorts": [(key, label, urlencode(flt.params(sort=key))) for key, (label, _o) in SORTS.items()],
            "active_ids": [row.client_file.pk for row in overview.rows if row.is_active],
        },
    )


@login_required
@require_GET
def firm_overview_live(request: HttpRequest, firm_slug: str) -> HttpResponse:
    """The rows of running or queued files, fresh, swapped into the page in place (htmx out-of-band), and
    the poller again as long as one of them is still running or queued, and the chips' counts."""
    access = require_firm(request.user, firm_slug, Action.VIEW_FIRM)
    rows = overview_rows_by_id(access=access, client_file_ids=_ids(request.GET.getlist("ids")))
    back = request.GET.get("back", "")
    return render(
        request,
        "clients/_overview_live.html",
        {
            "access": access,
            "firm": access.firm,
            "can_sync": access.may(Action.SYNC_CLIENT_FILE),
            "rows": rows,
            "active_ids": [row.client_file.pk for row in rows if row.is_active],
            "return_query": back,
            # The chips' counts move with the rows (the filter of the page, carried in ``back``).
            "chips": overview_chips(access=access, flt=OverviewFilter.from_query(QueryDict(back))),
        },
    )


@login_required
@require_POST
def firm_overview_sync_now(request: HttpRequest, firm_slug: str) -> HttpResponse:
    """Sync now: the files of ``ids`` (one row's arrows, or the rows ticked), or with ``scope=matching``
    every file the filter in the form matches, on every page."""
    access = require_firm(request.user, firm_slug, Action.SYNC_CLIENT_FILE)
    # The filter comes with the bulk form; a row's arrows carry the page's filter in their URL.
    given = request.GET.copy()
    given.update(request.POST)
    flt = OverviewFilter.from_query(given)
    if request.POST.get("scope") == "matching":
        ids = list(overview_files_matching(access=access, flt=flt).values_list("pk", flat=True))
    else:
        ids = _ids(request.POST.getlist("ids"))
    back = reverse("firm_overview", args=[access.firm.slug])
    query = urlencode({**flt.params(), **({"page": flt.page} if flt.page not in ("", "1") else {})})
    if not ids:
        messages.error(request, _("Tick the client files to sync first, or choose “Sync all matching”."))
        return redirect(f"{back}?{query}" if query else back)
    assert isinstance(request.user, User)  # login_required
    outcome = services.client_files_sync_now(firm=access.firm, client_file_ids=ids, actor=request.user)
    parts = []
    if outcome.queued:
        parts.append(
            ngettext("%(count)d sync queued.", "%(count)d syncs queued.", outcome.queued)
            % {"count": outcome.queued}
        )
    if outcome.already_active:
        parts.append(
            ngettext(
                "%(count)d client file was already syncing.",
                "%(count)d client files were already syncing.",
                outcome.already_active,
            )
            % {"count": outcome.already_active}
        )
    if outcome.needs_reconnect:
        parts.append(
            ngettext(
                "%(count)d client file waits for its sync to be reconnected by an admin.",
                "%(count)d client files wait for their sync to be reconnected by an admin.",
                outcome.needs_reconnect,
            )
            % {"count": outcome.needs_reconnect}
        )
    if outcome.not_linked:
        parts.append(
            ngettext(
                "%(count)d client file is not linked to a bookkeeping package.",
                "%(count)d client files are not linked to a bookkeeping package.",
                outcome.not_linked,
            )
            % {"count": outcome.not_linked}
        )
    (messages.success if outcome.queued or outcome.already_active else messages.warning)(
        request, " ".join(parts)
    )
    if request.POST.get("scope") == "matching" and outcome.queued:
        # Show the queue being worked through: the same search, running or queued files, live.
        query = urlencode({**flt.params(status="running")})
    return redirect(f"{back}?{query}" if query else back)
