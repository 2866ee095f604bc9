"""No firm can starve the others: firm A's WoW host is hostile, firm B's files sync all the same.

Two real Celery workers. Firm A's connection points at a hostile host on loopback (an answer that drips
for ever, or one that never ends); firm B has two client files on the sandbox. B's runs all succeed, each
claimed once; A's run ends (re-queued as too slow, or failed as too large) within the exchange's deadline
instead of holding a worker; no run is claimed twice; the workers' memory stays bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncs.models import Connection, SyncRun
from tests.factories import ClientFileFactory
from tests.fixtures import FirmWorld
from tests.hostile_wow import hostile_server

from .helpers import connect_and_link
from .workers import purge_broker, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DONE = {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED}


def peak_memory_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(("behaviour", "outcome"), [("drip_body", "transient"), ("huge", "data")])
def test_a_hostile_host_for_one_firm_does_not_stop_another_firms_syncs(
    world: FirmWorld,
    other_world: FirmWorld,
    wow_sandbox: Any,
    tmp_path: Path,
    settings: Any,
    behaviour: str,
    outcome: str,
) -> None:
    purge_broker()
    settings.SYNC_STALE_AFTER_SECONDS = 2
    with hostile_server(behaviour, interval=1.0, drip_bytes=100_000) as hostile:
        # Firm A: connected on the sandbox, then its API location answers as the hostile host does.
        a_link = connect_and_link(other_world, wow_sandbox)
        Connection.objects.filter(pk=a_link.connection_id).update(api_url=hostile.url)
        # Firm B: two client files on two companies of the sandbox.
        wow_sandbox.control(
            "POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
        )
        b_links = [
            connect_and_link(world, wow_sandbox),
            connect_and_link(
                world, wow_sandbox, client_file=ClientFileFactory.create(firm=world.firm), code="SECOND_BV"
            ),
        ]
        env = {"SYNC_STALE_AFTER_SECONDS": "2", "WOW_EXCHANGE_DEADLINE_SECONDS": "4"}
        with worker(tmp_path / "one.log", **env) as one, worker(tmp_path / "two.log", **env) as two:
            a_run = SyncRun.objects.get(link=a_link)
            b_runs = [SyncRun.objects.get(link=link) for link in b_links]

            def a_ended() -> SyncRun | None:
                run = SyncRun.objects.get(pk=a_run.pk)
                return run if run.error_class == outcome else None

            ended = wait_for(a_ended, timeout=60, what="firm A's run to end on its hostile host")
            for run in b_runs:
                wait_for(
                    lambda run=run: SyncRun.objects.get(pk=run.pk).status in DONE,  # type: ignore[misc]
                    timeout=120,
                    what="firm B's runs to end",
                )
            peaks = [peak_memory_kib(w.process.pid) for w in (one, two)]
            logs = one.output() + two.output()
    for run in b_runs:
        done = SyncRun.objects.get(pk=run.pk)
        assert done.status == SyncRun.Status.SUCCEEDED, (done.error_message, logs)
        assert done.attempt == 1, logs
    assert ended.attempt == 1  # claimed once, never taken over
    assert ended.status == (SyncRun.Status.QUEUED if outcome == "transient" else SyncRun.Status.FAILED)
    assert ended.error_message  # says why, in words
    assert "claim lost" not in logs
    # A never-ending answer was abandoned at 32 MB, not read to its 100 MB (the issue saw 680 MB).
    assert max(peaks) < 400 * 1024, peaks
