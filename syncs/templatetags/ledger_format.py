"""How the ledger and sync pages show amounts, durations and a run's counts.

Amounts are shown the way accountants read them, in the reader's language: two decimals (rounded half
up, as on paper), grouped thousands, a minus sign in front of a negative amount: 1.234,56 in Dutch and
French as written in Belgium, 1,234.56 in English (silverfin_sync/formats/).
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format, number_format
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext

from clients.ledger.streams import ENTITY_LABELS, STREAMS
from syncs.run_selectors import STREAM_LABELS, EntityCounts, entity_counts

register = template.Library()

CENT = Decimal("0.01")


def separators() -> tuple[str, str]:
    """The active language's (decimal, thousands) separators."""
    return str(get_format("DECIMAL_SEPARATOR")), str(get_format("THOUSAND_SEPARATOR"))


def _localised(english: str, seps: tuple[str, str]) -> str:
    """A number written with Python's "," between thousands and "." before decimals, in ``seps``."""
    if seps == (".", ","):
        return english
    decimal, thousands = seps
    return english.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def format_money(value: Decimal | str | int | None, seps: tuple[str, str] | None = None) -> str:
    try:
        if isinstance(value, Decimal):  # what the ledger holds: straight to rounding (thousands a page)
            amount = value.quantize(CENT, ROUND_HALF_UP)
        elif value is None or value == "":
            return ""
        else:
            amount = Decimal(value).quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if not amount:
        amount = abs(amount)  # never "-0.00"
    return _localised(f"{amount:,.2f}", seps or separators())


def format_count(value: int | str | None) -> str:
    """A count with its thousands grouped: 12,345 in English, 12.345 in Dutch and French."""
    try:
        return _localised(f"{int(value or 0):,}", separators())
    except (TypeError, ValueError):
        return str(value)


@register.filter
def money(value: Decimal | str | int | None) -> str:
    return format_money(value)


@register.filter
def money_or_blank(value: Decimal | str | int | None) -> str:
    """An amount, or nothing for zero: a debit or credit column reads best with its zeros left out."""
    if value is None or value == "":
        return ""
    try:
        if Decimal(value) == 0:
            return ""
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    return format_money(value)


def time_ago(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """How long ago, in words: "just now" under a minute (``timesince`` would say "0 minutes"), else
    "3 hours, 5 minutes ago"."""
    now = now or timezone.now()
    if now - value < dt.timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(since)s ago") % {"since": timesince(value, now)}


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """A run's duration: "45 s", "3 min 5 s", "1 h 2 min" (Dutch writes hours "u")."""
    if value is None:
        return ""
    exact = max(0.0, value.total_seconds())
    if exact < 10:
        # A quick sync is not "0 s": below ten seconds, tenths (and hundredths below one).
        shown = number_format(exact, decimal_pos=2 if exact < 1 else 1)
        return gettext("%(seconds)s s") % {"seconds": shown}
    seconds = round(exact)
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        if seconds:
            return gettext("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": seconds}
        return gettext("%(minutes)s min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    if minutes:
        return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return gettext("%(hours)s h") % {"hours": hours}


@register.filter
def counts_by_entity(counts: dict[str, Any] | None) -> list[EntityCounts]:
    return entity_counts(counts)


@register.filter
def changed_entities(counts: dict[str, Any] | None) -> list[EntityCounts]:
    """Only the entities a run created, changed or removed something of."""
    return [row for row in entity_counts(counts) if row.changed_anything]


@register.filter
def stream_label(stream: str | None) -> str:
    if not stream:
        return gettext("Starting")
    return str(STREAM_LABELS.get(stream, stream.replace("_", " ")))


@register.simple_tag
def stream_count() -> int:
    """How many streams a run reads (its progress bar's length)."""
    return len(STREAMS)


@register.filter
def vat_code(code: str | None) -> str:
    """A VAT code as accountants read it: Belgian codes that are a rate ("21", "6", "0") with their "%"."""
    if not code:
        return ""
    text = str(code).strip()
    return f"{text} %" if text.replace(".", "", 1).isdigit() else text


@register.filter
def number(value: int | str | None) -> str:
    """A count with its thousands grouped in the reader's language: 12,345 or 12.345."""
    return format_count(value)


@register.filter
def issue_entity(entity: str | None) -> str:
    """An issue's entity (a stream's ``entity``), as the accountant names it."""
    if entity in ENTITY_LABELS:
        return str(ENTITY_LABELS[entity])
    name = entity or ""
    return name[:1].upper() + name[1:]


@register.simple_tag
def trial_balance_rows(trial_balance: Any, firm_slug: str, client_file_id: int, period: str) -> SafeString:
    """The trial balance's body rows, rendered in one pass.

    A period of 2,000 accounts spent most of its time in the template engine (a ``{% url %}`` and four
    filters per row), then in Django's ``escape`` (lazy-aware, nine calls a row through ``format_html``):
    here the account's number and name are escaped by the standard library's ``html.escape`` (the same five
    characters), the amounts through their separators, and each row is one f-string.
    """
    # The account's id is the last path segment: reverse once with a placeholder id, then fill it in.
    link = reverse("account_lines", args=[firm_slug, client_file_id, 0]).rsplit("/0/", 1)[0] + "/"
    prefix, suffix = html.escape(link), html.escape("/?" + urlencode({"period": period}))
    # An amount (a Decimal of the ledger) is written with digits, a minus sign and the two separators:
    # escaping the separators once escapes every amount.
    decimal, thousands = separators()
    seps = (html.escape(decimal), html.escape(thousands))
    escape = html.escape
    return mark_safe(  # noqa: S308 - every value is escaped on its way in, by html.escape
        "\n".join(
            f'<tr><td class="account-number"><a href="{prefix}{int(row.account_id)}{suffix}">'
            f"{escape(row.number)}</a></td><td>{escape(row.name)}</td>"
            f'<td class="num">{format_money(row.opening, seps)}</td>'
            f'<td class="num">{format_money(row.debit, seps)}</td>'
            f'<td class="num">{format_money(row.credit, seps)}</td>'
            f'<td class="num">{format_money(row.closing, seps)}</td></tr>'
            for row in trial_balance.rows
        )
    )
