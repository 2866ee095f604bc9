"""The Belgian demo company ``DEMO_BV`` ("Demo Bakkerij BV"): /work/shared/reference/winbooks-api.md §7.

Accounts with Dutch (``Label``) and French (``Label2``) names, book years 2024 and 2025 with periods 0-13,
journals VERK VCN AANK BNK1 DIV, VAT 0/6/21, customer BAKKERPEETERS and supplier MEELFABRIEK with their
Thirds, the four documents of §7 and a handful more so that every month of 2024 (and the opening period)
has activity. Every document balances to zero. Ids are stable (uuid5 of the folder code and a key).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .folder import Folder, make_row
from .model import ms_from_date, parse_money

NL_MONTHS = (
    "Januari",
    "Februari",
    "Maart",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Augustus",
    "September",
    "Oktober",
    "November",
    "December",
)

# Code, Dutch name, French name, central account type
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("100000", "Geplaatst kapitaal", "Capital souscrit", None),
    ("400000", "Handelsvorderingen – klanten", "Clients", "CUSTOMER"),
    ("411000", "Terug te vorderen btw", "TVA à récupérer", "VAT"),
    ("440000", "Leveranciers", "Fournisseurs", "SUPPLIER"),
    ("451000", "Te betalen btw", "TVA à payer", "VAT"),
    ("499000", "Wachtrekening", "Compte d'attente", None),
    ("550000", "Kredietinstelling – KBC zichtrekening", "Banque", None),
    ("570000", "Kas", "Caisse", None),
    ("604000", "Aankopen handelsgoederen", "Achats de marchandises", None),
    ("610000", "Huur", "Loyers", None),
    ("700000", "Verkopen", "Ventes", None),
)

# Code, label, JournalType, linked account
DEMO_JOURNALS = (
    ("VERK", "Verkopen", "SAL", None),
    ("VCN", "Creditnota's verkopen", "SAC", None),
    ("AANK", "Aankopen", "PUR", None),
    ("BNK1", "KBC zichtrekening", "CAS", "550000"),
    ("DIV", "Diverse verrichtingen", "PRI", None),
)

DEMO_VATS = (("0", "Btw 0%", "0"), ("6", "Btw 6%", "6"), ("21", "Btw 21%", "21"))


def calendar_rows(
    year: int,
    year_rid: int,
    year_id: str,
    first_period_rid: int,
    period_ids: list[str],
    stamp: int,
    closed: bool = False,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """A BookYear row and its 14 BookPeriod rows (Number 0 opening, 1-12 months, 13 closing); period
    ``n`` gets rid ``first_period_rid + n``."""
    year_row = make_row(
        "BookYear",
        {
            "rid": year_rid,
            "Id": year_id,
            "Code": str(year),
            "Label": f"Boekjaar {year}",
            "StartDate": ms_from_date(date(year, 1, 1)),
            "EndDate": ms_from_date(date(year, 12, 31)),
            "IsClosed": int(closed),
        },
        stamp,
    )
    periods = []
    for number in range(14):
        if number == 0:
            label, month, start, end = f"Opening {year}", 1, date(year, 1, 1), date(year, 1, 1)
        elif number == 13:
            label, month, start, end = f"Afsluiting {year}", 12, date(year, 12, 31), date(year, 12, 31)
        else:
            last = calendar.monthrange(year, number)[1]
            label, month = f"{NL_MONTHS[number - 1]} {year}", number
            start, end = date(year, number, 1), date(year, number, last)
        periods.append(
            make_row(
                "BookPeriod",
                {
                    "rid": first_period_rid + number,
                    "Id": period_ids[number],
                    "Code": f"{year}{number:02d}",
                    "Label": label,
                    "BookYear_Id": year_rid,
                    "Number": number,
                    "RelatedYear": year,
                    "RelatedMonth": month,
                    "StartDate": ms_from_date(start),
                    "EndDate": ms_from_date(end),
                },
                stamp + number + 1,
            )
        )
    return year_row, periods


# Documents: journal, DocNumber, book date, period (year, Number), lines.
# A line: account, amount, and optional "customer"/"supplier" (True), "vat" code, "base", "tax", "comment".
Line = dict[str, Any]
DEMO_DOCUMENTS: tuple[tuple[str, int, date, tuple[int, int], tuple[Line, ...]], ...] = (
    (
        "VERK",
        1,
        date(2024, 1, 15),
        (2024, 1),
        (
            {"account": "400000", "amount": "1210.00", "customer": True, "base": "1000.00", "tax": "210.00"},
            {"account": "700000", "amount": "-1000.00", "vat": "21"},
            {"account": "451000", "amount": "-210.00", "vat": "21", "base": "1000.00"},
        ),
    ),
    (
        "AANK",
        1,
        date(2024, 1, 20),
        (2024, 1),
        (
            {"account": "440000", "amount": "-605.00", "supplier": True, "base": "500.00", "tax": "105.00"},
            {"account": "604000", "amount": "500.00", "vat": "21"},
            {"account": "411000", "amount": "105.00", "vat": "21", "base": "500.00"},
        ),
    ),
    (
        "BNK1",
        1,
        date(2024, 2, 5),
        (2024, 2),
        (
            {"account": "550000", "amount": "1210.00", "comment": "Uittreksel 1"},
            {"account": "400000", "amount": "-1210.00", "customer": True, "comment": "Betaling VERK 1"},
            {"account": "440000", "amount": "605.00", "supplier": True, "comment": "Betaling AANK 1"},
            {"account": "550000", "amount": "-605.00", "comment": "Uittreksel 1"},
        ),
    ),
    (
        "DIV",
        1,
        date(2024, 3, 31),
        (2024, 3),
        (
            {"account": "610000", "amount": "800.00", "comment": "Huur maart (toe te rekenen)"},
            {"account": "499000", "amount": "-800.00", "comment": "Huur maart (toe te rekenen)"},
        ),
    ),
    # --- more activity: the opening period and every month of 2024, one document in 2025
    (
        "DIV",
        2,
        date(2024, 1, 1),
        (2024, 0),
        (
            {"account": "550000", "amount": "10000.00", "comment": "Openingsbalans"},
            {"account": "100000", "amount": "-10000.00", "comment": "Openingsbalans"},
        ),
    ),
    (
        "VERK",
        2,
        date(2024, 4, 12),
        (2024, 4),
        (
            {"account": "400000", "amount": "605.00", "customer": True, "base": "500.00", "tax": "105.00"},
            {"account": "700000", "amount": "-500.00", "vat": "21"},
            {"account": "451000", "amount": "-105.00", "vat": "21", "base": "500.00"},
        ),
    ),
    (
        "AANK",
        2,
        date(2024, 5, 8),
        (2024, 5),
        (
            {"account": "440000", "amount": "-1272.00", "supplier": True, "base": "1200.00", "tax": "72.00"},
            {"account": "604000", "amount": "1200.00", "vat": "6"},
            {"account": "411000", "amount": "72.00", "vat": "6", "base": "1200.00"},
        ),
    ),
    (
        "VCN",
        1,
        date(2024, 6, 3),
        (2024, 6),
        (
            {"account": "400000", "amount": "-121.00", "customer": True, "base": "-100.00", "tax": "-21.00"},
            {"account": "700000", "amount": "100.00", "vat": "21"},
            {"account": "451000", "amount": "21.00", "vat": "21", "base": "-100.00"},
        ),
    ),
    (
        "BNK1",
        2,
        date(2024, 7, 10),
        (2024, 7),
        (
            {"account": "550000", "amount": "484.00", "comment": "Uittreksel 2"},
            {
                "account": "400000",
                "amount": "-484.00",
                "customer": True,
                "comment": "Betaling VERK 2 - VCN 1",
            },
        ),
    ),
    (
        "BNK1",
        3,
        date(2024, 8, 6),
        (2024, 8),
        (
            {"account": "440000", "amount": "1272.00", "supplier": True, "comment": "Betaling AANK 2"},
            {"account": "550000", "amount": "-1272.00", "comment": "Uittreksel 3"},
        ),
    ),
    (
        "BNK1",
        4,
        date(2024, 9, 2),
        (2024, 9),
        (
            {"account": "499000", "amount": "800.00", "comment": "Huur maart"},
            {"account": "550000", "amount": "-800.00", "comment": "Uittreksel 4"},
        ),
    ),
    (
        "VERK",
        3,
        date(2024, 10, 15),
        (2024, 10),
        (
            {"account": "400000", "amount": "2420.00", "customer": True, "base": "2000.00", "tax": "420.00"},
            {"account": "700000", "amount": "-2000.00", "vat": "21"},
            {"account": "451000", "amount": "-420.00", "vat": "21", "base": "2000.00"},
        ),
    ),
    (
        "AANK",
        3,
        date(2024, 11, 20),
        (2024, 11),
        (
            {"account": "440000", "amount": "-363.00", "supplier": True, "base": "300.00", "tax": "63.00"},
            {"account": "604000", "amount": "300.00", "vat": "21"},
            {"account": "411000", "amount": "63.00", "vat": "21", "base": "300.00"},
        ),
    ),
    (
        "BNK1",
        5,
        date(2024, 12, 16),
        (2024, 12),
        (
            {"account": "550000", "amount": "2420.00", "comment": "Uittreksel 5"},
            {"account": "400000", "amount": "-2420.00", "customer": True, "comment": "Betaling VERK 3"},
        ),
    ),
    (
        "VERK",
        1,
        date(2025, 1, 14),
        (2025, 1),
        (
            {"account": "400000", "amount": "242.00", "customer": True, "base": "200.00", "tax": "42.00"},
            {"account": "700000", "amount": "-200.00", "vat": "21"},
            {"account": "451000", "amount": "-42.00", "vat": "21", "base": "200.00"},
        ),
    ),
)

_INVOICE_JOURNALS = {"VERK", "VCN", "AANK"}


def _money(text: str | None) -> int | None:
    return None if text is None else parse_money(Decimal(text))


def build_demo_folder(code: str = "DEMO_BV", name: str | None = None) -> Folder:
    def ident(key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"winbooks-sandbox:{code}:{key}"))

    folder = Folder(code, name or "Demo Bakkerij BV", "demo", {})
    stamp = ms_from_date(date(2023, 12, 15)) + 9 * 3_600_000

    years, periods = [], []
    period_rid: dict[tuple[int, int], int] = {}
    for index, year in enumerate((2024, 2025)):
        ids = [ident(f"period:{year}:{n}") for n in range(14)]
        first = index * 14 + 1
        period_rid.update({(year, n): first + n for n in range(14)})
        year_row, rows = calendar_rows(year, index + 1, ident(f"year:{year}"), first, ids, stamp)
        years.append(year_row)
        periods.extend(rows)
        stamp += 100
    folder.bulk_insert("BookYear", years)
    folder.bulk_insert("BookPeriod", periods)

    account_rid = {acc[0]: i + 1 for i, acc in enumerate(DEMO_ACCOUNTS)}
    folder.bulk_insert(
        "GLAccount",
        [
            make_row(
                "GLAccount",
                {
                    "rid": account_rid[c],
                    "Id": ident(f"account:{c}"),
                    "Code": c,
                    "Label": nl,
                    "Label2": fr,
                    "CentralAccountTypeCode": central,
                },
                stamp + i,
            )
            for i, (c, nl, fr, central) in enumerate(DEMO_ACCOUNTS)
        ],
    )
    stamp += 100
    journal_rid = {j[0]: i + 1 for i, j in enumerate(DEMO_JOURNALS)}
    folder.bulk_insert(
        "Journal",
        [
            make_row(
                "Journal",
                {
                    "rid": journal_rid[c],
                    "Id": ident(f"journal:{c}"),
                    "Code": c,
                    "Label": label,
                    "JournalType": kind,
                    "GLAccount_Id": account_rid[acc] if acc else None,
                },
                stamp + i,
            )
            for i, (c, label, kind, acc) in enumerate(DEMO_JOURNALS)
        ],
    )
    stamp += 100
    vat_rid = {v[0]: i + 1 for i, v in enumerate(DEMO_VATS)}
    folder.bulk_insert(
        "Vat",
        [
            make_row(
                "Vat",
                {"rid": vat_rid[c], "Id": ident(f"vat:{c}"), "Code": c, "Label": label, "Rate": _money(rate)},
                stamp + i,
            )
            for i, (c, label, rate) in enumerate(DEMO_VATS)
        ],
    )
    stamp += 100
    thirds = (
        ("BAKKERPEETERS", "Bakkerij Peeters NV", "0456.789.123"),
        ("MEELFABRIEK", "Meelfabriek De Molen BV", "0812.345.678"),
    )
    folder.bulk_insert(
        "Third",
        [
            make_row(
                "Third",
                {
                    "rid": i + 1,
                    "Id": ident(f"third:{tcode}"),
                    "Code": tcode,
                    "Name": tname,
                    "VatNumber": vat_number,
                    "VatCountryCode": "BE",
                    "LanguageCode": "NL",
                    "CurrencyCode": "EUR",
                },
                stamp + i,
            )
            for i, (tcode, tname, vat_number) in enumerate(thirds)
        ],
    )
    folder.bulk_insert(
        "Customer",
        [
            make_row(
                "Customer",
                {
                    "rid": 1,
                    "Id": ident("customer:BAKKERPEETERS"),
                    "Code": "BAKKERPEETERS",
                    "Third_Id": 1,
                    "Vat_Id": vat_rid["21"],
                    "VatCode": "21",
                    "GLAccount_Id": account_rid["700000"],
                    "GLAccount2_Id": account_rid["400000"],
                    "PayCodeCode": "30",
                },
                stamp + 2,
            )
        ],
    )
    folder.bulk_insert(
        "Supplier",
        [
            make_row(
                "Supplier",
                {
                    "rid": 1,
                    "Id": ident("supplier:MEELFABRIEK"),
                    "Code": "MEELFABRIEK",
                    "Third_Id": 2,
                    "Vat_Id": vat_rid["21"],
                    "VatCode": "21",
                    "GLAccount_Id": account_rid["604000"],
                    "GLAccount2_Id": account_rid["440000"],
                },
                stamp + 3,
            )
        ],
    )

    headers: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for index, (journal, number, booked, (year, period_number), doc_lines) in enumerate(DEMO_DOCUMENTS):
        doc_key = f"doc:{journal}:{year}:{number}"
        header_rid = index + 1
        booked_ms = ms_from_date(booked)
        doc_stamp = booked_ms + 10 * 3_600_000 + index * 60_000
        due = booked + timedelta(days=30) if journal in _INVOICE_JOURNALS else None
        period = period_rid[(year, period_number)]
        headers.append(
            make_row(
                "GLTransHeader",
                {
                    "rid": header_rid,
                    "Id": ident(doc_key),
                    "BookPeriod_Id": period,
                    "Journal_Id": journal_rid[journal],
                    "JournalCode": journal,
                    "DocNumber": number,
                    "BookDate": booked_ms,
                    "DueDate": None if due is None else ms_from_date(due),
                },
                doc_stamp,
            )
        )
        for order, spec in enumerate(doc_lines):
            lines.append(
                make_row(
                    "GLTrans",
                    {
                        "rid": len(lines) + 1,
                        "Id": ident(f"{doc_key}:line:{order}"),
                        "GLTransHeader_Id": header_rid,
                        "BookPeriod_Id": period,
                        "LineOrder": order,
                        "GLAccount_Id": account_rid[spec["account"]],
                        "GLAccountCode": spec["account"],
                        "Customer_Id": 1 if spec.get("customer") else None,
                        "CustomerCode": "BAKKERPEETERS" if spec.get("customer") else None,
                        "Supplier_Id": 1 if spec.get("supplier") else None,
                        "SupplierCode": "MEELFABRIEK" if spec.get("supplier") else None,
                        "Vat_Id": vat_rid[spec["vat"]] if spec.get("vat") else None,
                        "VatCode": spec.get("vat"),
                        "Amount": _money(spec["amount"]),
                        "VatBaseAmount": _money(spec.get("base")),
                        "VatTaxAmount": _money(spec.get("tax")),
                        "CommentBooking": spec.get("comment"),
                        "ValueDate": booked_ms,
                        "CurrencyCode": "EUR",
                    },
                    doc_stamp,
                )
            )
    folder.bulk_insert("GLTransHeader", headers)
    folder.bulk_insert("GLTrans", lines)
    return folder.ready()
