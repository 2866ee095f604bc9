"""``manage.py invite_person``: the People page's invitation, for automation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from administration import services
from clients.models import Role
from silverfin_sync.commands import OperatorCommand
from syncs.management.commands._common import client_file_by_code, firm_by_slug, validation_message


class Command(OperatorCommand):
    help = "E-mail someone a one-time link (valid 7 days) that gives them a role in a firm."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--files",
            default="",
            help="For external contributors and Pulse users: file codes, comma-separated.",
        )
        parser.add_argument("--language", default="", help="nl, fr or en (default: the firm's).")
        parser.add_argument(
            "--site-url", required=True, help="Where the portal answers, e.g. https://sync.example.be"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        firm = firm_by_slug(options["firm"])
        files = [client_file_by_code(firm, code) for code in options["files"].split(",") if code.strip()]
        site = options["site_url"].rstrip("/")
        if not site.startswith(("https://", "http://")):
            raise CommandError(_("--site-url must start with https:// (or http:// for a test site)."))
        try:
            invitation = services.invitation_send(
                firm=firm,
                actor=None,
                email=options["email"],
                role=options["role"],
                client_files=files,
                language=options["language"],
                accept_url=lambda token: f"{site}/invitations/{token}/",
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from error
        self.stdout.write(
            _("Invited %(email)s as %(role)s; the link works 7 days.")
            % {"email": invitation.email, "role": invitation.get_role_display()}
        )
