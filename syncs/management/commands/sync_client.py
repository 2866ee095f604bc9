"""``manage.py sync_client``: sync one client file now and print a JSON summary."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from syncs.engine import sync_run_execute
from syncs.models import ClientLink, SyncRun
from syncs.providers import ProviderError
from syncs.runs import sync_run_request

from ._common import client_file_by_code, firm_by_slug


def run_summary(run: SyncRun) -> dict[str, Any]:
    return {
        "run": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "api_calls": run.api_calls,
        "api_calls_by_kind": run.api_calls_by_kind,
        "issues": run.issues.count(),
        "error": {"class": run.error_class, "message": run.error_message} if run.error_class else None,
        "reconciliation": {
            "ties_out": run.reconciled,
            "periods": [
                {"period": check.period_key, "ties_out": check.ties_out, "differences": check.differences}
                for check in run.period_checks.all()
            ],
        },
    }


class Command(BaseCommand):
    help = "Sync a client file: queue a run for the workers, or with --wait run it here and print the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--client", required=True, help="The client file's file code.")
        parser.add_argument("--wait", action="store_true", help="Run the sync now and wait for its end.")
        parser.add_argument(
            "--timeout", type=int, default=3600, help="With --wait: give up after this many seconds."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        firm = firm_by_slug(options["firm"])
        client_file = client_file_by_code(firm, options["client"])
        link = ClientLink.objects.filter(client_file=client_file, unlinked_at__isnull=True).first()
        if link is None:
            raise CommandError(
                f"'{client_file.name}' is not linked to a bookkeeping package (see link_client)."
            )
        with transaction.atomic():
            run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
        if options["wait"]:
            run = self._wait(run, options["timeout"])
        self.stdout.write(json.dumps(run_summary(run), indent=2, default=str))
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(run.error_message or "The sync failed.")

    def _wait(self, run: SyncRun, timeout: int) -> SyncRun:
        deadline = time.monotonic() + timeout
        attempts = 0
        while True:
            try:
                # Runs it here unless a worker claimed it first (the claim is compare-and-set).
                run = sync_run_execute(run_id=run.pk)
            except ProviderError as error:  # transient: back off and try again, like the worker would
                attempts += 1
                if attempts > 5 or time.monotonic() > deadline:
                    raise CommandError(error.user_message) from error
                time.sleep(min(60, 5 * 2**attempts))
                continue
            if not run.is_active:
                return run
            if time.monotonic() > deadline:
                raise CommandError(f"Run {run.pk} is still {run.status} after {timeout} s.")
            time.sleep(1)
            run.refresh_from_db()
            if not run.is_active:
                return run
