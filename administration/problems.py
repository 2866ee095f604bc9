"""The words for what an import row will do, or why it cannot: rows store codes, pages word them in the
reader's language."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

IMPORT_ACTIONS: dict[str, Promise] = {
    "create": _("New client file"),
    "rename": _("New name"),
    "link": _("Link and sync"),
    "unchanged": _("Nothing to change"),
}

IMPORT_PROBLEMS: dict[str, Promise] = {
    "formula": _("A cell holds a formula; type the values themselves."),
    "missing_file_code": _("No file code."),
    "missing_name": _("No name for a new client file."),
    "duplicate_file_code": _("This file code is on an earlier line too."),
    "duplicate_company_code": _("This company code is on an earlier line too."),
    "too_long": _("Too long: at most 50 characters for a file code, 200 for a name, 100 for a company code."),
    "unprintable": _("Holds characters that cannot be typed."),
    "bad_date": _("“Sync from” is not a date (write 01/01/2024 or 2024-01-01)."),
    "date_without_company": _("“Sync from” needs a company code on the same line."),
    "file_linked_elsewhere": _(
        "This client file is already linked to company %(detail)s; change that on the client file’s page."
    ),
    "company_linked_elsewhere": _("This company code is already linked to the client file %(detail)s."),
    "archived": _("This client file is archived; unarchive it before linking it."),
    "no_connection": _("The firm has no working WinbooksOnWeb sync to check the code against (Syncs tab)."),
    "company_refused": _("WinbooksOnWeb refused this company code: %(detail)s"),
    "company_unchecked": _(
        "WinbooksOnWeb could not be asked about this code (%(detail)s); upload the file again later."
    ),
    "not_a_year_start": _("“Sync from” must be the first day of a fiscal year of this company: %(detail)s."),
}
