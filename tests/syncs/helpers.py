"""Comparing a client file's ledger with the sandbox's own data, field by field.

The sandbox's side is read straight from its snapshot (WoW's JSON), with a converter of its own here, not
the product's: an oracle that shares the code under test would agree with any mistake in it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from clients.models import Account, ClientFile, Entry, EntryLine, FiscalYear, Journal, Period, Relation

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def _guid(value: Any) -> str | None:
    return None if value in (None, "", ZERO_GUID) else str(value).lower()


def _moment(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    match = _MS_DATE.match(value)
    assert match, f"not a WoW date: {value!r}"
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(match[1]))


def _day(value: Any) -> dt.date | None:
    moment = _moment(value)
    return moment.date() if moment is not None else None


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).normalize()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _ours_money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def _uid(value: Any) -> str | None:
    return None if value is None else str(value)


def ledger_state(client_file: ClientFile) -> dict[str, Any]:
    """The ledger as plain values keyed by WoW ids: every document, line and master-data row."""
    scope = {"client_file": client_file}
    sums = {
        (str(row["period__wow_id"]), str(row["account__wow_id"])): (row["lines"], row["total"].normalize())
        for row in EntryLine.objects.filter(**scope)
        .values("period__wow_id", "account__wow_id")
        .annotate(lines=Count("pk"), total=Sum("amount"))
    }
    return {
        "fiscal_years": {
            str(y.wow_id): (y.wow_version, y.code, y.label, y.start_date, y.end_date, y.closed)
            for y in FiscalYear.objects.filter(**scope)
        },
        "periods": {
            str(p.wow_id): (
                p.wow_version,
                _uid(p.fiscal_year.wow_id if p.fiscal_year else None),
                p.number,
                p.year,
                p.month,
                p.start_date,
                p.end_date,
                p.label,
            )
            for p in Period.objects.filter(**scope).select_related("fiscal_year")
        },
        "journals": {
            str(j.wow_id): (j.wow_version, j.code, j.name, j.kind) for j in Journal.objects.filter(**scope)
        },
        "accounts": {
            str(a.wow_id): (a.wow_version, a.number, a.name, a.name_alt, a.central_type, a.locked)
            for a in Account.objects.filter(**scope)
        },
        "relations": {
            str(r.wow_id): (r.wow_version, r.kind, r.code, r.name, r.vat_number)
            for r in Relation.objects.filter(**scope)
        },
        "documents": {
            str(e.wow_id): (
                e.wow_version,
                _uid(e.journal.wow_id if e.journal else None),
                _uid(e.period.wow_id if e.period else None),
                e.doc_number,
                e.book_date,
                e.due_date,
                e.wow_modified,
            )
            for e in Entry.objects.filter(**scope).select_related("journal", "period")
        },
        "lines": {
            str(line.wow_id): (
                line.wow_version,
                str(line.entry.wow_id),
                _uid(line.period.wow_id if line.period else None),
                _uid(line.account.wow_id if line.account else None),
                _uid(line.relation.wow_id if line.relation else None),
                _ours_money(line.amount),
                line.vat_code,
                _ours_money(line.vat_base),
                _ours_money(line.vat_amount),
                line.description,
                line.value_date,
                line.line_order,
            )
            for line in EntryLine.objects.filter(**scope).select_related(
                "entry", "period", "account", "relation"
            )
        },
        "sums": sums,
    }


def _relations(snapshot: dict[str, Any], key: str, kind: str) -> dict[str, tuple[Any, ...]]:
    return {
        r["Id"]: (
            r["Version"],
            kind,
            _text(r["Code"]),
            _text((r.get("Third") or {}).get("Name")),
            _text((r.get("Third") or {}).get("VatNumber")),
        )
        for r in snapshot[key]
    }


def sandbox_state(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's snapshot in the shape of ``ledger_state``, converted here from WoW's JSON."""
    sums = {
        (row["BookPeriod_Id"], row["GLAccount_Id"]): (row["Count"], Decimal(row["Sum"]).normalize())
        for row in snapshot["sums"]
    }
    documents, lines = {}, {}
    for doc in snapshot["documents"]:
        documents[doc["Id"]] = (
            doc["Version"],
            _guid(doc["Journal_Id"]),
            _guid(doc["BookPeriod_Id"]),
            _text(doc["DocNumber"]),
            _day(doc["BookDate"]),
            _day(doc["DueDate"]),
            _moment(doc["Modified"]),
        )
        for order, line in enumerate(doc["GLTransactions"]):
            lines[line["Id"]] = (
                line["Version"],
                doc["Id"],
                _guid(line["BookPeriod_Id"]),
                _guid(line["GLAccount_Id"]),
                _guid(line["Customer_Id"]) or _guid(line["Supplier_Id"]),
                _money(line["Amount"]),
                _text(line["VatCode"]),
                _money(line["VatBaseAmount"]),
                _money(line["VatTaxAmount"]),
                _text(line["CommentBooking"]),
                _day(line["ValueDate"]),
                line["LineOrder"] if line["LineOrder"] is not None else order,
            )
    return {
        "fiscal_years": {
            y["Id"]: (
                y["Version"],
                _text(y["Code"]),
                _text(y["Label"]),
                _day(y["StartDate"]),
                _day(y["EndDate"]),
                bool(y["IsClosed"]),
            )
            for y in snapshot["BookYears"]
        },
        "periods": {
            p["Id"]: (
                p["Version"],
                _guid(p["BookYear_Id"]),
                p["Number"],
                p["RelatedYear"],
                p["RelatedMonth"] or 0,
                _day(p["StartDate"]),
                _day(p["EndDate"]),
                _text(p["Label"]),
            )
            for p in snapshot["BookPeriods"]
        },
        "journals": {
            j["Id"]: (j["Version"], _text(j["Code"]), _text(j["Label"]), _text(j["JournalType"]))
            for j in snapshot["Journals"]
        },
        "accounts": {
            a["Id"]: (
                a["Version"],
                _text(a["Code"]),
                _text(a["Label"]),
                _text(a["Label2"]),
                _text(a["CentralAccountTypeCode"]),
                bool(a["IsLocked"]),
            )
            for a in snapshot["GLAccounts"]
        },
        "relations": {
            **_relations(snapshot, "Customers", "customer"),
            **_relations(snapshot, "Suppliers", "supplier"),
        },
        "documents": documents,
        "lines": lines,
        "sums": sums,
    }


def _differences(ours: dict[Any, Any], theirs: dict[Any, Any], shown: int = 3) -> str:
    """What differs, a few of each kind: a whole ledger's worth would drown the message."""
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    changed = sorted(key for key in set(ours) & set(theirs) if ours[key] != theirs[key])
    return (
        f"{len(only_ours)} only in the ledger {[(k, ours[k]) for k in only_ours[:shown]]}; "
        f"{len(only_theirs)} only in WoW {[(k, theirs[k]) for k in only_theirs[:shown]]}; "
        f"{len(changed)} different, (ledger, WoW): {[(k, ours[k], theirs[k]) for k in changed[:shown]]}"
    )


def assert_ledger_equals_sandbox(client_file: ClientFile, snapshot: dict[str, Any]) -> None:
    """Every master-data row, document and line the ledger holds is WoW's, field by field, and nothing is
    missing or extra; the per-(period, account) sums agree too (the trial balance's raw material)."""
    ours, theirs = ledger_state(client_file), sandbox_state(snapshot)
    assert ours.keys() == theirs.keys()
    for kind in ours:
        if ours[kind] != theirs[kind]:
            raise AssertionError(
                f"the ledger's {kind} differ from WoW's: {_differences(ours[kind], theirs[kind])}"
            )
