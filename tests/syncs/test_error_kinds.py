"""What WinbooksOnWeb refuses or garbles the same way every time is not retried: the run fails at once with
an error that says so, instead of five retries and "Gave up after 5 retries" (syncs/providers/winbooks/
errors.py). Through the Celery task, whose retries run at once when applied in the test process."""

from __future__ import annotations

from typing import Any

import pytest

from syncs.models import ClientLink, ErrorKind, SyncRun
from syncs.tasks import run_sync

pytestmark = pytest.mark.django_db

ACCOUNTS_PATH = "GLAccounts/Folder/DEMO_BV/ExecuteCriteria"


def fault(sandbox: Any, **spec: Any) -> None:
    response = sandbox.control("POST", "faults", spec)
    assert response.status_code == 201, response.text


def run_task(link: ClientLink) -> SyncRun:
    run = SyncRun.objects.get(link=link)  # queued by linking
    run_sync.apply(args=[run.pk]).get()
    run.refresh_from_db()
    return run


def test_a_query_wow_refuses_as_malformed_fails_the_run_once_with_a_config_error(
    link: ClientLink, wow_sandbox: Any
) -> None:
    fault(wow_sandbox, path_contains=ACCOUNTS_PATH, kind="status", status=400, count=10)
    wow_sandbox.control("DELETE", "stats")
    run = run_task(link)
    assert run.status == SyncRun.Status.FAILED and run.error_class == ErrorKind.CONFIG, run.error_message
    assert run.attempt == 1, run.error_message  # not retried
    assert "refused a request of this sync as invalid (HTTP 400)" in run.error_message
    assert "Gave up" not in run.error_message
    seen = wow_sandbox.control("GET", "stats").json()
    assert seen["faults"] == {"status": 1} and seen["status"].get("400") == 1


def test_an_answer_wow_garbles_fails_the_run_once_with_a_data_error(
    link: ClientLink, wow_sandbox: Any
) -> None:
    fault(wow_sandbox, path_contains=ACCOUNTS_PATH, kind="malformed", count=10)
    wow_sandbox.control("DELETE", "stats")
    run = run_task(link)
    assert run.status == SyncRun.Status.FAILED and run.error_class == ErrorKind.DATA, run.error_message
    assert run.attempt == 1, run.error_message
    assert "answered something this sync cannot read" in run.error_message
    assert wow_sandbox.control("GET", "stats").json()["faults"] == {"malformed": 1}
