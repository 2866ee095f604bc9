"""The demo's commands (``seed_demo``, ``rundemo``) refuse to run in production: one would reset users to the
published demo password, the other would start the WoW sandbox and Django's development server."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def demo_command_refuse_in_production(command: str) -> None:
    if settings.PRODUCTION:
        raise CommandError(
            _(
                "%(command)s is for the demo only and refuses to run with DJANGO_ENV=production "
                "(it would publish known passwords or start development servers)."
            )
            % {"command": command}
        )
