"""Closed books: a client file locked up to a period end, and the change alerts syncs open when WoW changes
anything in a closed period.

Syncs keep writing what WoW says (the ledger always equals WoW); what they change in a closed period is
noted while they run (``LockWatch``) and gathered, after the balances are rebuilt, into the file's one
open alert: per (period, account) the movement (debit − credit) the firm accepted and the one now, and
the documents responsible with their lines before and after. A person accepts it; the accepted movements
become the reference for the next alert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.ledger import RefMaps
from clients.ledger.rows import AccountRow, EntryRow
from clients.models import Account, AccountBalance, ClientFile, Entry, EntryLine, Period

from .connections import audit_record
from .models import AuditEvent, ChangeAlert, ChangeAlertItem, ChangeAlertLine, LockedBalance, SyncRun
from .signals import change_alert_opened

ZERO = Decimal("0")


# --- Locking and accepting -----------------------------------------------------------------------------


def period_ends(*, client_file: ClientFile) -> list[dt.date]:
    """The dates the books can be locked up to: the ends of the file's periods."""
    ends = Period.objects.filter(client_file=client_file, end_date__isnull=False).values_list(
        "end_date", flat=True
    )
    return sorted({end for end in ends if end is not None})


def books_lock_moves_back(*, client_file: ClientFile, until: dt.date | None) -> bool:
    """Whether setting ``until`` unlocks periods (only admins may)."""
    current = client_file.books_locked_until
    return current is not None and (until is None or until < current)


def books_lock_set(*, client_file: ClientFile, until: dt.date | None, actor: User | None) -> ClientFile:
    """Lock the books up to ``until`` (a period end), or unlock them (None). Moving the date forward
    remembers the newly closed periods' balances as they are; moving it back forgets those of the periods
    it reopens (and their lines of an open alert). Audited."""
    if until is not None and until not in period_ends(client_file=client_file):
        raise ValidationError(
            {"until": _("Choose the last day of one of this client file’s periods.")}, code="not_a_period_end"
        )
    with transaction.atomic():
        locked = ClientFile.objects.select_for_update().get(pk=client_file.pk)
        before = locked.books_locked_until
        if before == until:
            return locked
        now = timezone.now()
        if until is not None and (before is None or until > before):
            newly = Period.objects.filter(client_file=locked, end_date__lte=until)
            if before is not None:
                newly = newly.filter(end_date__gt=before)
            LockedBalance.objects.bulk_create(
                [
                    LockedBalance(
                        client_file=locked,
                        period_id=row.period_id,
                        account_id=row.account_id,
                        locked_debit=row.debit,
                        locked_credit=row.credit,
                        locked_closing=row.closing,
                        accepted_net=row.debit - row.credit,
                        locked_at=now,
                    )
                    for row in AccountBalance.objects.filter(client_file=locked, period__in=newly)
                ],
                ignore_conflicts=True,
            )
        else:
            reopened = Period.objects.filter(client_file=locked)
            if until is not None:
                reopened = reopened.filter(end_date__gt=until)
            LockedBalance.objects.filter(client_file=locked, period__in=reopened).delete()
            ChangeAlertLine.objects.filter(
                alert__client_file=locked, alert__status=ChangeAlert.Status.OPEN, period__in=reopened
            ).delete()
            ChangeAlert.objects.filter(
                client_file=locked, status=ChangeAlert.Status.OPEN, lines__isnull=True, items__isnull=True
            ).delete()
        locked.books_locked_until = until
        locked.save(update_fields=["books_locked_until", "updated_at"])
        audit_record(
            firm=locked.firm,
            actor=actor,
            action=AuditEvent.Action.BOOKS_LOCKED if until is not None else AuditEvent.Action.BOOKS_UNLOCKED,
            client_file=locked,
            parameters={
                "client_file": locked.name,
                "old_lock_date": before.isoformat() if before else "",
                "lock_date": until.isoformat() if until else "",
            },
        )
    return locked


def change_alert_accept(*, alert: ChangeAlert, actor: User | None, note: str = "") -> ChangeAlert:
    """A person accepts the changes: the alert closes (it stays readable), and its "after" figures become
    the accepted ones that later syncs are compared with."""
    note = note.strip()
    if len(note) > 2000:
        raise ValidationError({"note": _("At most 2,000 characters.")})
    with transaction.atomic():
        locked = ChangeAlert.objects.select_for_update().select_related("client_file__firm").get(pk=alert.pk)
        if locked.status != ChangeAlert.Status.OPEN:
            raise ValidationError(_("These changes were already accepted."))
        for line in locked.lines.all():
            LockedBalance.objects.update_or_create(
                period_id=line.period_id,
                account_id=line.account_id,
                defaults={"accepted_net": line.after, "client_file_id": locked.client_file_id},
                create_defaults={
                    "client_file_id": locked.client_file_id,
                    "accepted_net": line.after,
                    "locked_debit": ZERO,
                    "locked_credit": ZERO,
                    "locked_closing": ZERO,
                    "locked_at": timezone.now(),
                },
            )
        locked.status = ChangeAlert.Status.ACCEPTED
        locked.accepted_at = timezone.now()
        locked.accepted_by = actor
        locked.note = note
        locked.save(update_fields=["status", "accepted_at", "accepted_by", "note", "updated_at"])
        audit_record(
            firm=locked.client_file.firm,
            actor=actor,
            action=AuditEvent.Action.ALERT_ACCEPTED,
            client_file=locked.client_file,
            parameters={"client_file": locked.client_file.name, "count": locked.lines.count()},
        )
    return locked


# --- Reading -------------------------------------------------------------------------------------------


def change_alert_open(*, client_file: ClientFile) -> ChangeAlert | None:
    return ChangeAlert.objects.filter(client_file=client_file, status=ChangeAlert.Status.OPEN).first()


def change_alert_list(*, client_file: ClientFile) -> QuerySet[ChangeAlert]:
    return ChangeAlert.objects.filter(client_file=client_file).select_related("accepted_by")


def change_alert_lines(*, alert: ChangeAlert) -> QuerySet[ChangeAlertLine]:
    return alert.lines.select_related("period", "account")


@dataclass(frozen=True)
class PeriodEffect:
    period: Period
    accounts: int
    net: Decimal  # the sum of the differences: what the period's result moved by


def change_alert_effects(*, alert: ChangeAlert) -> list[PeriodEffect]:
    """Per closed period, how many accounts moved and by how much in all (the banner's summary)."""
    effects: dict[int, list[Any]] = {}
    for line in change_alert_lines(alert=alert):
        entry = effects.setdefault(line.period_id, [line.period, 0, ZERO])
        entry[1] += 1
        entry[2] += line.difference
    return [PeriodEffect(period=p, accounts=n, net=net) for p, n, net in effects.values()]


def entry_pks(*, client_file: ClientFile, wow_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    return dict(
        Entry.objects.filter(client_file=client_file, wow_id__in=list(wow_ids)).values_list("wow_id", "pk")
    )


def locked_balances(*, client_file: ClientFile, period_ids: Iterable[int]) -> dict[int, LockedBalance]:
    """The balances as locked, per account, of closed periods (one query)."""
    return {
        row.account_id: row
        for row in LockedBalance.objects.filter(client_file=client_file, period_id__in=list(period_ids))
    }


# --- Watching a run ------------------------------------------------------------------------------------


def _line(period: str, account: str, amount: Decimal, description: str) -> dict[str, str]:
    return {"period": period, "account": account, "amount": str(amount), "description": description}


@dataclass
class LockWatch:
    """What one run changes in a client file's closed periods. Costs nothing for a file without a lock;
    with one, a query per page of documents that the run writes or deletes."""

    run: SyncRun
    client_file_id: int
    closed: set[int]  # the closed periods' pks
    period_keys: dict[int, str]  # every period's key, e.g. "2024-03", for the lines shown
    alert: ChangeAlert | None = None
    opened_alert: bool = False  # this run opened the file's alert (none was open before it)
    noted: dict[uuid.UUID, ChangeAlertItem] = field(default_factory=dict)

    @classmethod
    def start(cls, run: SyncRun, client_file: ClientFile) -> LockWatch | None:
        until = client_file.books_locked_until
        if until is None or run.trigger == SyncRun.Trigger.FIRST_LINK:
            return None
        periods = list(Period.objects.filter(client_file=client_file))
        closed = {p.pk for p in periods if p.end_date is not None and p.end_date <= until}
        if not closed:
            return None
        return cls(
            run=run, client_file_id=client_file.pk, closed=closed, period_keys={p.pk: p.key for p in periods}
        )

    def _alert(self) -> ChangeAlert:
        if self.alert is None:
            self.alert, self.opened_alert = ChangeAlert.objects.get_or_create(
                client_file_id=self.client_file_id, status=ChangeAlert.Status.OPEN
            )
        return self.alert

    def _note(
        self, kind: str, wow_id: uuid.UUID, label: str, book_date: dt.date | None, before: list[Any]
    ) -> None:
        if wow_id in self.noted:
            return  # the first state seen in this run is the one before it
        self.noted[wow_id] = ChangeAlertItem.objects.create(
            alert=self._alert(),
            run=self.run,
            kind=kind,
            wow_id=wow_id,
            label=label[:200],
            book_date=book_date,
            before=before,
        )

    def _old_lines(self, entry_pks: Sequence[int]) -> dict[int, list[dict[str, str]]]:
        lines: dict[int, list[dict[str, str]]] = {}
        for entry_id, period_id, number, amount, description in (
            EntryLine.objects.filter(client_file_id=self.client_file_id, entry_id__in=list(entry_pks))
            .order_by("entry_id", "line_order", "pk")
            .values_list("entry_id", "period_id", "account__number", "amount", "description")
        ):
            lines.setdefault(entry_id, []).append(
                _line(
                    self.period_keys.get(period_id, "") if period_id else "",
                    number or "",
                    amount,
                    description,
                )
                | {"closed": "1" if period_id in self.closed else ""}
            )
        return lines

    def before_entries(self, rows: Sequence[EntryRow], refs: RefMaps) -> None:
        """Documents about to be written: new ones booked in a closed period, and changed ones that were or
        will be there, with the lines the ledger holds now."""
        stored = {
            wow_id: (pk, version, number, book_date, period_id)
            for pk, wow_id, version, number, book_date, period_id in Entry.objects.filter(
                client_file_id=self.client_file_id, wow_id__in=[r.wow_id for r in rows]
            ).values_list("pk", "wow_id", "wow_version", "doc_number", "book_date", "period_id")
        }
        changed = [r for r in rows if r.wow_id in stored and stored[r.wow_id][1] != r.version]
        old = self._old_lines([stored[r.wow_id][0] for r in changed])
        for r in rows:
            period_wow_ids = {line.period_wow_id or r.period_wow_id for line in r.lines}
            new_periods = {refs.periods.get(w) for w in period_wow_ids if w is not None}
            touches_closed = bool(new_periods & self.closed)
            if r.wow_id not in stored:
                if touches_closed:
                    self._note(ChangeAlertItem.Kind.ADDED, r.wow_id, r.doc_number, r.book_date, [])
            elif stored[r.wow_id][1] != r.version:
                before = old.get(stored[r.wow_id][0], [])
                if touches_closed or any(line.get("closed") for line in before):
                    self._note(ChangeAlertItem.Kind.CHANGED, r.wow_id, r.doc_number, r.book_date, before)

    def before_delete_entries(self, wow_ids: Iterable[uuid.UUID]) -> None:
        stored = list(
            Entry.objects.filter(client_file_id=self.client_file_id, wow_id__in=list(wow_ids)).values_list(
                "pk", "wow_id", "doc_number", "book_date"
            )
        )
        old = self._old_lines([pk for pk, *_rest in stored])
        for pk, wow_id, number, book_date in stored:
            before = old.get(pk, [])
            if any(line.get("closed") for line in before):
                self._note(ChangeAlertItem.Kind.REMOVED, wow_id, number, book_date, before)

    def before_delete_lines(self, line_wow_ids: Iterable[uuid.UUID]) -> None:
        entries = set(
            EntryLine.objects.filter(
                client_file_id=self.client_file_id,
                wow_id__in=list(line_wow_ids),
                period_id__in=list(self.closed),
            ).values_list("entry_id", flat=True)
        )
        old = self._old_lines(sorted(entries))
        for pk, wow_id, number, book_date in Entry.objects.filter(pk__in=entries).values_list(
            "pk", "wow_id", "doc_number", "book_date"
        ):
            self._note(ChangeAlertItem.Kind.CHANGED, wow_id, number, book_date, old.get(pk, []))

    def before_accounts(self, rows: Sequence[AccountRow]) -> None:
        """Accounts about to be renamed that have a movement in a closed period."""
        stored = {
            wow_id: (pk, number, name)
            for pk, wow_id, number, name in Account.objects.filter(
                client_file_id=self.client_file_id, wow_id__in=[r.wow_id for r in rows]
            ).values_list("pk", "wow_id", "number", "name")
        }
        renamed = {r.wow_id: r for r in rows if r.wow_id in stored and stored[r.wow_id][2] != r.name}
        if not renamed:
            return
        with_balance = set(
            AccountBalance.objects.filter(
                client_file_id=self.client_file_id,
                account_id__in=[stored[w][0] for w in renamed],
                period_id__in=list(self.closed),
            ).values_list("account_id", flat=True)
        )
        for wow_id, row in renamed.items():
            pk, number, name = stored[wow_id]
            if pk in with_balance:
                self._note(ChangeAlertItem.Kind.RENAMED, wow_id, number, None, [{"name": name}])
                self.noted[wow_id].after = [{"name": row.name}]
                self.noted[wow_id].save(update_fields=["after"])

    def finish(self, touched_accounts: Iterable[tuple[int, int | None]]) -> None:
        """After the balances are rebuilt: the open alert's lines for every closed (period, account) the run
        touched or the alert already lists, and the new lines of the documents noted."""
        pairs = {(p, a) for p, a in touched_accounts if p in self.closed and a is not None}
        open_alert = (
            self.alert
            or ChangeAlert.objects.filter(
                client_file_id=self.client_file_id, status=ChangeAlert.Status.OPEN
            ).first()
        )
        if open_alert is not None:
            pairs |= set(open_alert.lines.values_list("period_id", "account_id"))
        if not pairs and not self.noted:
            return
        with transaction.atomic():
            now_net = {
                (p, a): debit - credit
                for p, a, debit, credit in AccountBalance.objects.filter(
                    client_file_id=self.client_file_id, period_id__in={p for p, _a in pairs}
                ).values_list("period_id", "account_id", "debit", "credit")
            }
            accepted = {
                (p, a): net
                for p, a, net in LockedBalance.objects.filter(
                    client_file_id=self.client_file_id, period_id__in={p for p, _a in pairs}
                ).values_list("period_id", "account_id", "accepted_net")
            }
            moved = {
                pair: now_net.get(pair, ZERO)
                for pair in pairs
                if now_net.get(pair, ZERO) != accepted.get(pair, ZERO)
            }
            if not moved and not self.noted and open_alert is None:
                return
            alert = open_alert or self._alert()
            existing = {(line.period_id, line.account_id): line for line in alert.lines.all()}
            for pair, line in existing.items():
                if pair in pairs and pair not in moved:
                    line.delete()  # back to the accepted figure
            for (period_id, account_id), after in moved.items():
                current = existing.get((period_id, account_id))
                if current is None:
                    ChangeAlertLine.objects.create(
                        alert=alert,
                        period_id=period_id,
                        account_id=account_id,
                        before=accepted.get((period_id, account_id), ZERO),
                        after=after,
                    )
                elif current.after != after:
                    current.after = after
                    current.save(update_fields=["after"])
            self._record_new_lines()
            if alert.lines.exists() or alert.items.exists():
                alert.runs.add(self.run)
                alert.save(update_fields=["updated_at"])
                if self.opened_alert:
                    change_alert_opened.send(sender=LockWatch, alert_id=alert.pk)
            else:
                alert.delete()

    def _record_new_lines(self) -> None:
        documents = [
            i
            for i in self.noted.values()
            if i.kind in {ChangeAlertItem.Kind.ADDED, ChangeAlertItem.Kind.CHANGED}
        ]
        if not documents:
            return
        pks = dict(
            Entry.objects.filter(
                client_file_id=self.client_file_id, wow_id__in=[i.wow_id for i in documents]
            ).values_list("wow_id", "pk")
        )
        new = self._old_lines(list(pks.values()))
        for item in documents:
            item.after = new.get(pks.get(item.wow_id, -1), [])
            item.save(update_fields=["after"])


@dataclass(frozen=True)
class AsLockedRow:
    account: Account
    locked: Decimal  # the closing balance when the period was closed
    now: Decimal
    locked_debit: Decimal = ZERO
    locked_credit: Decimal = ZERO

    @property
    def difference(self) -> Decimal:
        return self.now - self.locked

    @property
    def locked_opening(self) -> Decimal:
        return self.locked - self.locked_debit + self.locked_credit


def as_locked_rows(*, client_file: ClientFile, period: Period) -> list[AsLockedRow]:
    """A closed period's trial balance as it was locked next to the current one (closing balances), per
    account that has either: three queries. An account booked in the period only after the lock was
    locked at zero."""
    locked = {row.account_id: row for row in LockedBalance.objects.filter(period=period)}
    now = dict(AccountBalance.objects.filter(period=period).values_list("account_id", "closing"))
    accounts = Account.objects.filter(client_file=client_file, pk__in=set(locked) | set(now)).order_by(
        "number"
    )
    rows = []
    for account in accounts:
        at_lock = locked.get(account.pk)
        rows.append(
            AsLockedRow(
                account=account,
                locked=at_lock.locked_closing if at_lock else ZERO,
                now=now.get(account.pk, ZERO),
                locked_debit=at_lock.locked_debit if at_lock else ZERO,
                locked_credit=at_lock.locked_credit if at_lock else ZERO,
            )
        )
    return rows


def period_is_closed(*, client_file: ClientFile, period: Period | None) -> bool:
    until = client_file.books_locked_until
    return bool(until and period is not None and period.end_date is not None and period.end_date <= until)
