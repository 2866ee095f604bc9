"""Workload: the client-file import's preview of a 1,000-row spreadsheet, every row a company code of its
own that WoW is asked about (the worst case: nothing in the check cache), then the same file again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.__main__ import Figure, Report, Sandbox, Scale, World

ROWS = 1000
UNKNOWN_EVERY = 20  # one row in 20 names a company the licence does not have


def _spreadsheet(codes: list[str]) -> bytes:
    lines = ["file code,name,company code"]
    lines += [f"IMP-{n:04d},Import client {n:04d} BV,{code}" for n, code in enumerate(codes)]
    return ("\n".join(lines) + "\n").encode()


def _preview(world: World, data: bytes) -> tuple[float, Any]:
    from administration import services

    started = time.perf_counter()
    upload = services.client_file_import_start(
        firm=world.firm, actor=world.admin, filename="clients.csv", data=data, connection=world.connection
    )
    upload = services.client_file_import_check(import_id=upload.pk)
    return time.perf_counter() - started, upload


def import_preview(
    report: Report, sandbox: Sandbox, world: World, scale: Scale, figure: type[Figure]
) -> None:
    """``figure`` is the report's Figure class (``python -m bench`` runs bench/__main__.py as ``__main__``, so
    importing it from here would load a second copy)."""
    rows = scale.n(ROWS, minimum=20)
    codes = [f"IMP_{n:04d}" if n % UNKNOWN_EVERY else f"NOPE_{n:04d}" for n in range(rows)]
    for code in codes:
        if not code.startswith("NOPE_"):
            sandbox.create_folder(code, years=1, accounts=40, relations=2, documents=1)
    data = _spreadsheet(codes)
    sandbox.control("DELETE", "stats")
    report.note_load("before import preview")
    first, upload = _preview(world, data)
    stats = sandbox.control("GET", "stats")
    unknown = sum(1 for row in upload.rows if row["problem"] == "company_refused")
    again, upload_again = _preview(world, data)
    changed = sum(
        (a["actions"], a["problem"]) != (b["actions"], b["problem"])
        for a, b in zip(upload.rows, upload_again.rows, strict=True)
    )
    name = f"10 import preview ({rows:,} rows)"
    report.add(figure(name, "first upload: preview ready", first, "s", 5.0, "≤ 5 s"))
    report.add(
        figure(
            name,
            "WoW calls (first upload)",
            stats["requests"].get("total", 0),
            "calls",
            note=str(stats["in_flight"]),
        )
    )
    report.add(
        figure(
            name,
            "rows with an unknown company",
            unknown,
            "rows",
            target=f"= {sum(code.startswith('NOPE_') for code in codes)}",
        )
    )
    report.add(figure(name, "same file again: preview ready", again, "s", 1.0, "≤ 1 s"))
    report.add(figure(name, "same file again: verdicts that differ", changed, "rows", 0.0, "= 0"))
