"""The client file's ledger and sync history in the browser: the live sync status (an htmx fragment), the
trial balance with its exports, an account's lines, a document, the history of runs and one run.

Every view starts with the access check for the client file and then looks each object up within that
client file, so another file's ids answer 404. Nothing here writes; external contributors may read all of
it for the client files given to them.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from clients import ledger_selectors
from clients.access import Action, FirmAccess, require_client_file
from clients.ledger_selectors import LedgerScope, PeriodGroup
from clients.models import ClientFile

from . import exports, locks, run_selectors, selectors
from .models import ClientLink


def _client_file(request: HttpRequest, firm_slug: str, client_file_id: int) -> tuple[FirmAccess, ClientFile]:
    return require_client_file(request.user, firm_slug, client_file_id, Action.VIEW_CLIENT_FILE)


def _page_context(
    access: FirmAccess, client_file: ClientFile, section: str, **extra: object
) -> dict[str, object]:
    return {
        "access": access,
        "firm": access.firm,
        "client_file": client_file,
        "active_tab": "client_files",
        "can_view_syncs": access.may(Action.VIEW_SYNCS),
        "section": section,  # which of the client file's pages the sub-navigation marks as current
        **extra,
    }


def _scope(request: HttpRequest, client_file: ClientFile) -> tuple[list[PeriodGroup], LedgerScope | None]:
    """The period picker's groups and the scope the request asks for (404 for a period the file lacks)."""
    groups = ledger_selectors.period_groups_for_picker(client_file=client_file)
    value = request.GET.get("period", "").strip()
    scope = ledger_selectors.ledger_scope_resolve(client_file=client_file, value=value, groups=groups)
    if value and scope is None:
        raise Http404(gettext("No such period in this client file."))
    return groups, scope


@require_GET
def client_sync_status(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    """The sync status under the client file's name; while a run is queued or running the fragment polls
    itself every second, and the fragment of a finished run (its summary) no longer does."""
    if not request.user.is_authenticated:
        if request.headers.get("HX-Request") == "true":
            # The session ended while the page was polling: send the whole page to log in (and back to the
            # client file), rather than swapping the login form into the status line.
            page = reverse("client_file_detail", args=[firm_slug, client_file_id])
            return HttpResponseClientRedirect(redirect_to_login(page).url)
        return redirect_to_login(request.get_full_path())
    access, client_file = _client_file(request, firm_slug, client_file_id)
    return render(
        request,
        "syncs/run_status.html",
        {
            "firm": access.firm,
            "client_file": client_file,
            "link": selectors.client_link_active(client_file=client_file),
            "latest_run": selectors.sync_run_latest(client_file=client_file),
        },
    )


@login_required
@require_GET
def trial_balance(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = _client_file(request, firm_slug, client_file_id)
    groups, scope = _scope(request, client_file)
    link = selectors.client_link_active(client_file=client_file)
    context = _page_context(
        access,
        client_file,
        "trial_balance",
        period_groups=groups,
        scope=scope,
        link=link,
        latest_run=selectors.sync_run_latest(client_file=client_file),
        before_start=_before_start(scope, link),
    )
    if scope is not None:
        marks = run_selectors.period_marks(
            client_file=client_file,
            periods=ledger_selectors.periods_in_scope(scope=scope, groups=groups),
        )
        context.update(
            trial_balance=ledger_selectors.trial_balance(client_file=client_file, scope=scope),
            period_marks=marks,
        )
        closed = locks.period_is_closed(client_file=client_file, period=scope.period)
        context["period_closed"] = closed
        if closed and scope.period is not None and request.GET.get("as_locked"):
            context["as_locked"] = locks.as_locked_rows(client_file=client_file, period=scope.period)
    return render(request, "ledger/trial_balance.html", context)


def _before_start(scope: LedgerScope | None, link: ClientLink | None) -> dt.date | None:
    """The link's start date when the scope is a fiscal year before it (not synced, on purpose)."""
    if scope is None or link is None or link.start_date is None:
        return None
    year = scope.fiscal_year or (scope.period.fiscal_year if scope.period else None)
    if year is not None and year.start_date is not None:
        return link.start_date if year.start_date < link.start_date else None
    if scope.period is not None and scope.period.year < link.start_date.year:
        return link.start_date
    return None


def _export(request: HttpRequest, firm_slug: str, client_file_id: int, kind: str) -> HttpResponse:
    """The trial balance as CSV or Excel; for a closed period, ``?as_locked=1`` gives it as locked."""
    _, client_file = _client_file(request, firm_slug, client_file_id)
    _, scope = _scope(request, client_file)
    if scope is None:
        raise Http404(gettext("This client file has no periods yet."))
    download = exports.trial_balance_download(
        client_file=client_file, scope=scope, kind=kind, as_locked=bool(request.GET.get("as_locked"))
    )
    if download is None:
        raise Http404(gettext("This period is not closed: it has no balances as locked."))
    response = HttpResponse(download.body, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response


@login_required
@require_GET
def trial_balance_csv(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    return _export(request, firm_slug, client_file_id, "csv")


@login_required
@require_GET
def trial_balance_xlsx(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    return _export(request, firm_slug, client_file_id, "xlsx")


@login_required
@require_GET
def account_lines(request: HttpRequest, firm_slug: str, client_file_id: int, account_id: int) -> HttpResponse:
    """An account's lines in a period or fiscal year, 100 a page, with the running balance."""
    access, client_file = _client_file(request, firm_slug, client_file_id)
    account = ledger_selectors.account_get(client_file=client_file, account_id=account_id)
    if account is None:
        raise Http404(gettext("No such account in this client file."))
    groups, scope = _scope(request, client_file)
    context = _page_context(access, client_file, "trial_balance", account=account, scope=scope)
    if scope is not None:
        totals = ledger_selectors.account_totals(client_file=client_file, account=account, scope=scope)
        context.update(
            period_groups=groups,
            totals=totals,
            lines_page=ledger_selectors.account_lines_page(
                client_file=client_file,
                account=account,
                scope=scope,
                opening=totals.opening,
                page_number=request.GET.get("page"),
            ),
        )
    return render(request, "ledger/account_lines.html", context)


@login_required
@require_GET
def entry_detail(request: HttpRequest, firm_slug: str, client_file_id: int, entry_id: int) -> HttpResponse:
    access, client_file = _client_file(request, firm_slug, client_file_id)
    found = ledger_selectors.entry_get_with_lines(client_file=client_file, entry_id=entry_id)
    if found is None:
        raise Http404(gettext("No such document in this client file."))
    # Opened from an account's lines: the breadcrumb leads back there (a bad id simply leaves it out).
    account_id = request.GET.get("account", "")
    from_account = (
        ledger_selectors.account_get(client_file=client_file, account_id=int(account_id))
        if account_id.isdigit() and len(account_id) < 19
        else None
    )
    return render(
        request,
        "ledger/entry_detail.html",
        _page_context(
            access,
            client_file,
            "trial_balance",
            document=found,
            from_account=from_account,
            from_period=request.GET.get("period", "")[:40] if from_account else "",
        ),
    )


@login_required
@require_GET
def sync_history(request: HttpRequest, firm_slug: str, client_file_id: int) -> HttpResponse:
    access, client_file = _client_file(request, firm_slug, client_file_id)
    runs = run_selectors.sync_run_page(client_file=client_file, page_number=request.GET.get("page"))
    return render(request, "syncs/run_history.html", _page_context(access, client_file, "history", runs=runs))


@login_required
@require_GET
def sync_run_detail(request: HttpRequest, firm_slug: str, client_file_id: int, run_id: int) -> HttpResponse:
    access, client_file = _client_file(request, firm_slug, client_file_id)
    run = run_selectors.sync_run_get(client_file=client_file, run_id=run_id)
    return render(
        request,
        "syncs/run_detail.html",
        _page_context(
            access,
            client_file,
            "history",
            run=run,
            period_marks=run_selectors.period_marks_of_run(run=run),
            changes=run_selectors.run_changes(run=run, firm_slug=access.firm.slug),
            issues=run_selectors.sync_issue_page(run=run, page_number=request.GET.get("issues_page")),
        ),
    )
