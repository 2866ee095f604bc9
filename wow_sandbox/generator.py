"""Deterministic generator of large folders (benchmarks, paging and proof tests).

``generate_folder(code, years=5, accounts=2000, relations=4000, documents=120_000)`` gives 480,000 lines
at the default 4 lines per document. Everything comes from ``random.Random(seed)``: the same arguments
give the same folder, Ids included. Every document balances to zero by construction; documents are spread over
periods 1-12 of each book year (a few in the opening period 0); sales and purchase documents reference a
customer or supplier on their central line; bank documents settle customers and suppliers.
"""

# ruff: noqa: S608 - SQL text is built only from the fixed schema (model.ENTITIES); values are bound parameters

from __future__ import annotations

import calendar
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from .criteria import quote
from .folder import SYSTEM_USER_RID, Folder, make_row
from .model import ENTITIES, ms_from_date
from .seed import DEMO_ACCOUNTS, calendar_rows

# Two-digit PCMN/MAR classes: prefix, Dutch name, French name, weight when filling the chart.
ACCOUNT_CLASSES: tuple[tuple[str, str, str, int], ...] = (
    ("10", "Kapitaal", "Capital", 1),
    ("13", "Reserves", "Réserves", 1),
    ("14", "Overgedragen resultaat", "Résultat reporté", 1),
    ("16", "Voorzieningen", "Provisions", 1),
    ("17", "Schulden op meer dan een jaar", "Dettes à plus d'un an", 2),
    ("21", "Immateriële vaste activa", "Immobilisations incorporelles", 1),
    ("22", "Terreinen en gebouwen", "Terrains et constructions", 2),
    ("23", "Installaties, machines en uitrusting", "Installations, machines et outillage", 2),
    ("24", "Meubilair en rollend materieel", "Mobilier et matériel roulant", 2),
    ("28", "Financiële vaste activa", "Immobilisations financières", 1),
    ("30", "Grondstoffen", "Matières premières", 1),
    ("34", "Handelsgoederen", "Marchandises", 1),
    ("40", "Handelsvorderingen", "Créances commerciales", 2),
    ("41", "Overige vorderingen", "Autres créances", 2),
    ("44", "Handelsschulden", "Dettes commerciales", 2),
    ("45", "Schulden met betrekking tot belastingen en bezoldigingen", "Dettes fiscales et sociales", 3),
    ("49", "Overlopende rekeningen", "Comptes de régularisation", 1),
    ("55", "Kredietinstellingen", "Établissements de crédit", 2),
    ("57", "Kassen", "Caisses", 1),
    ("60", "Aankopen", "Achats", 8),
    ("61", "Diensten en diverse goederen", "Services et biens divers", 12),
    ("62", "Bezoldigingen en sociale lasten", "Rémunérations et charges sociales", 4),
    ("63", "Afschrijvingen", "Amortissements", 2),
    ("64", "Andere bedrijfskosten", "Autres charges d'exploitation", 3),
    ("65", "Financiële kosten", "Charges financières", 2),
    ("70", "Omzet", "Chiffre d'affaires", 8),
    ("74", "Andere bedrijfsopbrengsten", "Autres produits d'exploitation", 2),
    ("75", "Financiële opbrengsten", "Produits financiers", 1),
)

GENERATED_JOURNALS = (
    ("VERK", "Verkopen", "SAL", None, 35),
    ("VCN", "Creditnota's verkopen", "SAC", None, 4),
    ("AANK", "Aankopen", "PUR", None, 30),
    ("ACN", "Creditnota's aankopen", "PUC", None, 3),
    ("BNK1", "KBC zichtrekening", "CAS", "550000", 18),
    ("KAS", "Kas", "CAS", "570000", 3),
    ("DIV", "Diverse verrichtingen", "PRI", None, 7),
)
GENERATED_VATS = (("0", "Btw 0%", 0), ("6", "Btw 6%", 600), ("12", "Btw 12%", 1200), ("21", "Btw 21%", 2100))

_PREFIXES = (
    "Bakkerij",
    "Garage",
    "Brouwerij",
    "Drukkerij",
    "Schrijnwerkerij",
    "Apotheek",
    "Boekhandel",
    "Slagerij",
    "Transport",
    "Bouwbedrijf",
    "Café",
    "Kapsalon",
    "Tuinbouw",
    "Elektro",
    "Immo",
    "Boulangerie",
    "Menuiserie",
    "Pharmacie",
    "Librairie",
    "Imprimerie",
)
_NAMES = (
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Leroy",
    "Simon",
    "Laurent",
    "Vermeulen",
    "Van den Broeck",
    "Hermans",
    "Desmet",
    "Lemmens",
    "Michiels",
    "Leclercq",
    "Declercq",
)
_FORMS = ("NV", "BV", "VOF", "CommV", "SRL", "SA", "BVBA")


_VERSION_MASK = ~((0xF << 76) | (0xC << 60))
_VERSION_BITS = (0x4 << 76) | (0x8 << 60)


def random_guid(rng: random.Random) -> str:
    """A version-4 GUID (canonical text) drawn from ``rng``."""
    h = f"{(rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Relation:
    rid: int
    code: str
    account_rid: int | None  # default revenue/expense account
    account_code: str | None


# A line before its Id, in storage form: account rid, account code, customer rid, customer code, supplier
# rid, supplier code, vat rid, vat code, amount, vat base, vat tax, comment (amounts in cents).
LineSpec = tuple[
    int,
    str,
    int | None,
    str | None,
    int | None,
    str | None,
    int | None,
    str | None,
    int,
    int | None,
    int | None,
    str | None,
]
Account = tuple[int, str]  # rid, code


class DocFactory:
    """Balanced documents of every journal type over a folder's chart, relations and VAT codes.
    Used by the generator and by the control API's ``mutate`` (which builds it from a live folder)."""

    def __init__(
        self,
        rng: random.Random,
        accounts: Sequence[Account],
        customers: Sequence[Relation],
        suppliers: Sequence[Relation],
        vats: dict[str, tuple[int, int]],  # code -> (rid, rate in basis points)
        lines_per_document: int = 4,
    ) -> None:
        if lines_per_document < 2:
            raise ValueError("lines_per_document must be at least 2")
        if not accounts:
            raise ValueError("a folder without accounts cannot get documents")
        self.rng = rng
        self.n = lines_per_document
        self.by_code = {code: ident for ident, code in accounts}
        everything = sorted(accounts, key=lambda a: a[1])
        self.customers = list(customers)
        self.suppliers = list(suppliers)
        self.vats = dict(vats)

        def pool(*prefixes: str) -> list[Account]:
            found = [a for a in everything if a[1].startswith(prefixes)]
            return found or everything

        def one(code: str, *prefixes: str) -> Account:
            if code in self.by_code:
                return self.by_code[code], code
            return pool(*prefixes)[0]

        self.revenue = pool("70", "74")
        self.expense = pool("60", "61", "64")
        self.fees = pool("65", "61")
        self.balance = pool("1", "2", "3", "55", "57")
        self.misc = pool("6", "1", "2", "49")
        self.receivable = one("400000", "40")
        self.payable = one("440000", "44")
        self.vat_due = one("451000", "45")
        self.vat_back = one("411000", "41")
        self.suspense = one("499000", "49")
        self.capital = one("100000", "10")
        self.bank = one("550000", "55", "57")
        rates = [(c, w) for c, w in (("21", 80), ("6", 12), ("0", 8)) if c in self.vats]
        self.rate_codes = [c for c, _ in rates] or list(self.vats)
        self.rate_weights = list(itertools.accumulate([w for _, w in rates] or [1] * len(self.vats)))

    def amount(self) -> int:
        return max(100, min(5_000_000, int(self.rng.lognormvariate(10.0, 1.1))))

    def _vat(self) -> tuple[int | None, str | None, int]:
        if not self.rate_codes:
            return None, None, 0
        code = self.rng.choices(self.rate_codes, cum_weights=self.rate_weights)[0]
        ident, rate = self.vats[code]
        return ident, code, rate

    def lines(self, journal_type: str, bank: Account | None = None, opening: bool = False) -> list[LineSpec]:
        if opening:
            return self._misc(self.balance, self.capital, "Openingsbalans")
        if journal_type in ("SAL", "SAC"):
            return self._invoice(1 if journal_type == "SAL" else -1, sales=True)
        if journal_type in ("PUR", "PUC"):
            return self._invoice(1 if journal_type == "PUR" else -1, sales=False)
        if journal_type == "CAS":
            return self._bank(bank or self.bank)
        return self._misc(self.misc, self.suspense, "Diverse verrichting")

    def _invoice(self, sign: int, sales: bool) -> list[LineSpec]:
        rng = self.rng
        vat_id, vat_code, rate = self._vat()
        with_vat_line = self.n >= 3 and rate > 0
        count = self.n - 2 if with_vat_line else self.n - 1
        bases = [self.amount() for _ in range(count)]
        base = sum(bases)
        tax = (base * rate + 5000) // 10000 if with_vat_line else 0
        relations = self.customers if sales else self.suppliers
        rel = rng.choice(relations) if relations else None
        central = self.receivable if sales else self.payable
        pool = self.revenue if sales else self.expense
        direction = (
            -sign if sales else sign
        )  # revenue is credited on a sale, an expense debited on a purchase
        comment = "Factuur" if sign > 0 else "Creditnota"
        out: list[LineSpec] = []
        rel_id, rel_code = (rel.rid, rel.code) if rel else (None, None)
        out.append(
            (
                central[0],
                central[1],
                rel_id if sales else None,
                rel_code if sales else None,
                None if sales else rel_id,
                None if sales else rel_code,
                None,
                None,
                -direction * (base + tax),
                sign * base,
                sign * tax,
                comment,
            )
        )
        for b in bases:
            if rel is not None and rel.account_rid is not None and rng.random() < 0.6:
                acc = (rel.account_rid, rel.account_code or "")
            else:
                acc = rng.choice(pool)
            out.append(
                (acc[0], acc[1], None, None, None, None, vat_id, vat_code, direction * b, None, None, None)
            )
        if with_vat_line:
            vat_acc = self.vat_due if sales else self.vat_back
            out.append(
                (
                    vat_acc[0],
                    vat_acc[1],
                    None,
                    None,
                    None,
                    None,
                    vat_id,
                    vat_code,
                    direction * tax,
                    sign * base,
                    None,
                    None,
                )
            )
        return out

    def _bank(self, bank: Account) -> list[LineSpec]:
        rng = self.rng
        out: list[LineSpec] = []
        remaining = self.n
        if remaining % 2:
            x, fee = self.amount(), rng.randint(50, 2500)
            cust = rng.choice(self.customers) if self.customers else None
            fee_acc = rng.choice(self.fees)
            out.append((bank[0], bank[1], None, None, None, None, None, None, x, None, None, "Ontvangst"))
            out.append(
                (
                    self.receivable[0],
                    self.receivable[1],
                    cust.rid if cust else None,
                    cust.code if cust else None,
                    None,
                    None,
                    None,
                    None,
                    -(x + fee),
                    None,
                    None,
                    "Betaling klant",
                )
            )
            out.append(
                (fee_acc[0], fee_acc[1], None, None, None, None, None, None, fee, None, None, "Bankkosten")
            )
            remaining -= 3
        while remaining >= 2:
            x = self.amount()
            roll = rng.random()
            if roll < 0.45 and self.customers:
                cust = rng.choice(self.customers)
                out.append((bank[0], bank[1], None, None, None, None, None, None, x, None, None, "Ontvangst"))
                out.append(
                    (
                        self.receivable[0],
                        self.receivable[1],
                        cust.rid,
                        cust.code,
                        None,
                        None,
                        None,
                        None,
                        -x,
                        None,
                        None,
                        "Betaling klant",
                    )
                )
            elif roll < 0.85 and self.suppliers:
                sup = rng.choice(self.suppliers)
                out.append(
                    (
                        self.payable[0],
                        self.payable[1],
                        None,
                        None,
                        sup.rid,
                        sup.code,
                        None,
                        None,
                        x,
                        None,
                        None,
                        "Betaling leverancier",
                    )
                )
                out.append((bank[0], bank[1], None, None, None, None, None, None, -x, None, None, "Uitgave"))
            else:
                acc = rng.choice(self.expense)
                out.append(
                    (acc[0], acc[1], None, None, None, None, None, None, x, None, None, "Rechtstreekse kost")
                )
                out.append((bank[0], bank[1], None, None, None, None, None, None, -x, None, None, "Uitgave"))
            remaining -= 2
        return out

    def _misc(self, pool: Sequence[Account], closing: Account, comment: str) -> list[LineSpec]:
        rng = self.rng
        out: list[LineSpec] = []
        total = 0
        for _ in range(self.n - 1):
            acc = rng.choice(pool)
            value = self.amount() * (1 if rng.random() < 0.5 else -1)
            total += value
            out.append((acc[0], acc[1], None, None, None, None, None, None, value, None, None, comment))
        out.append((closing[0], closing[1], None, None, None, None, None, None, -total, None, None, comment))
        return out


def _account_chart(rng: random.Random, count: int) -> list[tuple[str, str, str, str | None]]:
    chart = list(DEMO_ACCOUNTS)
    if count < len(chart):
        raise ValueError(f"accounts must be at least {len(chart)} (the core chart)")
    used = {c[0] for c in chart}
    prefixes = [c[0] for c in ACCOUNT_CLASSES]
    weights = [c[3] for c in ACCOUNT_CLASSES]
    names = {c[0]: (c[1], c[2]) for c in ACCOUNT_CLASSES}
    if count > len(prefixes) * 9000:
        raise ValueError("too many accounts for a six-digit chart")
    while len(chart) < count:
        prefix = rng.choices(prefixes, weights)[0]
        code = f"{prefix}{rng.randint(1000, 9999)}"
        if code in used:
            continue
        used.add(code)
        nl, fr = names[prefix]
        chart.append((code, f"{nl} {code[2:]}", f"{fr} {code[2:]}", None))
    chart.sort()
    return chart


def generate_folder(
    code: str,
    *,
    years: int = 5,
    accounts: int = 2000,
    relations: int = 4000,
    documents: int = 120_000,
    lines_per_document: int = 4,
    seed: int = 0,
    end_year: int = 2025,
    name: str | None = None,
) -> Folder:
    """A folder of ``years`` book years (ending with ``end_year``), ``accounts`` accounts, ``relations``
    customers+suppliers (60/40, one Third each) and ``documents`` balanced documents of
    ``lines_per_document`` lines each. Deterministic for given arguments."""
    if years < 1 or documents < 0 or relations < 0:
        raise ValueError("years must be at least 1; documents and relations cannot be negative")
    if lines_per_document < 2:
        raise ValueError("lines_per_document must be at least 2")
    params = {
        "years": years,
        "accounts": accounts,
        "relations": relations,
        "documents": documents,
        "lines_per_document": lines_per_document,
        "seed": seed,
        "end_year": end_year,
    }
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    folder = Folder(code, name or f"Generated {code}", "generated", params)
    first_year = end_year - years + 1
    stamp = ms_from_date(date(first_year - 1, 12, 1)) + 8 * 3_600_000

    # calendar: period n of year index y has rid y * 14 + n + 1
    period_rids: dict[tuple[int, int], int] = {}
    year_rows, period_rows = [], []
    for y, year in enumerate(range(first_year, end_year + 1)):
        ids = [random_guid(rng) for _ in range(14)]
        first = y * 14 + 1
        period_rids.update({(year, n): first + n for n in range(14)})
        year_row, rows = calendar_rows(
            year, y + 1, random_guid(rng), first, ids, stamp, closed=year < end_year - 1
        )
        year_rows.append(year_row)
        period_rows.extend(rows)
        stamp += 100
    folder.bulk_insert("BookYear", year_rows)
    folder.bulk_insert("BookPeriod", period_rows)

    # chart of accounts
    chart = _account_chart(rng, accounts)
    account_list: list[Account] = [(i + 1, c[0]) for i, c in enumerate(chart)]
    folder.bulk_insert(
        "GLAccount",
        [
            make_row(
                "GLAccount",
                {
                    "rid": i + 1,
                    "Id": random_guid(rng),
                    "Code": c,
                    "Label": nl,
                    "Label2": fr,
                    "CentralAccountTypeCode": central,
                },
                stamp + i,
            )
            for i, (c, nl, fr, central) in enumerate(chart)
        ],
    )
    stamp += len(chart) + 1
    by_code = {c: rid for rid, c in account_list}

    # journals and VAT codes
    journals: list[Journal] = []
    journal_rows = []
    for i, (jcode, label, kind, acc, weight) in enumerate(GENERATED_JOURNALS):
        bank = (by_code[acc], acc) if acc and acc in by_code else None
        journals.append((i + 1, jcode, kind, bank, weight))
        journal_rows.append(
            make_row(
                "Journal",
                {
                    "rid": i + 1,
                    "Id": random_guid(rng),
                    "Code": jcode,
                    "Label": label,
                    "JournalType": kind,
                    "GLAccount_Id": bank[0] if bank else None,
                },
                stamp + i,
            )
        )
    folder.bulk_insert("Journal", journal_rows)
    vats = {vcode: (i + 1, rate) for i, (vcode, _, rate) in enumerate(GENERATED_VATS)}
    folder.bulk_insert(
        "Vat",
        [
            make_row(
                "Vat",
                {"rid": i + 1, "Id": random_guid(rng), "Code": vcode, "Label": label, "Rate": rate},
                stamp + 10 + i,
            )
            for i, (vcode, label, rate) in enumerate(GENERATED_VATS)
        ],
    )
    stamp += 100

    # relations: 60 % customers, 40 % suppliers, one Third each
    n_customers = round(relations * 0.6)
    revenue = [a for a in account_list if a[1].startswith(("70", "74"))]
    expense = [a for a in account_list if a[1].startswith(("60", "61"))]
    thirds, customer_rows, supplier_rows = [], [], []
    customers: list[Relation] = []
    suppliers: list[Relation] = []
    for i in range(relations):
        is_customer = i < n_customers
        rcode = f"C{i + 1:05d}" if is_customer else f"S{i - n_customers + 1:05d}"
        digits = f"{rng.randint(200_000_000, 999_999_999)}"
        thirds.append(
            make_row(
                "Third",
                {
                    "rid": i + 1,
                    "Id": random_guid(rng),
                    "Code": rcode,
                    "Name": f"{rng.choice(_PREFIXES)} {rng.choice(_NAMES)} {rng.choice(_FORMS)}",
                    "VatNumber": f"0{digits[:3]}.{digits[3:6]}.{digits[6:]}",
                    "VatCountryCode": "BE",
                    "LanguageCode": "NL" if rng.random() < 0.6 else "FR",
                    "CurrencyCode": "EUR",
                },
                stamp + i,
            )
        )
        candidates = revenue if is_customer else expense
        default = rng.choice(candidates) if candidates else None
        vcode = rng.choice(("21", "21", "21", "6", "0"))
        rid = i + 1 if is_customer else i - n_customers + 1
        values = {
            "rid": rid,
            "Id": random_guid(rng),
            "Code": rcode,
            "Third_Id": i + 1,
            "Vat_Id": vats[vcode][0],
            "VatCode": vcode,
            "GLAccount_Id": default[0] if default else None,
            "GLAccount2_Id": by_code["400000" if is_customer else "440000"],
            "PayCodeCode": rng.choice(("30", "30", "60", "0")),
        }
        rel = Relation(rid, rcode, default[0] if default else None, default[1] if default else None)
        if is_customer:
            customer_rows.append(make_row("Customer", values, stamp + i))
            customers.append(rel)
        else:
            supplier_rows.append(make_row("Supplier", values, stamp + i))
            suppliers.append(rel)
    folder.bulk_insert("Third", thirds)
    folder.bulk_insert("Customer", customer_rows)
    folder.bulk_insert("Supplier", supplier_rows)

    # documents
    factory = DocFactory(rng, account_list, customers, suppliers, vats, lines_per_document)
    _generate_documents(folder, rng, factory, journals, period_rids, first_year, end_year, documents)
    return folder.ready()


Journal = tuple[int, str, str, "Account | None", int]  # rid, code, JournalType, bank account, weight


def _generate_documents(
    folder: Folder,
    rng: random.Random,
    factory: DocFactory,
    journals: list[Journal],
    period_rids: dict[tuple[int, int], int],
    first_year: int,
    end_year: int,
    documents: int,
) -> None:
    years = end_year - first_year + 1
    journal_weights = list(itertools.accumulate(j[4] for j in journals))
    misc = next(j for j in journals if j[2] == "PRI")
    header_sql = _insert_sql("GLTransHeader")
    line_sql = _insert_sql("GLTrans")
    db = folder.db
    user = SYSTEM_USER_RID
    header_rid = 0
    db.execute("BEGIN")
    previous_modified = 0
    day_ms = 86_400_000
    for y in range(years):
        year = first_year + y
        count = documents // years + (1 if y < documents % years else 0)
        locked = int(year < end_year - 1)
        slots = []
        for _ in range(count):
            number = 0 if rng.random() < 0.005 else rng.randint(1, 12)
            day = 1 if number == 0 else rng.randint(1, calendar.monthrange(year, number)[1])
            slots.append((number, day))
        slots.sort()
        doc_numbers: dict[str, int] = {}
        headers: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        for number, day in slots:
            journal = misc if number == 0 else rng.choices(journals, cum_weights=journal_weights)[0]
            j_id, j_code, j_kind, j_bank, _ = journal
            doc_numbers[j_code] = doc_numbers.get(j_code, 0) + 1
            booked_ms = ms_from_date(date(year, max(number, 1), day))
            due_ms = booked_ms + 30 * day_ms if j_kind in ("SAL", "SAC", "PUR", "PUC") else None
            if previous_modified and rng.random() < 0.02:
                created = modified = (
                    previous_modified  # an import batch: same Modified, a tie for keyset paging
                )
            else:
                created = booked_ms + rng.randint(3_600_000, 15 * day_ms)
                modified = created
            version = 1
            if rng.random() < 0.04:
                version = 2
                modified = created + rng.randint(day_ms, 60 * day_ms)
            previous_modified = modified
            header_rid += 1
            period = period_rids[(year, number)]
            headers.append(
                (
                    header_rid,
                    random_guid(rng),
                    period,
                    j_id,
                    j_code,
                    doc_numbers[j_code],
                    booked_ms,
                    due_ms,
                    locked,
                    version,
                    created,
                    user,
                    modified,
                    user,
                )
            )
            for order, spec in enumerate(factory.lines(j_kind, j_bank, opening=number == 0)):
                acc_id, acc_code, c_id, c_code, s_id, s_code, v_id, v_code, amount, base, tax, comment = spec
                lines.append(
                    (
                        random_guid(rng),
                        header_rid,
                        period,
                        order,
                        acc_id,
                        acc_code,
                        c_id,
                        c_code,
                        s_id,
                        s_code,
                        v_id,
                        v_code,
                        amount,
                        base,
                        tax,
                        comment,
                        booked_ms,
                        "EUR",
                        version,
                        created,
                        user,
                        modified,
                        user,
                    )
                )
            if len(headers) >= 2000:
                db.executemany(header_sql, headers)
                db.executemany(line_sql, lines)
                headers, lines = [], []
        db.executemany(header_sql, headers)
        db.executemany(line_sql, lines)
    db.execute("COMMIT")


def _insert_sql(om: str) -> str:
    names = ENTITIES[om].column_names
    if om == "GLTransHeader":
        names = ["rid", *names]
    cols = ", ".join('"' + n + '"' for n in names)
    marks = ", ".join("?" * len(names))
    return f'INSERT INTO "{om}" ({cols}) VALUES ({marks})'


# --------------------------------------------------------------------------------------------- live folders


_ACCOUNT_CODE = '(SELECT Code FROM "GLAccount" WHERE rid = o.GLAccount_Id)'


def factory_for_folder(folder: Folder, rng: random.Random, lines_per_document: int = 4) -> DocFactory:
    """A DocFactory over an existing folder's chart, relations and VAT codes (for ``mutate``)."""
    db = folder.db
    accounts: list[Account] = [(int(r), str(c)) for r, c in db.execute('SELECT rid, Code FROM "GLAccount"')]
    relations: dict[str, list[Relation]] = {}
    for om in ("Customer", "Supplier"):
        relations[om] = [
            Relation(int(r), str(c), a, ac)
            for r, c, a, ac in db.execute(
                f"SELECT o.rid, o.Code, o.GLAccount_Id, {_ACCOUNT_CODE} FROM {quote(om)} o ORDER BY o.rid"
            )
        ]
    vats = {
        str(c): (int(r), int(rate or 0)) for r, c, rate in db.execute('SELECT rid, Code, Rate FROM "Vat"')
    }
    return DocFactory(rng, accounts, relations["Customer"], relations["Supplier"], vats, lines_per_document)


def folder_journals(folder: Folder) -> list[Journal]:
    weights = {j[0]: j[4] for j in GENERATED_JOURNALS}
    out: list[Journal] = []
    for rid, code, kind, bank_rid, bank_code in folder.db.execute(
        f"SELECT o.rid, o.Code, o.JournalType, o.GLAccount_Id, {_ACCOUNT_CODE} "
        'FROM "Journal" o ORDER BY o.rid'
    ):
        bank = (int(bank_rid), str(bank_code)) if bank_rid is not None else None
        out.append((int(rid), str(code), str(kind or "PRI"), bank, weights.get(code, 5)))
    return out


def insert_document(
    folder: Folder,
    factory: DocFactory,
    journal: Journal,
    period_rid: int,
    t: int,
    actor: str,
) -> str:
    """Insert one balanced document (header and lines) in a period; returns the header's Id."""
    rng = factory.rng
    j_rid, j_code, j_kind, j_bank, _ = journal
    number, start, end = folder.db.execute(
        'SELECT Number, StartDate, EndDate FROM "BookPeriod" WHERE rid = ?', [period_rid]
    ).fetchone()
    day_ms = 86_400_000
    booked = int(start) + day_ms * rng.randint(0, max(0, (int(end) - int(start)) // day_ms))
    with folder._atomic():
        who = folder.user_rid(actor)
        values: dict[str, Any] = {
            "BookPeriod_Id": period_rid,
            "Journal_Id": j_rid,
            "JournalCode": j_code,
            "DocNumber": folder.next_doc_number(j_rid, period_rid),
            "BookDate": booked,
            "DueDate": booked + 30 * day_ms if j_kind in ("SAL", "SAC", "PUR", "PUC") else None,
        }
        header_rid, header_id = folder._insert(ENTITIES["GLTransHeader"], values, t, who)
        for order, spec in enumerate(factory.lines(j_kind, j_bank, opening=number == 0)):
            acc, acc_code, c_rid, c_code, s_rid, s_code, v_rid, v_code, amount, base, tax, comment = spec
            folder._insert(
                ENTITIES["GLTrans"],
                {
                    "GLTransHeader_Id": header_rid,
                    "BookPeriod_Id": period_rid,
                    "LineOrder": order,
                    "GLAccount_Id": acc,
                    "GLAccountCode": acc_code,
                    "Customer_Id": c_rid,
                    "CustomerCode": c_code,
                    "Supplier_Id": s_rid,
                    "SupplierCode": s_code,
                    "Vat_Id": v_rid,
                    "VatCode": v_code,
                    "Amount": amount,
                    "VatBaseAmount": base,
                    "VatTaxAmount": tax,
                    "CommentBooking": comment,
                    "ValueDate": booked,
                    "CurrencyCode": "EUR",
                },
                t,
                who,
            )
    return header_id
