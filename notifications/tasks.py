"""Celery tasks of notifications: thin, call the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.send_daily_digests", acks_late=True, time_limit=900)
def send_daily_digests() -> int:
    """Once a day (beat): each opted-in person's digest of the files that need attention."""
    from .services import send_daily_digests as send

    return send()
