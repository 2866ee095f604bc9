"""What the sync tells people, stored as a code and its parameters, worded when read.

A worker has no reader: the run's error, its issues, a connection's status and the audit log are written
while nobody is looking, and read later by a Dutch, a French or an English user. So the database keeps
``{"code": ..., "params": {...}}`` (the model of Saleor's ``OrderEvent(type, parameters)``) and the words
are chosen here, in the reader's language, each time a page shows them.

- A parameter that is itself a notice (``{"code": ..., "params": ...}``) is worded too, in the same
  language: "needs reconnecting: <why>".
- ``entity`` names what an issue is about as a stream's ``entity`` does ("document", "account", ...) and is
  shown as the accountant's word for it.
- Rows written before codes existed keep their English text as ``LEGACY`` with ``{"text": ...}`` (and
  ``{"hint": ...}`` for an issue): shown as they were, never lost (syncs/migrations/0002).
- An unknown code (a row written by a newer release) shows its ``text`` parameter, else the code itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.formats import date_format, get_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

LEGACY = "legacy"

TOKEN_HELP = _(
    "Create a new exchange token in WinbooksOnWeb (Settings → Control Panel → External applications → Add) "
    "and enter it here soon after it arrives by e-mail: each token works once and expires. Ticking "
    "“Trust this application” gives you more time to enter it."
)

# What an issue is about (a stream's ``entity``, clients/ledger/streams.py), inside a sentence.
ENTITY_NAMES: dict[str, Promise] = {
    "fiscal year": pgettext_lazy("issue about", "fiscal year"),
    "period": pgettext_lazy("issue about", "period"),
    "journal": pgettext_lazy("issue about", "journal"),
    "account": pgettext_lazy("issue about", "account"),
    "customer": pgettext_lazy("issue about", "customer"),
    "supplier": pgettext_lazy("issue about", "supplier"),
    "document": pgettext_lazy("issue about", "document"),
}

TEXTS: dict[str, Promise] = {
    # The package refused or could not answer (syncs/providers/winbooks.py).
    "wow.api_url_not_web_address": _(
        "The API location must be a web address such as https://rapi.winbooksonweb.be."
    ),
    "wow.api_url_not_https": _(
        "The API location must use https:// (tokens would otherwise travel unencrypted)."
    ),
    "wow.api_url_not_plain": _("The API location must be a plain address, without ?, # or a user name."),
    "wow.api_url_not_wow": _("The API location must be one of WinbooksOnWeb's: %(hosts)s."),
    "wow.api_url_unchecked": _("The API location could not be checked just now; try again in a few minutes."),
    "wow.wrong_email": _(
        "This e-mail address is not the one the exchange token was created for. Use the e-mail address "
        "entered in WinbooksOnWeb when the token was created (the address the token was sent to)."
    ),
    "wow.no_rest_module": _(
        "This WinbooksOnWeb licence does not have the REST API module. If the “External applications” section "
        "is missing from WinbooksOnWeb's Control Panel, ask WinbooksOnWeb support or your client to enable "
        "the REST API module, then create a new exchange token."
    ),
    "wow.token_refused": _(
        "WinbooksOnWeb did not accept this exchange token: it is wrong, has expired or has already been used. "
        "%(token_help)s"
    ),
    "wow.access_revoked": _(
        "WinbooksOnWeb no longer accepts this firm's connection (its access was revoked or has lapsed). An "
        "admin must reconnect it with a new exchange token on the Syncs tab."
    ),
    "wow.company_forbidden": _(
        "The WinbooksOnWeb account of this sync has no access to that company, or the licence lacks the REST "
        "API module. Check that the user who created the exchange token can open the company in "
        "WinbooksOnWeb."
    ),
    "wow.company_unknown": _(
        "WinbooksOnWeb knows no company with this code. Copy the code from WinbooksOnWeb's company switcher, "
        "where it appears in brackets after the company name, exactly as written there: capitals matter."
    ),
    "wow.rate_limited": _("WinbooksOnWeb asks us to slow down; the sync will try again shortly."),
    "wow.answer_too_large": _(
        "WinbooksOnWeb sent more data in one answer than a sync accepts, so the answer was set aside. If this "
        "happens again, contact support: the company's data or the API location may be wrong."
    ),
    "wow.too_slow": _("WinbooksOnWeb took too long to answer; the sync will try again later."),
    "wow.unreachable": _(
        "WinbooksOnWeb could not be reached. Check the API location and try again in a few minutes."
    ),
    "wow.unreachable_at": _(
        "WinbooksOnWeb could not be reached at %(address)s. Check the API location and try again."
    ),
    "wow.temporary": _("WinbooksOnWeb had a temporary problem answering; try again in a few minutes."),
    "wow.unusable_answer": _("WinbooksOnWeb answered something we could not use."),
    "wow.bad_request": _(
        "WinbooksOnWeb refused a request of this sync as invalid (HTTP %(status)s). Trying again will not "
        "help: contact support."
    ),
    "wow.unreadable_answer": _(
        "WinbooksOnWeb answered something this sync cannot read. Trying again will not help until the "
        "company's data or WinbooksOnWeb changes: contact support."
    ),
    "wow.needs_reconnect": _(
        "This firm's WinbooksOnWeb connection needs reconnecting by an admin on the Syncs tab."
    ),
    # How a run ended (syncs/engine.py, syncs/tasks.py, syncs/schedule.py, syncs/services.py).
    "run.unlinked_while_running": _("The client file was unlinked while the sync was running."),
    "run.connection_not_connected": _(
        "The sync “%(connection)s” is %(status)s; an admin must reconnect it on the Syncs tab."
    ),
    # A sync's status inside a sentence ("The sync “X” is disconnected; ...").
    "status.connected": pgettext_lazy("a sync is …", "connected"),
    "status.needs_reconnect": pgettext_lazy("a sync is …", "waiting to be reconnected"),
    "status.disconnected": pgettext_lazy("a sync is …", "disconnected"),
    "run.unexpected_error": _(
        "The sync stopped on an unexpected error; it has been logged for the team. The next sync starts "
        "again from where this one got to."
    ),
    "run.database_unavailable": _("The database was briefly unavailable; the sync continues shortly."),
    "run.gave_up": ngettext_lazy(
        "%(reason)s Gave up after %(retries)s retry; the next scheduled sync tries again.",
        "%(reason)s Gave up after %(retries)s retries; the next scheduled sync tries again.",
        "retries",
    ),
    "run.cancelled_disconnected": _("The sync was disconnected before this run started."),
    "run.cancelled_relinked": _("The client file was linked to another company before this run started."),
    "run.cancelled_unlinked": _("The client file was unlinked before this run started."),
    "run.cancelled_archived": _("The client file was archived before this run started."),
    # What a run could not take in (issues).
    "issue.unreadable": _("WinbooksOnWeb sent a %(entity)s we cannot read: %(detail)s"),
    "issue.unreadable_out_of_range": _("WinbooksOnWeb sent a %(entity)s with a number or date out of range."),
    "issue.deleted_but_used": _(
        "Deleted in WinbooksOnWeb, but the ledger still has bookings on it, so it is kept."
    ),
    "issue.unknown_period": _("The document is booked in a period the ledger does not know."),
    "issue.unknown_journal": _("The document's journal is unknown to the ledger."),
    "issue.line_unknown_account": _("Line %(line)s is booked on an account the ledger does not know."),
    "issue.line_unknown_period": _("Line %(line)s is booked in an unknown period."),
    "issue.line_unknown_relation": _("Line %(line)s names a customer or supplier the ledger does not know."),
    "issue.line_amount_not_exact": _(
        "Line %(line)s has an amount the ledger cannot hold exactly (%(amount)s)."
    ),
    # The audit log: who did what (syncs/services.py).
    "audit.connected": _("Connected “%(connection)s” to %(provider)s."),
    "audit.reconnected": _("Reconnected “%(connection)s” with a new exchange token."),
    "audit.disconnected": _(
        "Disconnected “%(connection)s”. Linked client files keep their ledger and history."
    ),
    "audit.needs_reconnect": _("“%(connection)s” needs reconnecting: %(reason)s"),
    "audit.linked": _("Linked “%(client_file)s” to company %(company_code)s on “%(connection)s”."),
    "audit.relinked": _(
        "Changed the link of “%(client_file)s” from %(old_company_code)s to %(company_code)s on "
        "“%(connection)s”."
    ),
    "audit.unlinked": _("Unlinked “%(client_file)s” from company %(old_company_code)s."),
    "audit.schedule_changed": _("Moved the nightly sync of “%(connection)s” from %(old_time)s to %(time)s."),
    # The demo (silverfin_sync/management/commands/rundemo.py).
    "demo.sandbox_restarted": _("the demo's WinbooksOnWeb sandbox was restarted and forgot its tokens."),
    "audit.start_date_changed": _(
        "Changed “Do not sync before” of “%(client_file)s” from %(old_start_date)s to %(start_date)s."
    ),
    # Closed books (syncs/locks.py).
    "audit.books_locked": _(
        "Closed the books of “%(client_file)s” up to %(lock_date)s (before: %(old_lock_date)s)."
    ),
    "audit.books_unlocked": _("Reopened every period of “%(client_file)s” (closed up to %(old_lock_date)s)."),
    "audit.alert_accepted": _(
        "Accepted the changes in the closed periods of “%(client_file)s” (%(count)s account(s))."
    ),
    # The firm's administration (administration/services.py).
    "audit.file_added": _("Added the client file “%(client_file_name)s” (%(file_code)s)."),
    "audit.file_edited": _(
        "Changed the client file “%(old_name)s” (%(old_file_code)s) to “%(client_file_name)s” (%(file_code)s)."
    ),
    "audit.file_archived": _("Archived the client file “%(client_file_name)s”."),
    "audit.file_unarchived": _("Unarchived the client file “%(client_file_name)s”."),
    "audit.files_imported": _(
        "Imported %(filename)s: %(created)s new, %(renamed)s renamed, %(linked)s linked, %(skipped)s skipped."
    ),
    "audit.file_rights": _("Staff contributors may manage client files: %(staff_may_manage)s."),
    "audit.invited": _("Invited %(email)s as %(role)s."),
    "audit.invite_resent": _("Sent %(email)s a new invitation link."),
    "audit.invite_revoked": _("Revoked the invitation of %(email)s."),
    "audit.joined": _("%(email)s joined as %(role)s."),
    "audit.role_changed": _("Changed the role of %(email)s from %(old_role)s to %(role)s."),
    "audit.files_given": _("Gave %(email)s %(count)s client file(s)."),
    "audit.removed": _("Removed %(email)s from the firm."),
}

# What to do about an issue, by the code.
HINTS: dict[str, Promise] = {
    "issue.unreadable": _(
        "Open it in WinbooksOnWeb and check it; it is left out of the ledger until it reads correctly."
    ),
    "issue.unreadable_out_of_range": _(
        "Open it in WinbooksOnWeb and check it; it is left out of the ledger until it reads correctly."
    ),
    "issue.deleted_but_used": _(
        "Check in WinbooksOnWeb where these bookings went; the next sync clears this once nothing refers to it "
        "any more."
    ),
    "issue.unknown_period": _("Check the document's period in WinbooksOnWeb."),
    "issue.unknown_journal": _("Check the journal in WinbooksOnWeb."),
    "issue.line_unknown_account": _(
        "Check the line's account in WinbooksOnWeb; the document is left out until it is fixed."
    ),
    "issue.line_unknown_period": _("Check the line in WinbooksOnWeb."),
    "issue.line_unknown_relation": _("Check the line's customer or supplier in WinbooksOnWeb."),
    "issue.line_amount_not_exact": _("Check the amount in WinbooksOnWeb."),
}

# Parameters filled in from other texts when worded.
_FIXED_PARAMS: dict[str, dict[str, Promise]] = {"wow.token_refused": {"token_help": TOKEN_HELP}}


@dataclass(frozen=True)
class Notice:
    """A code and its parameters: what is stored; ``str()`` words it in the active language."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEXTS and self.code != LEGACY:
            raise ValueError(
                f"No text for the notice code {self.code!r}: add it to silverfin_sync/notices.py."
            )

    def __str__(self) -> str:
        return render(self.code, self.params)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}

    @classmethod
    def legacy(cls, text: str) -> Notice:
        return cls(LEGACY, {"text": text})


def _is_notice(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("code"), str) and "params" in value


def _param(name: str, value: Any) -> Any:
    if _is_notice(value):
        return render(value["code"], value["params"])
    if name == "entity" and isinstance(value, str):
        return str(ENTITY_NAMES.get(value, value))
    if name.endswith("_date"):
        # An ISO date, shown as the language writes dates; none: "no date".
        if not value:
            return str(pgettext_lazy("no start date", "none"))
        try:
            return date_format(dt.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT")
        except ValueError:
            return value
    if name in {"role", "old_role"} and isinstance(value, str):
        from clients.models import Role

        return str(Role(value).label) if value in Role.values else value
    if isinstance(value, bool):
        return str(pgettext_lazy("a setting is", "yes") if value else pgettext_lazy("a setting is", "no"))
    if name == "amount":
        # Every digit WoW sent (the point is that it has too many), with the language's decimal separator.
        try:
            return format(Decimal(str(value)), "f").replace(".", str(get_format("DECIMAL_SEPARATOR")))
        except (InvalidOperation, ValueError):
            return value
    if isinstance(value, Promise):
        return str(value)
    return value


def render(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The notice ``code`` with ``params``, in the active language."""
    params = params or {}
    template = TEXTS.get(code)
    if template is None:
        return str(params.get("text") or code)
    values = {name: _param(name, value) for name, value in params.items()}
    for name, text in _FIXED_PARAMS.get(code, {}).items():
        values[name] = str(text)
    try:
        # ``%`` on the lazy text: an ngettext_lazy one picks its plural form from its count parameter.
        return str(template % values)
    except (KeyError, TypeError, ValueError):
        # A row missing a parameter still says what it is about.
        return f"{code} {dict(params)}"


def render_hint(code: str, params: Mapping[str, Any] | None = None) -> str:
    """What to do about an issue with ``code``, in the active language."""
    params = params or {}
    hint = HINTS.get(code)
    if hint is None:
        return str(params.get("hint") or "")
    return str(hint)
