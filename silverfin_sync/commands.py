"""The operator's language for management commands.

A command has no request and no signed-in user, so it speaks the language of the shell that runs it, the way
GNU tools do: ``LANGUAGE``, then ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` (``LANG=nl_BE.UTF-8 manage.py
link_client ...`` answers in Dutch). A locale the product does not speak (``C.UTF-8``, ``de_DE``) falls back
to the site's default. An environment variable rather than a ``--language`` option because two commands
already use ``--language`` for the language of the firm or person they create.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def operator_language(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    spoken = {code for code, _name in settings.LANGUAGES}
    for variable in LOCALE_VARIABLES:
        # LANGUAGE may list several (``nl_BE:fr``); the first one the product speaks wins, as in gettext.
        for value in environ.get(variable, "").split(":"):
            code = value.split(".")[0].split("@")[0].split("_")[0].lower()
            if code in spoken:
                return code
        if environ.get(variable) and variable != "LANGUAGE":
            # The first locale variable that is set decides (LC_ALL=C means C, whatever LANG says).
            break
    return settings.LANGUAGE_CODE


class OperatorCommand(BaseCommand):
    """A management command whose messages and errors are in the operator's language."""

    def execute(self, *args: Any, **options: Any) -> Any:
        with translation.override(operator_language()):
            return super().execute(*args, **options)
