"""``manage.py link_client``: link a client file to a WinbooksOnWeb company, as its Sync panel does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from silverfin_sync.commands import OperatorCommand
from syncs.models import Connection
from syncs.services import client_link_set

from ._common import client_file_by_code, firm_by_slug, validation_message


class Command(OperatorCommand):
    help = "Link a client file to a WinbooksOnWeb company code (checked against WoW first); queues its first sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--client", required=True, help="The client file's file code.")
        parser.add_argument("--company-code", required=True, help="The WinbooksOnWeb company code.")
        parser.add_argument("--sync", help="The sync's name, when the firm has several connected syncs.")
        parser.add_argument("--start-date", help="Do not sync before this fiscal-year start (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        firm = firm_by_slug(options["firm"])
        client_file = client_file_by_code(firm, options["client"])
        connections = Connection.objects.filter(firm=firm, status=Connection.Status.CONNECTED)
        if options["sync"]:
            connections = connections.filter(name=options["sync"])
        found = list(connections[:2])
        if not found:
            raise CommandError(
                _("The firm '%(firm)s' has no connected sync named '%(name)s'.")
                % {"firm": firm.slug, "name": options["sync"]}
                if options["sync"]
                else _("The firm '%(firm)s' has no connected sync; connect one first (winbooks_connect).")
                % {"firm": firm.slug}
            )
        if len(found) > 1:
            raise CommandError(_("The firm has several connected syncs; choose one with --sync NAME."))
        start_date = None
        if options["start_date"]:
            try:
                start_date = dt.date.fromisoformat(options["start_date"])
            except ValueError as error:
                raise CommandError(
                    _("--start-date must be YYYY-MM-DD, not '%(value)s'.") % {"value": options["start_date"]}
                ) from error
        try:
            link = client_link_set(
                client_file=client_file,
                connection=found[0],
                company_code=options["company_code"],
                actor=None,
                start_date=start_date,
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from error
        self.stdout.write(
            _("Linked '%(name)s' (%(code)s) to company %(company)s on '%(sync)s'; its first sync is queued.")
            % {
                "name": client_file.name,
                "code": client_file.file_code,
                "company": link.company_code,
                "sync": found[0].name,
            }
        )
