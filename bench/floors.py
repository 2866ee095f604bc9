"""The floors a sync is held against: the same pages fetched and parsed with nothing else (no database),
and the same rows written with PostgreSQL COPY (no HTTP).

Why: "the sync takes 90 s" says nothing on its own; "the sync takes 1.2 × what merely moving the bytes
costs" says how much of it is ours to win back.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import requests

from clients.ledger.streams import STREAMS
from syncs.providers.winbooks.reader import DEFAULT_PAGE_SIZE, MAX_LEVEL, PAGE_SIZE, STREAM_OMS
from winbooks.dates import dumps
from winbooks.pagination import Key, keyset_query, record_key

_DECODE = msgspec.json.Decoder(float_hook=Decimal).decode


@dataclass
class FetchFloor:
    seconds: float
    requests: int
    records: int
    megabytes: float


def sandbox_access_token(base_url: str, email: str) -> str:
    """A fresh access token through the sandbox's control API and the real token route."""
    exchange = requests.post(
        f"{base_url}/_sandbox/exchange-tokens", json={"email": email, "trusted": True}, timeout=30
    ).json()["exchange_token"]
    answer = requests.post(
        f"{base_url}/OAuth20/Token",
        data={"grant_type": "exchange_token", "code": exchange},
        headers={"Authorization": "Basic " + base64.b64encode(email.encode()).decode()},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def fetch_floor(base_url: str, email: str, folder: str) -> FetchFloor:
    """Every stream's keyset pages, exactly as the reader asks for them (same queries, page sizes and
    levels), following ContinuePath, parsed with msgspec's generic decoder (amounts as Decimal, as the
    product must): nothing converted, nothing written. msgspec, not the standard library's ``json``, because
    the sync itself decodes with it: a floor must not be slower than the product (json would add about 3 s)."""
    token = sandbox_access_token(base_url, email)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    calls = records = size = 0
    started = time.perf_counter()
    for stream in STREAMS:
        om = STREAM_OMS[stream.key]
        page_size = PAGE_SIZE.get(stream.key, DEFAULT_PAGE_SIZE)
        max_level = MAX_LEVEL.get(stream.key, 1)
        key: Key | None = None
        while True:
            query = keyset_query(om, since=None, after=key, page_size=page_size, max_level=max_level)
            url = f"{base_url}/app/{query.plural}/Folder/{folder}/ExecuteCriteria?maxLevel={max_level}"
            body = dumps(query.to_json()).encode()
            rows: list[Any] = []
            continue_path: str | None = None
            while True:
                extra = {"ContinuePath": continue_path} if continue_path else {}
                response = session.post(
                    url,
                    data=body,
                    headers={**headers, **extra, "Content-Type": "application/json"},
                    timeout=120,
                )
                calls += 1
                response.raise_for_status()
                size += len(response.content)
                rows.extend(_DECODE(response.content))
                continue_path = response.headers.get("ContinuePath")
                if not continue_path:
                    break
            distinct = len({row["Id"] for row in rows})  # a header split across chunks counts once
            records += distinct
            if rows:
                key = record_key(rows[-1])
            if distinct < page_size:
                break
    session.close()
    return FetchFloor(time.perf_counter() - started, calls, records, size / 1e6)


@dataclass
class WriteFloor:
    seconds: float
    rows: int
    megabytes: float


def copy_floor(client_file_id: int) -> WriteFloor:
    """The client file's documents and lines, copied out, then COPY-ed into empty twins of their tables
    (same columns, indexes and unique constraints, no foreign keys): the cheapest PostgreSQL can take
    the same rows."""
    from django.db import connection

    from clients.models import Entry, EntryLine

    tables = [Entry._meta.db_table, EntryLine._meta.db_table]
    dumps_by_table: dict[str, bytes] = {}
    rows = 0
    with connection.cursor() as cursor:
        raw = cursor.connection  # psycopg 3
        with raw.cursor() as pg:
            for table in tables:
                buffer = io.BytesIO()
                with pg.copy(
                    f"COPY (SELECT * FROM {table} WHERE client_file_id = {int(client_file_id)}) TO STDOUT"
                ) as copy:
                    for data in copy:
                        buffer.write(data)
                dumps_by_table[table] = buffer.getvalue()
                rows += dumps_by_table[table].count(b"\n")
            for table in tables:
                pg.execute(f"DROP TABLE IF EXISTS bench_floor_{table}")
                pg.execute(f"CREATE TABLE bench_floor_{table} (LIKE {table} INCLUDING ALL)")
            raw.commit()
            started = time.perf_counter()
            for table in tables:
                with pg.copy(f"COPY bench_floor_{table} FROM STDIN") as copy:
                    view = memoryview(dumps_by_table[table])
                    for offset in range(0, len(view), 1 << 20):
                        copy.write(view[offset : offset + (1 << 20)])
            raw.commit()
            seconds = time.perf_counter() - started
            for table in tables:
                pg.execute(f"DROP TABLE bench_floor_{table}")
            raw.commit()
    size = sum(len(data) for data in dumps_by_table.values())
    return WriteFloor(seconds, rows, size / 1e6)
