"""Many sync runs sent to the broker at once (the dispatcher's nightly fleet), pipelined.

Celery builds, serializes and routes every message on its own: about 0.3 ms each, 6.8 s for 20,000 runs
even in kombu's publish batches (measured, docs/architecture.md). Here the first message of a batch goes
through Celery's own path (``apply_async``) to a scratch queue and is read back; every other message is
that one with its own task id, argument and delivery tag (Celery's task protocol 2 in kombu's Redis
envelope), pushed in pipelines of a thousand. Workers cannot tell them apart:
``tests/syncs/test_dispatcher.py`` compares a copy with the message Celery makes, and real workers run
them. A few runs (fewer than ``FEW``), and any broker but Redis (the embedded default's filesystem broker),
go the plain way.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings

PIPELINE = 1000
FEW = 20  # fewer runs than this go the plain way: a template costs a round trip of its own
SCRATCH_QUEUE = "syncs-template"


def redis_broker() -> Any | None:
    """A Redis client on the broker, or None when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(url)


def template_message(broker: Any, run_id: int) -> dict[str, Any] | None:
    """The message Celery itself makes for ``run_sync(run_id)``, sent to a scratch queue no worker reads and
    read back (one queue name for all: kombu keeps a binding per queue name in Redis). None if another
    sender took it first: any template would do, but there is none left to read."""
    from .tasks import run_sync

    run_sync.apply_async(args=[run_id], queue=SCRATCH_QUEUE)
    raw = broker.rpop(SCRATCH_QUEUE)
    return None if raw is None else dict(json.loads(raw))


class MessageTemplate:
    """A template message turned into a format string: the text of a message for any run in a few µs."""

    def __init__(self, template: dict[str, Any]) -> None:
        _, kwargs, embed = json.loads(base64.b64decode(template["body"]))
        self.body_rest = json.dumps([kwargs, embed])[1:]  # "{}, {...}]": the body after its args
        marked = message_like(template, 0, "", task_id="\x00task", tag="\x00tag", body="\x00body")
        marked["headers"]["argsrepr"] = "\x00args"
        marked["properties"]["delivery_info"]["routing_key"] = "\x00queue"
        text = json.dumps(marked).replace("%", "%%")
        for name in ("task", "tag", "body", "args", "queue"):
            text = text.replace(json.dumps(f"\x00{name}"), f'"%({name})s"')
        self.text = text

    def message(self, run_id: int, queue: str) -> str:
        body = base64.b64encode(f"[[{int(run_id)}], {self.body_rest}".encode()).decode()
        args = f"[{int(run_id)}]"
        return self.text % {
            "task": uuid.uuid4(),
            "tag": uuid.uuid4(),
            "body": body,
            "args": args,
            "queue": queue,
        }


def message_like(
    template: dict[str, Any], run_id: int, queue: str, *, task_id: str = "", tag: str = "", body: str = ""
) -> dict[str, Any]:
    """The template's message for another run and queue: a task id, argument and delivery tag of its own."""
    _, kwargs, embed = json.loads(base64.b64decode(template["body"]))
    task_id = task_id or str(uuid.uuid4())
    properties = template["properties"]
    return {
        **template,
        "body": body or base64.b64encode(json.dumps([[run_id], kwargs, embed]).encode()).decode(),
        "headers": {**template["headers"], "id": task_id, "root_id": task_id, "argsrepr": repr([run_id])},
        "properties": {
            **properties,
            "correlation_id": task_id,
            "delivery_tag": tag or str(uuid.uuid4()),
            "delivery_info": {**properties["delivery_info"], "routing_key": queue},
        },
    }


def send_runs(runs: Iterable[tuple[int, str]]) -> int:
    """Send the runs (id, queue) in their order; how many were sent."""
    from .tasks import run_sync

    pending = list(runs)
    if not pending:
        return 0
    broker = redis_broker() if len(pending) >= FEW else None
    made = None if broker is None else template_message(broker, pending[0][0])
    if broker is None or made is None:
        for run_id, queue in pending:
            run_sync.apply_async(args=[run_id], queue=queue)
        return len(pending)
    template = MessageTemplate(made)
    for start in range(0, len(pending), PIPELINE):
        with broker.pipeline(transaction=False) as pipe:
            for run_id, queue in pending[start : start + PIPELINE]:
                # kombu's Redis transport pushes on the left and workers pop on the right: first in, first out.
                pipe.lpush(queue, template.message(run_id, queue))
            pipe.execute()
    return len(pending)
