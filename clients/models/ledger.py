"""The client file's ledger, as synced from the bookkeeping package.

Every synced row belongs to one client file and carries the package's own id (``wow_id``, WinbooksOnWeb's
GUID) and version; ``(client_file, wow_id)`` is unique, so a page written twice updates, never duplicates.
Money is ``Decimal`` end to end: amounts are stored with four decimals, which holds every amount WoW sends
(cents) and any rounding it might, so nothing is lost on the way in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from .firms import ClientFile


class SyncedRow(models.Model):
    client_file = models.ForeignKey(ClientFile, on_delete=models.CASCADE, related_name="+")
    wow_id = models.UUIDField(help_text="The object's Id in the bookkeeping package.")
    wow_version = models.IntegerField(default=0)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def _unique_wow_id(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["client_file", "wow_id"], name=f"{name}_unique_wow_id")


class FiscalYear(SyncedRow):
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=200, blank=True)
    start_date = models.DateField(null=True)
    end_date = models.DateField(null=True)
    closed = models.BooleanField(default=False)

    class Meta:
        ordering = ["client_file", "start_date", "code"]
        constraints = [_unique_wow_id("fiscal_year")]

    def __str__(self) -> str:
        return self.label or self.code

    @property
    def display_name(self) -> str:
        """The year(s) it covers, in no language: "2024", or "2023–2024" for a year across two; WoW's label
        ("Boekjaar 2024") is in the language of whoever set the company up."""
        if self.start_date and self.end_date:
            first, last = self.start_date.year, self.end_date.year
            return str(first) if first == last else f"{first}–{last}"
        return self.code or self.label


class Period(SyncedRow):
    """A book period: 0 is the opening period, 1–12 the months, 13 the closing period."""

    fiscal_year = models.ForeignKey(FiscalYear, null=True, on_delete=models.SET_NULL, related_name="periods")
    number = models.IntegerField()
    year = models.IntegerField(help_text="WoW's RelatedYear.")
    month = models.IntegerField(help_text="WoW's RelatedMonth.")
    start_date = models.DateField(null=True)
    end_date = models.DateField(null=True)
    label = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["client_file", "year", "number"]
        constraints = [_unique_wow_id("period")]
        indexes = [models.Index(fields=["client_file", "year", "month"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.number == 0:
            return gettext("%(year)s opening") % {"year": self.year}
        if self.number >= 13:
            return gettext("%(year)s closing") % {"year": self.year}
        return f"{self.year}-{self.month:02d}"

    @property
    def key(self) -> str:
        """The period as users and commands name it: YYYY-MM, or YYYY-00 (opening) / YYYY-13 (closing)."""
        if self.number == 0:
            return f"{self.year}-00"
        if self.number >= 13:
            return f"{self.year}-13"
        return f"{self.year}-{self.month:02d}"


class Account(SyncedRow):
    number = models.CharField(max_length=40, help_text="The account number as in the package.")
    name = models.CharField(max_length=300, blank=True)
    name_alt = models.CharField(max_length=300, blank=True, help_text="Second-language name (French in WoW).")
    central_type = models.CharField(max_length=40, blank=True)
    locked = models.BooleanField(default=False)

    class Meta:
        ordering = ["client_file", "number"]
        constraints = [_unique_wow_id("account")]
        indexes = [models.Index(fields=["client_file", "number"])]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @staticmethod
    def name_for(language: str, name: str, name_alt: str) -> str:
        """The name a reader of ``language`` reads: WoW's French label (``name_alt``) in French, its first
        (Dutch) label otherwise, each falling back on the other."""
        if language.startswith("fr"):
            return name_alt or name
        return name or name_alt

    @property
    def localized_name(self) -> str:
        return self.name_for(get_language() or "", self.name, self.name_alt)


class Journal(SyncedRow):
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=10, blank=True, help_text="SAL, SAC, PUR, PUC, PRI or CAS.")

    class Meta:
        ordering = ["client_file", "code"]
        constraints = [_unique_wow_id("journal")]

    def __str__(self) -> str:
        return self.code


class Relation(SyncedRow):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        SUPPLIER = "supplier", _("Supplier")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=60)
    name = models.CharField(max_length=300, blank=True)
    vat_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["client_file", "kind", "code"]
        constraints = [_unique_wow_id("relation")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


# Documents and lines are the two tables a sync fills by the hundred thousand. Their references carry no
# database-level constraint (``db_constraint=False``): PostgreSQL checks a foreign key row by row at commit,
# locking the referenced row each time, which cost a third of a first sync's write time (measured: 480,000
# lines, 27 → 19 s per 30,000 documents). What the constraints guarded is held elsewhere: the sync writes a
# line only with the pk of the document it just wrote and only with references it found in the ledger (an
# unknown one rejects the document), deletes go through Django, which still applies CASCADE and PROTECT,
# and every sync proves the lines against WoW's own trial balance.
def _reference(to: type[models.Model], on_delete: Any, related_name: str, **options: Any) -> Any:
    return models.ForeignKey(
        to, on_delete=on_delete, related_name=related_name, db_constraint=False, **options
    )


class Entry(SyncedRow):
    """An accounting document (WoW's GLTransHeader)."""

    # the (client_file, wow_id) unique index serves lookups by client file: no index of its own
    client_file = _reference(ClientFile, models.CASCADE, "+", db_index=False)
    journal = _reference(Journal, models.PROTECT, "entries", null=True)
    period = _reference(Period, models.PROTECT, "entries", null=True)
    doc_number = models.CharField(max_length=40, blank=True)
    book_date = models.DateField(null=True)
    due_date = models.DateField(null=True)
    wow_modified = models.DateTimeField(null=True)

    class Meta:
        # Columns, not relations: ordering by "client_file" would join every query on documents to the client
        # file (for its name), the sync's aggregates included (measured at 480,000 lines: a period's
        # fingerprint 21 → 3 ms, the whole ledger's 131 → 87 ms).
        ordering = ["client_file_id", "book_date", "pk"]
        constraints = [_unique_wow_id("entry")]
        indexes = [models.Index(fields=["client_file", "period"])]

    def __str__(self) -> str:
        return f"{self.journal} {self.doc_number}"


class EntryLine(SyncedRow):
    """One line of a document (WoW's GLTrans): a signed amount, + debit / − credit."""

    client_file = _reference(ClientFile, models.CASCADE, "+", db_index=False)
    entry = _reference(Entry, models.CASCADE, "lines")
    period = _reference(Period, models.PROTECT, "lines", null=True)
    line_order = models.IntegerField(default=0)
    account = _reference(Account, models.PROTECT, "lines", null=True)
    relation = _reference(Relation, models.PROTECT, "lines", null=True)
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    vat_code = models.CharField(max_length=20, blank=True)
    vat_base = models.DecimalField(null=True, max_digits=19, decimal_places=4)
    vat_amount = models.DecimalField(null=True, max_digits=19, decimal_places=4)
    description = models.CharField(max_length=500, blank=True)
    value_date = models.DateField(null=True)

    class Meta:
        ordering = [
            "entry_id",
            "line_order",
            "pk",
        ]  # the column: "entry" would join documents and client files
        constraints = [_unique_wow_id("entry_line")]
        indexes = [models.Index(fields=["client_file", "period", "account"])]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else Decimal(0)

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else Decimal(0)


class AccountBalance(models.Model):
    """An account's movement in one period, kept current by the sync engine after every change.

    ``opening`` is the balance brought forward within the fiscal year (the opening period included), so a
    period's trial balance reads straight from these rows: closing = opening + debit − credit.
    """

    # Rebuilt in bulk by the engine (up to a row per period and account): references without database
    # constraints, as for documents and lines. The composite indexes below serve client file and period.
    client_file = _reference(ClientFile, models.CASCADE, "+", db_index=False)
    period = _reference(Period, models.CASCADE, "balances", db_index=False)
    account = _reference(Account, models.CASCADE, "balances")
    opening = models.DecimalField(max_digits=19, decimal_places=4)
    debit = models.DecimalField(max_digits=19, decimal_places=4)
    credit = models.DecimalField(max_digits=19, decimal_places=4)
    closing = models.DecimalField(max_digits=19, decimal_places=4)
    line_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["period", "account__number"]
        constraints = [
            models.UniqueConstraint(fields=["period", "account"], name="one_balance_per_period_account")
        ]
        indexes = [models.Index(fields=["client_file", "period"])]

    def __str__(self) -> str:
        return f"{self.account} in {self.period}: {self.closing}"
