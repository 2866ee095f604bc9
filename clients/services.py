"""Write-side operations on firms, people and client files. Views and commands call these; nothing else
writes these models."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from .models import ClientFile, Firm, Membership, Profile, Role


def _clean_language(language: str, *, field: str, blank_allowed: bool) -> str:
    language = language.strip().lower()
    if (language == "" and blank_allowed) or language in dict(settings.LANGUAGES):
        return language
    raise ValidationError(
        {
            field: _("Unknown language “%(language)s”; choose one of %(choices)s.")
            % {"language": language, "choices": ", ".join(code for code, _name in settings.LANGUAGES)}
        }
    )


def profile_language_set(*, user: User, language: str) -> Profile:
    """The user's own language ("" to follow the firm's default, then the browser's)."""
    language = _clean_language(language, field="language", blank_allowed=True)
    profile, _created = Profile.objects.update_or_create(user=user, defaults={"language": language})
    return profile


def firm_default_language_set(*, firm: Firm, language: str) -> Firm:
    """The language of the firm's people who chose none ("" for each browser's own)."""
    firm.default_language = _clean_language(language, field="default_language", blank_allowed=True)
    firm.save(update_fields=["default_language", "updated_at"])
    return firm


def _clean_text(value: str, *, field: str, max_length: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValidationError({field: _("This field is required.")})
    if len(cleaned) > max_length:
        raise ValidationError(
            {
                field: _("At most %(max)s characters (this one has %(length)s).")
                % {"max": max_length, "length": len(cleaned)}
            }
        )
    return cleaned


def user_get_or_create(*, email: str, password: str | None = None, full_name: str = "") -> User:
    """The user who logs in with ``email``; created (with ``password``) when new.

    A new user's password must pass ``AUTH_PASSWORD_VALIDATORS``, as on the site's password pages."""
    email = email.strip().lower()
    validate_email(email)
    if password and not User.objects.filter(username=email).exists():
        try:
            password_validation.validate_password(password, User(username=email, email=email))
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from error
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        first, _space, last = full_name.strip().partition(" ")
        user.first_name, user.last_name = first[:150], last[:150]
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


@transaction.atomic
def firm_create(*, name: str, slug: str) -> Firm:
    name = _clean_text(name, field="name", max_length=200)
    slug = slug.strip().lower()
    validate_slug(slug)
    if Firm.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("A firm with the slug “%(slug)s” already exists.") % {"slug": slug}})
    return Firm.objects.create(name=name, slug=slug)


@transaction.atomic
def membership_set(
    *, firm: Firm, user: User, role: Role | str, client_files: Iterable[ClientFile] = ()
) -> Membership:
    """Give ``user`` exactly one role in ``firm`` (replacing any earlier one)."""
    if role not in Role.values:
        raise ValidationError(
            {
                "role": _("Unknown role “%(role)s”; choose one of %(roles)s.")
                % {"role": role, "roles": ", ".join(Role.values)}
            }
        )
    files = list(client_files)
    if any(client_file.firm_id != firm.pk for client_file in files):
        raise ValidationError({"client_files": _("A client file of another firm cannot be given.")})
    membership, _created = Membership.objects.update_or_create(user=user, firm=firm, defaults={"role": role})
    membership.client_files.set(files)
    return membership


@transaction.atomic
def firm_create_with_admin(
    *, name: str, slug: str, admin_email: str, admin_password: str | None, language: str = ""
) -> Membership:
    """A new firm and its first admin: the operator's way in (``manage.py create_firm``). ``language``, when
    given, is the firm's default and the admin's own."""
    language = _clean_language(language, field="language", blank_allowed=True)
    firm = firm_create(name=name, slug=slug)
    admin = user_get_or_create(email=admin_email, password=admin_password)
    if language:
        firm_default_language_set(firm=firm, language=language)
        profile_language_set(user=admin, language=language)
    return membership_set(firm=firm, user=admin, role=Role.ADMIN)


@transaction.atomic
def client_file_create(*, firm: Firm, name: str, file_code: str) -> ClientFile:
    name = _clean_text(name, field="name", max_length=200)
    file_code = _clean_text(file_code, field="file_code", max_length=50)
    existing = ClientFile.objects.filter(firm=firm, file_code__iexact=file_code).first()
    if existing is not None:
        raise ValidationError(
            {
                "file_code": _("The file code “%(code)s” is already used by %(name)s.")
                % {"code": file_code, "name": existing.name}
            }
        )
    return ClientFile.objects.create(firm=firm, name=name, file_code=file_code)


@transaction.atomic
def client_file_update(*, client_file: ClientFile, name: str, file_code: str) -> ClientFile:
    """A client file's name and file code (unique within the firm, whatever the case)."""
    name = _clean_text(name, field="name", max_length=200)
    file_code = _clean_text(file_code, field="file_code", max_length=50)
    clash = (
        ClientFile.objects.filter(firm_id=client_file.firm_id, file_code__iexact=file_code)
        .exclude(pk=client_file.pk)
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "file_code": _("The file code “%(code)s” is already used by %(name)s.")
                % {"code": file_code, "name": clash.name}
            }
        )
    client_file.name, client_file.file_code = name, file_code
    client_file.save(update_fields=["name", "file_code", "updated_at"])
    return client_file
