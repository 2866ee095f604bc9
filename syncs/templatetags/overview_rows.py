"""The overview's rows, written in Python: ``{% overview_row row %}``.

A row as an included template cost more than the database did for the whole page (fifty rows of four
``{% url %}``, five date filters, a ``timesince``, a ``{% csrf_token %}`` and a dozen translations each).
Here what every row shares (the links' patterns, the translated words, the token) is worked out once per
page and each row is a few f-strings. Escaping follows the template engine's rule: every value and every
``{% translate %}`` is escaped, a ``{% blocktranslate %}`` sentence is not but its values are.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from html import escape
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext

from syncs.overview_selectors import FileStatus, OverviewRow
from syncs.templatetags.ledger_format import format_count, stream_label, time_ago

register = template.Library()

# Ids no client file or run will have (the URL patterns take up to 18 digits): a link's pattern is reversed
# once with them and each row's ids are put in their place.
_ID_PLACEHOLDERS = ("987654321987654321", "987654321987654322")


def _link_pattern(name: str, firm_slug: str, ids: int) -> str:
    """The escaped URL of ``name`` for the firm, with ``{0}`` (and ``{1}``) where the ids go."""
    url = reverse(name, args=[firm_slug, *(int(p) for p in _ID_PLACEHOLDERS[:ids])])
    url = escape(url).replace("{", "{{").replace("}", "}}")
    for index, placeholder in enumerate(_ID_PLACEHOLDERS[:ids]):
        url = url.replace(placeholder, f"{{{index}}}")
    return url


def _when(value: dt.datetime, fmt: str) -> str:
    """The ``date`` filter: the value in the current time zone, in ``fmt``, escaped."""
    return escape(date_format(localtime(value), fmt))


class _PageRows:
    """What every row of one rendering shares."""

    def __init__(self, context: Context) -> None:
        self.firm_slug = str(context["firm"].slug)
        self.can_sync = bool(context.get("can_sync"))
        token = context.get("csrf_token")
        self.csrf_input = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'
            if token and token != "NOTPROVIDED"
            else ""
        )

    @cached_property
    def detail(self) -> str:
        return _link_pattern("client_file_detail", self.firm_slug, 1)

    @cached_property
    def run_detail(self) -> str:
        return _link_pattern("sync_run_detail", self.firm_slug, 2)

    @cached_property
    def change_alerts(self) -> str:
        return _link_pattern("change_alerts", self.firm_slug, 1)

    @cached_property
    def sync_now(self) -> str:
        return escape(reverse("firm_overview_sync_now", args=[self.firm_slug]))

    @cached_property
    def words(self) -> dict[str, str]:
        """The rows' fixed words in the reader's language, escaped as ``{% translate %}`` does."""
        words = {
            "company": gettext("Company"),
            "progress": gettext("Sync progress"),
            "waiting": gettext("Waiting for a worker"),
            "what_went_wrong": gettext("What went wrong"),
            "closed_changes": gettext("Changes in closed periods"),
            "last_sync": gettext("Last successful sync"),
            "never": gettext("never"),
            "next_sync": gettext("Next sync"),
            "sync_now": gettext("Sync now"),
        }
        return {key: escape(text) for key, text in words.items()}


_SHARED = "overview_rows.shared"


def _page_rows(context: Context) -> _PageRows:
    shared = context.render_context.get(_SHARED)
    if shared is None:
        shared = context.render_context[_SHARED] = _PageRows(context)
    return shared


@register.simple_tag(takes_context=True)
def overview_row(context: Context, row: OverviewRow, oob: bool = False, page_query: str = "") -> SafeString:
    """One client file's row of the overview (``oob``: swapped in place by the live refresh)."""
    page = _page_rows(context)
    words = page.words
    f: Any = row.client_file
    pk = int(f.pk)
    name = escape(f.name)
    status = row.status
    swap = ' hx-swap-oob="true"' if oob else ""
    parts = [f'\n<tr id="file-{pk}" class="file-row status-{escape(status)}"{swap}>\n  ']
    if page.can_sync:
        checkbox = ""
        if row.is_linked:
            label = gettext("Select %(name)s") % {"name": name}
            checkbox = (
                f'<input type="checkbox" name="ids" value="{pk}" form="bulk-sync" aria-label="{label}">'
            )
        parts.append(f'<td class="select">{checkbox}</td>')
    company = escape(f.company_code) if f.company_code else '<span class="muted">–</span>'
    parts.append(
        f'\n  <td class="client">\n    <a href="{page.detail.format(pk)}">{name}</a>\n'
        f'    <span class="muted file-code">{escape(f.file_code)}</span>\n  </td>\n'
        f'  <td class="company-code" data-label="{words["company"]}">{company}</td>\n'
        f'  <td class="status">\n    <span class="file-status tone-{escape(row.tone)}"><span class="status-icon"'
        f' aria-hidden="true">{escape(row.icon)}</span> {escape(str(row.label))}</span>\n    '
    )
    if status == FileStatus.RUNNING and row.run_id:
        parts.append(_progress(row.progress, words["progress"]))
    elif status == FileStatus.QUEUED:
        parts.append(f'\n      <span class="status-detail">{words["waiting"]}</span>\n    ')
    elif status == FileStatus.NEEDS_RECONNECT:
        sentence = gettext("“%(name)s” must be reconnected by an admin") % {"name": escape(f.connection_name)}
        parts.append(f'\n      <span class="status-detail">{sentence}</span>\n    ')
    elif status in (FileStatus.FAILED, FileStatus.ISSUES):
        href = page.run_detail.format(pk, int(row.run_id))  # type: ignore[arg-type]  # a run failed
        parts.append(f'\n      <a class="status-detail" href="{href}">{words["what_went_wrong"]}</a>\n    ')
    parts.append("\n    ")
    if f.closed_changes:
        parts.append(
            f'<a class="status-detail closed-changes" href="{page.change_alerts.format(pk)}">'
            f"{words['closed_changes']}</a>"
        )
    if f.last_success_at:
        since = escape(time_ago(f.last_success_at))
        last_sync = (
            f'<time datetime="{_when(f.last_success_at, "c")}" title="{_when(f.last_success_at, "j M Y H:i")}">'
            f"{since}</time>"
        )
    else:
        last_sync = f'<span class="muted">{words["never"]}</span>'
    connected = row.is_linked and f.connection_status == "connected"
    if connected and f.next_sync_at:
        next_sync = (
            f'<time datetime="{_when(f.next_sync_at, "c")}" title="{_when(f.next_sync_at, "j M Y H:i")}">'
            f"{_when(f.next_sync_at, 'D H:i')}</time>"
        )
    else:
        next_sync = '<span class="muted">–</span>'
    parts.append(
        f'\n  </td>\n  <td class="last-sync" data-label="{words["last_sync"]}">{last_sync}</td>\n'
        f'  <td class="next-sync" data-label="{words["next_sync"]}">{next_sync}</td>\n  '
    )
    if page.can_sync:
        parts.append('<td class="actions">')
        if connected:
            query = f"?{escape(page_query)}" if page_query else ""
            label = gettext("Sync %(name)s now") % {"name": name}
            parts.append(
                f'\n    <form method="post" action="{page.sync_now}{query}">{page.csrf_input}\n'
                f'      <input type="hidden" name="ids" value="{pk}">\n'
                f'      <button class="sync-arrows" type="submit"{" disabled" if row.is_active else ""}'
                f' title="{words["sync_now"]}" aria-label="{label}"><span aria-hidden="true">⇅</span>'
                f' <span class="sync-arrows-text">{words["sync_now"]}</span></button>\n    </form>\n  '
            )
        parts.append("</td>")
    parts.append("\n</tr>\n")
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped on its way in, by html.escape


def _progress(progress: dict[str, Any], progress_label: str) -> str:
    """A running row's stream, records read and progress bar."""
    detail = escape(stream_label(progress.get("stream")))
    records = progress.get("records")
    if records:
        count = records
        detail += " · " + ngettext("%(records)s record", "%(records)s records", count) % {
            "records": escape(format_count(records))
        }
    done = progress.get("streams_done")
    if done is not None:
        shown = escape(str(done))
        bar = f'<progress max="7" value="{shown}" aria-label="{progress_label}">{shown} / 7</progress>'
    else:
        bar = f'<progress aria-label="{progress_label}"></progress>'
    return f'\n      <span class="status-detail">{detail}</span>\n      {bar}\n    '
