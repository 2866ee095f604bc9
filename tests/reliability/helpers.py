"""Helpers of the reliability suite: injected sleeps, readers with a short timeout, sandbox faults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import winbooks
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, Connection, SyncRun
from syncs.providers.winbooks.reader import WinbooksReader
from syncs.providers.winbooks.tokens import refresh_tokens_single_flight, stored_tokens
from syncs.runs import sync_run_request
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld


class Sleeps(list[float]):
    """An injected ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(
    connection_id: int,
    *,
    sleep: Callable[[float], None] | None = None,
    timeout: float | None = None,
    random: Callable[[], float] | None = None,
) -> winbooks.WinbooksClient:
    """What ``client_for_connection`` builds (same single-flight refresh), with an injected sleep, timeout or
    jitter (``random``)."""
    connection = Connection.objects.get(pk=connection_id)

    def coordinate(stale: winbooks.TokenSet, do_refresh: Any) -> winbooks.TokenSet:
        return refresh_tokens_single_flight(connection_id, stale, do_refresh)

    options: dict[str, Any] = {}
    if sleep is not None:
        options["sleep"] = sleep
    if timeout is not None:
        options["timeout"] = timeout
    if random is not None:
        options["random"] = random
    return winbooks.WinbooksClient(
        api_url=connection.api_url,
        email=connection.email,
        tokens=stored_tokens(connection),
        refresh_coordinator=coordinate,
        **options,
    )


def make_reader(link: ClientLink, **options: Any) -> WinbooksReader:
    return WinbooksReader(
        connection_id=link.connection_id,
        company_code=link.company_code,
        client=make_client(link.connection_id, **options),
    )


def connect_and_link(
    world: FirmWorld, sandbox: Any, *, client_file: Any = None, code: str = ""
) -> ClientLink:
    connection = Connection.objects.filter(firm=world.firm, status=Connection.Status.CONNECTED).first()
    if connection is None:
        connection = connection_connect(
            firm=world.firm,
            actor=world.admin,
            name="WinbooksOnWeb",
            email=sandbox.TESTER,
            exchange_token=sandbox.exchange_token(),
            api_url=sandbox.url,
        )
    return client_link_set(
        client_file=client_file or world.given_file,
        connection=connection,
        company_code=code or sandbox.DEMO,
        actor=world.staff,
    )


def queued_run(link: ClientLink) -> SyncRun:
    """The link's active run (linking queued the first one), or a new manual one."""
    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return run


def execute(link: ClientLink, reader: WinbooksReader | None = None) -> SyncRun:
    return sync_run_execute(run_id=queued_run(link).pk, reader=reader)


def fault(sandbox: Any, **spec: Any) -> None:
    response = sandbox.control("POST", "faults", spec)
    assert response.status_code == 201, response.text


def stats_total(sandbox: Any) -> int:
    return int(sandbox.control("GET", "stats").json()["requests"].get("total", 0))


def stats(sandbox: Any) -> dict[str, Any]:
    """The sandbox's statistics: requests by kind, answers by status, faults by kind."""
    return dict(sandbox.control("GET", "stats").json())


def past(seconds: float) -> dt.datetime:
    from django.utils import timezone

    return timezone.now() - dt.timedelta(seconds=seconds)
