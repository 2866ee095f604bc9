"""Shared bits of the operator commands: finding objects by the names operators type, and errors."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from clients.models import ClientFile, Firm


def firm_by_slug(slug: str) -> Firm:
    slug = slug.strip()
    firm = Firm.objects.filter(slug=slug).first()
    if firm is None:
        raise CommandError(_("No firm with the slug '%(slug)s'.") % {"slug": slug})
    return firm


def client_file_by_code(firm: Firm, file_code: str) -> ClientFile:
    client_file = ClientFile.objects.filter(firm=firm, file_code__iexact=file_code.strip()).first()
    if client_file is None:
        raise CommandError(
            _("The firm '%(firm)s' has no client file with the file code '%(code)s'.")
            % {"firm": firm.slug, "code": file_code}
        )
    return client_file


def validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{'' if field == '__all__' else field + ': '}{message}"
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return " ".join(error.messages)
