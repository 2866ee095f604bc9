"""System checks of the encryption keys (``manage.py check``, ``migrate``, and the web process's start-up).

A key that is not a Fernet key is an error: nothing could be stored or read. Keys that cannot read the
secrets already stored are a warning, not an error: the site must still start so that an admin can reconnect
the connections whose secrets were lost (reconnecting overwrites them without reading them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.db import DatabaseError

ENCRYPTION_TAG = "encryption"
GENERATE_HINT = (
    'Generate one with python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


@checks.register(ENCRYPTION_TAG, checks.Tags.security)
def encryption_keys_check(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is empty: secrets can be neither stored nor read.",
                hint=GENERATE_HINT,
                id="silverfin_sync.E001",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            # The message says which key, never what it holds.
            errors.append(
                checks.Error(
                    f"Key {position} of {len(keys)} in FIELD_ENCRYPTION_KEYS is not a Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    hint=GENERATE_HINT,
                    id="silverfin_sync.E002",
                )
            )
    return errors


@checks.register(ENCRYPTION_TAG, checks.Tags.database)
def stored_secrets_readable_check(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if not databases or encryption_keys_check():
        return []
    from silverfin_sync.crypto import SecretUnreadable
    from syncs.models import CONNECTION_SECRET_FIELDS, Connection

    unreadable = 0
    try:
        for pk in Connection._base_manager.values_list("pk", flat=True):
            try:
                Connection._base_manager.only(*CONNECTION_SECRET_FIELDS).get(pk=pk)
            except SecretUnreadable:
                unreadable += 1
    except DatabaseError:  # not migrated yet: nothing stored
        return []
    if not unreadable:
        return []
    return [
        checks.Warning(
            f"{unreadable} connection(s) hold secrets that no key in FIELD_ENCRYPTION_KEYS can decrypt.",
            hint="Put the key they were encrypted with back in FIELD_ENCRYPTION_KEYS, or have an admin "
            "reconnect them on the Syncs tab.",
            id="silverfin_sync.W001",
        )
    ]


def encryption_keys_validate() -> None:
    """Refuses to start a process whose keys are not Fernet keys (gunicorn runs no system checks)."""
    from django.core.exceptions import ImproperlyConfigured

    errors = encryption_keys_check()
    if errors:
        raise ImproperlyConfigured(" ".join(error.msg for error in errors))
