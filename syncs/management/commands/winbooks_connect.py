"""``manage.py winbooks_connect``: connect a firm to WinbooksOnWeb, as the Syncs tab does."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from silverfin_sync.commands import OperatorCommand
from syncs.models import WINBOOKS_DEFAULT_API_URL
from syncs.services import connection_connect

from ._common import firm_by_slug, validation_message


class Command(OperatorCommand):
    help = "Connect a firm to WinbooksOnWeb with an e-mail and a one-time exchange token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--name", required=True, help="The sync's name on the Syncs tab.")
        parser.add_argument("--email", required=True, help="The e-mail the exchange token was created for.")
        parser.add_argument(
            "--exchange-token",
            help="The exchange token (as --exchange-token=VALUE when it starts with a dash). Prefer "
            "--exchange-token-env: a command line can be read by other users.",
        )
        parser.add_argument("--exchange-token-env", metavar="VAR", help="Read the exchange token from VAR.")
        parser.add_argument("--api-url", default=WINBOOKS_DEFAULT_API_URL, help="The API location.")

    def handle(self, *args: Any, **options: Any) -> None:
        token = options["exchange_token"]
        if options["exchange_token_env"]:
            token = os.environ.get(options["exchange_token_env"], "")
        if not token:
            raise CommandError(_("Give the exchange token with --exchange-token or --exchange-token-env."))
        firm = firm_by_slug(options["firm"])
        try:
            connection = connection_connect(
                firm=firm,
                actor=None,
                name=options["name"],
                email=options["email"],
                exchange_token=token,
                api_url=options["api_url"],
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from error
        self.stdout.write(
            _("Connected '%(name)s' (sync #%(id)s) for firm '%(firm)s'.")
            % {"name": connection.name, "id": connection.pk, "firm": firm.slug}
        )
