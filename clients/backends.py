"""Log-in by e-mail, whatever its capitals: ``ADMIN@DEMO.TEST`` is ``admin@demo.test`` (e-mail addresses are
compared case-insensitively everywhere people type them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class EmailBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username:
            stored = (
                get_user_model()
                ._default_manager.filter(username__iexact=username.strip())
                .values_list("username", flat=True)
                .first()
            )
            username = stored or username
        return super().authenticate(request, username=username, password=password, **kwargs)
