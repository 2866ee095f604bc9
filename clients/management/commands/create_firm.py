"""``manage.py create_firm --name NAME --slug SLUG --admin-email E``: a firm and its first admin."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from clients.services import firm_create_with_admin
from silverfin_sync.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create a firm and its first admin. The password comes from --password-env, or a prompt."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The firm's name, e.g. 'Accountants & Co'.")
        parser.add_argument("--slug", required=True, help="Short id used in URLs, e.g. 'accountants-co'.")
        parser.add_argument("--admin-email", required=True, help="The first admin's e-mail (log-in).")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Read the admin's password from this environment variable (never from the command line, "
            "where other users of the machine could read it). Without it, you are prompted.",
        )
        parser.add_argument(
            "--no-password", action="store_true", help="Create the admin without a usable password."
        )
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default="",
            help="The firm's default language and the admin's own (else each browser's).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password: str | None = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"])
            if not password:
                raise CommandError(
                    _("The environment variable %(name)s is empty or unset.")
                    % {"name": options["password_env"]}
                )
        elif not options["no_password"]:
            password = getpass.getpass(_("Password for the admin: "))
            if not password:
                raise CommandError(_("An empty password was given; use --no-password to create none."))
        try:
            membership = firm_create_with_admin(
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                admin_password=password,
                language=options["language"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(_messages(error))) from error
        self.stdout.write(
            _("Created firm '%(name)s' (slug %(slug)s) with admin %(admin)s.")
            % {
                "name": membership.firm.name,
                "slug": membership.firm.slug,
                "admin": membership.user.get_username(),
            }
        )


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [
            f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages
        ]
    return list(error.messages)
