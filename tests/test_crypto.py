"""Secrets at rest: encrypted in the raw rows, readable after key rotation, loud on a wrong key."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from silverfin_sync.crypto import SecretUnreadable, _fernet
from syncs.models import Connection
from tests.factories import FirmFactory

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRETS = {"email": "robot@client.be", "access_token": "AT-secret-123", "refresh_token": "TGe0!refresh-456"}


def make_connection() -> Connection:
    return Connection.objects.create(
        firm=FirmFactory.create(),
        name="WoW",
        access_token_expires_at=timezone.now() + dt.timedelta(hours=1),
        **SECRETS,
    )


def raw_row(pk: int) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, access_token, refresh_token FROM syncs_connection WHERE id = %s", [pk])
        return cursor.fetchone()


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    _fernet.cache_clear()
    yield
    _fernet.cache_clear()


def test_secrets_are_ciphertext_in_the_database_and_plaintext_in_python() -> None:
    saved = make_connection()
    raw = raw_row(saved.pk)
    for value, secret in zip(raw, SECRETS.values(), strict=True):
        assert secret not in value
        assert value.startswith("gAAAA")  # a Fernet token
    fresh = Connection.objects.get(pk=saved.pk)
    assert (fresh.email, fresh.access_token, fresh.refresh_token) == tuple(SECRETS.values())


def test_rotation_reencrypts_under_the_new_key_and_the_old_key_can_then_go(settings) -> None:
    saved = make_connection()
    before = raw_row(saved.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    _fernet.cache_clear()
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 1 row under the newest key." in out.getvalue()
    assert raw_row(saved.pk) != before
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    _fernet.cache_clear()
    assert Connection.objects.get(pk=saved.pk).refresh_token == SECRETS["refresh_token"]


def test_a_wrong_key_fails_loudly_instead_of_returning_garbage(settings) -> None:
    saved = make_connection()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    _fernet.cache_clear()
    with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
        Connection.objects.with_secrets().get(pk=saved.pk)


def test_rotation_with_a_missing_old_key_changes_nothing(settings) -> None:
    saved = make_connection()
    before = raw_row(saved.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    _fernet.cache_clear()
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert raw_row(saved.pk) == before


def test_an_invalid_key_setting_is_reported_clearly(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    _fernet.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        make_connection()
