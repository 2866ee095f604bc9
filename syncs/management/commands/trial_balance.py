"""``manage.py trial_balance``: a client file's trial balance for one period, as CSV or JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from clients.ledger_selectors import ledger_scope_resolve, period_groups_for_picker, trial_balance
from silverfin_sync.commands import OperatorCommand
from syncs.exports import exact_amount, trial_balance_csv

from ._common import client_file_by_code, firm_by_slug

PERIOD_KEY = re.compile(r"^\d{4}-(0\d|1[0-3])$")


class Command(OperatorCommand):
    help = "Print a client file's trial balance for a period (YYYY-MM; YYYY-00 opening, YYYY-13 closing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--client", required=True, help="The client file's file code.")
        parser.add_argument("--period", required=True, help="YYYY-MM, or YYYY-00 / YYYY-13.")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["period"].strip()
        if not PERIOD_KEY.match(key):
            raise CommandError(
                _("--period must look like 2024-03 (or 2024-00 / 2024-13), not '%(value)s'.") % {"value": key}
            )
        firm = firm_by_slug(options["firm"])
        client_file = client_file_by_code(firm, options["client"])
        groups = period_groups_for_picker(client_file=client_file)
        scope = ledger_scope_resolve(client_file=client_file, value=key, groups=groups)
        if scope is None:
            raise CommandError(
                _("'%(name)s' has no period %(period)s (has it been synced?).")
                % {"name": client_file.name, "period": key}
            )
        balance = trial_balance(client_file=client_file, scope=scope)
        if options["format"] == "csv":
            self.stdout.write(trial_balance_csv(balance).decode("utf-8-sig"), ending="")
            return
        self.stdout.write(
            json.dumps(
                {
                    "client_file": client_file.file_code,
                    "period": scope.value,
                    "accounts": [
                        {
                            "account": row.number,
                            "name": row.name,
                            "opening": exact_amount(row.opening),
                            "debit": exact_amount(row.debit),
                            "credit": exact_amount(row.credit),
                            "closing": exact_amount(row.closing),
                        }
                        for row in balance.rows
                    ],
                    "totals": {
                        "opening": exact_amount(balance.opening),
                        "debit": exact_amount(balance.debit),
                        "credit": exact_amount(balance.credit),
                        "closing": exact_amount(balance.closing),
                        "ties_out": balance.ties_out,
                    },
                },
                indent=2,
            )
        )
