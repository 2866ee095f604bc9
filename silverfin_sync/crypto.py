"""Secrets at rest: MultiFernet over the keys in ``FIELD_ENCRYPTION_KEYS``.

The first key encrypts; every key decrypts, so a new key is put first, everything is re-encrypted
(``manage.py rotate_encryption_keys``) and only then the old key is removed. A value that no key can
decrypt raises ``SecretUnreadable``: a wrong or missing key fails loudly, it never yields garbage.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored or read.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from error


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS "
            "(a key was removed before re-encryption, or the keys are wrong)."
        ) from error


def reencrypt(token: str) -> str:
    """The same secret, encrypted under the first (newest) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("A stored secret cannot be decrypted with the configured keys.") from error


class EncryptedTextField(models.TextField):
    """A text column that holds only Fernet ciphertext; Python sees the plaintext.

    Empty strings are stored as they are (there is nothing to hide), so "no secret" stays queryable.
    """

    description = "Text encrypted with the project's MultiFernet keys"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
