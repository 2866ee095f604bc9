"""``manage.py sync_client``: sync one client file now and print a JSON summary."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from silverfin_sync.commands import OperatorCommand
from syncs.engine import sync_run_execute
from syncs.models import ErrorKind, SyncRun
from syncs.providers import ProviderError
from syncs.runs import client_file_sync_now, retry_delay

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


class _WithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True


@contextlib.contextmanager
def _one_line_errors(*, enabled: bool) -> Iterator[None]:
    """While the run goes on here, the engine's log lines say what failed without a Python traceback (the
    worker's logs keep theirs); ``--traceback`` shows it."""
    if not enabled:
        yield
        return
    engine_logger, quiet = logging.getLogger("syncs.engine"), _WithoutTraceback()
    engine_logger.addFilter(quiet)
    try:
        yield
    finally:
        engine_logger.removeFilter(quiet)


class Command(OperatorCommand):
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
        try:
            with transaction.atomic():
                run, _queued = client_file_sync_now(client_file=client_file, requested_by=None)
        except ValidationError as refused:
            raise CommandError(
                _("'%(name)s': %(reason)s") % {"name": client_file.name, "reason": refused.messages[0]}
            ) from refused
        if options["wait"]:
            with _one_line_errors(enabled=not options["traceback"]):
                run = self._wait(run, options["timeout"])
        self.stdout.write(json.dumps(run_summary(run), indent=2, default=str))
        if run.status == SyncRun.Status.FAILED:
            hint = (
                ""
                if options["traceback"] or run.error_class != ErrorKind.INTERNAL
                else " " + _("(--traceback shows where)")
            )
            raise CommandError((run.error_message or _("The sync failed.")) + hint)

    def _wait(self, run: SyncRun, timeout: int) -> SyncRun:
        deadline = time.monotonic() + timeout
        attempts = 0
        while True:
            try:
                # Runs it here unless a worker claimed it first (the claim is compare-and-set).
                run = sync_run_execute(run_id=run.pk)
            except ProviderError as error:  # transient: back off and try again, like the worker would
                if error.kind != ErrorKind.TRANSIENT:
                    raise
                attempts += 1
                if attempts > 5 or time.monotonic() > deadline:
                    raise CommandError(error.user_message) from error
                time.sleep(retry_delay(attempts, base=5, cap=60))
                continue
            except Exception:
                # An unexpected error: the engine recorded the run as failed and logged it; the operator
                # gets the run's summary and its one-line message, like any other failure.
                run.refresh_from_db()
                if run.is_active:
                    raise
                return run
            if not run.is_active:
                return run
            if time.monotonic() > deadline:
                raise CommandError(
                    _("Run %(run)s is still %(status)s after %(seconds)s s.")
                    % {"run": run.pk, "status": run.get_status_display(), "seconds": timeout}
                )
            time.sleep(1)
            run.refresh_from_db()
            if not run.is_active:
                return run
