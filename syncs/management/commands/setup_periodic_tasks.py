"""``manage.py setup_periodic_tasks``: declare beat's schedule in the database (DatabaseScheduler)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from silverfin_sync.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create or update the periodic tasks beat runs (idempotent; run on every deploy)."

    def handle(self, *args: Any, **options: Any) -> None:
        every_minute, _created = IntervalSchedule.objects.get_or_create(
            every=1, period=IntervalSchedule.MINUTES
        )
        task, created = PeriodicTask.objects.update_or_create(
            name="Dispatch due syncs",
            defaults={
                "task": "syncs.dispatch_due_syncs",
                "interval": every_minute,
                "crontab": None,
                "enabled": True,
                "queue": "syncs",
                "description": "Queues the client files whose nightly sync is due and recovers lost runs.",
            },
        )
        self.stdout.write(
            (
                _("Created periodic task '%(name)s' (every minute).")
                if created
                else _("Updated periodic task '%(name)s' (every minute).")
            )
            % {"name": task.name}
        )
        at_seven, _created = CrontabSchedule.objects.get_or_create(
            minute="0",
            hour="7",
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        digest, created = PeriodicTask.objects.update_or_create(
            name="Daily digests",
            defaults={
                "task": "notifications.send_daily_digests",
                "interval": None,
                "crontab": at_seven,
                "enabled": True,
                "queue": "syncs-now",
                "description": "Mails each opted-in person the client files that failed or have issues.",
            },
        )
        self.stdout.write(
            (
                _("Created periodic task '%(name)s' (every day at 07:00).")
                if created
                else _("Updated periodic task '%(name)s' (every day at 07:00).")
            )
            % {"name": digest.name}
        )
