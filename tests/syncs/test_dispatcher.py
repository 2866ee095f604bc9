"""The dispatcher at fleet scale (issue #22): one tick queues every due link in a fixed number of queries,
sends the runs firm by firm in turn, and its pipelined broker messages are the ones Celery makes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.fleet import generate_linked_files
from clients.models import ClientFile
from syncs.broker import MessageTemplate, message_like, redis_broker, template_message
from syncs.models import ClientLink, SyncRun
from syncs.schedule import sync_dispatch_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker() -> Any:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("syncs", "syncs-now")
    yield client
    client.delete("syncs", "syncs-now")


def queued_run_ids(broker: Any, queue: str = "syncs") -> list[int]:
    """The runs the broker holds for ``queue``, in the order workers will take them (kombu pops from the
    right)."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange(queue, 0, -1))]
    return [json.loads(base64.b64decode(message["body"]))[0][0] for message in messages]


def due_fleet(firms: int, files_per_firm: int | list[int], prefix: str) -> list[ClientLink]:
    return generate_linked_files(
        firms=firms,
        files_per_firm=files_per_firm,  # type: ignore[arg-type]
        prefix=prefix,
        api_url="http://127.0.0.1:9",
        next_sync_at=timezone.now() - dt.timedelta(minutes=1),
    )


def dispatch(capture: Any) -> tuple[int, dict[str, int]]:
    with capture(execute=True), CaptureQueriesContext(connection) as queries:
        result = sync_dispatch_due()
    return len(queries), result


def test_a_tick_queues_every_due_link_in_the_same_number_of_queries_at_any_size(
    broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    small = due_fleet(2, 3, "small")
    queries_small, result = dispatch(django_capture_on_commit_callbacks)
    assert result["queued"] == 6 and len(queued_run_ids(broker)) == 6
    broker.delete("syncs")

    large = due_fleet(12, 40, "large")
    queries_large, result = dispatch(django_capture_on_commit_callbacks)
    assert result["queued"] == 480
    assert queries_large == queries_small  # 80 times the links, not one query more

    links = [*small, *large]
    runs = SyncRun.objects.filter(link__in=links)
    assert runs.count() == len(links) and set(runs.values_list("trigger", flat=True)) == {"schedule"}
    assert set(queued_run_ids(broker)) == set(runs.filter(link__in=large).values_list("pk", flat=True))
    # Each link's latest run is its new run (set with its next sync, as the trigger would), and its next
    # sync moved to tomorrow night.
    for link in ClientLink.objects.filter(pk__in=[link.pk for link in links]).select_related("latest_run"):
        assert link.latest_run is not None and link.latest_run.link_id == link.pk
        assert link.latest_run.status == SyncRun.Status.QUEUED
        assert link.next_sync_at is not None and link.next_sync_at > timezone.now()
    # Nothing is due any more: the next tick queues nothing and sends nothing.
    _, result = dispatch(django_capture_on_commit_callbacks)
    assert result == {"queued": 0, "resent": 0}
    assert len(queued_run_ids(broker)) == 480


def test_firms_take_turns_in_the_queue(broker: Any, django_capture_on_commit_callbacks: Any) -> None:
    """A firm with many files due does not stand in the queue before the others' few: each firm's first
    run, then each firm's second, and so on."""
    links = due_fleet(3, [25, 3, 1], "turns")  # enough runs for the pipelined path (syncs/broker.py)
    firm_of = {link.pk: link.firm_id for link in links}
    dispatch(django_capture_on_commit_callbacks)
    run_firm = dict(SyncRun.objects.filter(link__in=links).values_list("pk", "link_id"))
    order = [firm_of[run_firm[run_id]] for run_id in queued_run_ids(broker)]
    big, medium, small = (links[0].firm_id, links[25].firm_id, links[28].firm_id)
    assert order == [big, medium, small, big, medium, big, medium, *[big] * 22]


def test_a_link_with_an_active_run_gets_no_second_one_and_archived_files_none(
    broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    busy, archived, plain = due_fleet(1, 3, "busy")
    active = SyncRun.objects.create(link=busy, client_file_id=busy.client_file_id, trigger="manual")
    ClientFile.objects.filter(pk=archived.client_file_id).update(archived_at=timezone.now())
    _, result = dispatch(django_capture_on_commit_callbacks)
    assert result["queued"] == 1
    assert list(SyncRun.objects.filter(link=busy).values_list("pk", flat=True)) == [active.pk]
    assert not SyncRun.objects.filter(link=archived).exists()
    assert queued_run_ids(broker) == [SyncRun.objects.get(link=plain).pk]
    busy.refresh_from_db()
    assert busy.latest_run_id == active.pk  # still the active run
    assert busy.next_sync_at is not None and busy.next_sync_at > timezone.now()  # moved all the same


def test_a_pipelined_message_is_the_one_celery_makes_but_for_its_ids() -> None:
    broker = redis_broker()
    assert broker is not None
    celery_made = template_message(broker, 42)
    assert celery_made is not None
    for made in (
        message_like(celery_made, 42, "syncs"),
        json.loads(MessageTemplate(celery_made).message(42, "syncs")),
    ):
        assert made["headers"]["id"] != celery_made["headers"]["id"]
        assert made["headers"]["id"] == made["headers"]["root_id"] == made["properties"]["correlation_id"]
        assert made["properties"]["delivery_tag"] != celery_made["properties"]["delivery_tag"]
        for message in (made, celery_made):
            message["headers"]["id"] = message["headers"]["root_id"] = None
            message["properties"]["correlation_id"] = message["properties"]["delivery_tag"] = None
            message["properties"]["delivery_info"]["routing_key"] = "syncs"
        assert made == celery_made


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_pipelined_messages(tmp_path: Any) -> None:
    """Thirty runs sent the pipelined way, each claimed once by a real worker (their connections have no
    tokens, so each run ends at once: what counts here is that the worker took and ran every message)."""
    from tests.reliability.workers import purge_broker, wait_for, worker

    purge_broker()
    links = due_fleet(30, 1, "real")
    with worker(tmp_path / "worker.log") as running:
        assert sync_dispatch_due()["queued"] == 30
        runs = SyncRun.objects.filter(link__in=links)
        wait_for(
            lambda: not runs.filter(status=SyncRun.Status.QUEUED, attempt=0).exists(),
            timeout=60,
            what=f"the worker to take every run\n{running.output()}",
        )
    assert sorted(runs.values_list("attempt", flat=True)) == [1] * 30
