"""Idle session timeout: a session ends ``SESSION_IDLE_TIMEOUT_SECONDS`` after the user's last request.

Django pushes a session's expiry on only when the session is saved; saving it on every request
(``SESSION_SAVE_EVERY_REQUEST``) would cost a write per page and per htmx poll. Instead the expiry is pushed
on at most once a minute (``IDLE_TOUCH_SECONDS``): the session records when it was last pushed on, and a
request after that minute marks it modified, so ``SessionMiddleware`` saves it with a fresh expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

TOUCHED_AT = "idle_touched_at"
IDLE_TOUCH_SECONDS = 60


def session_touch(request: HttpRequest, **kwargs: Any) -> None:
    """On log-in (``user_logged_in``): the session starts its idle time now."""
    request.session[TOUCHED_AT] = int(time.time())


class IdleSessionTimeout:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.session_key and not session.is_empty():
            touched = session.get(TOUCHED_AT, 0)
            if time.time() - touched >= IDLE_TOUCH_SECONDS:
                session[TOUCHED_AT] = int(time.time())  # modified: saved, expiry pushed on
        return response
