"""``manage.py import_client_files``: the spreadsheet import of the Client files tab, for automation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from administration import selectors, services
from silverfin_sync.commands import OperatorCommand
from syncs.management.commands._common import firm_by_slug, validation_message
from syncs.models import Connection


class Command(OperatorCommand):
    help = (
        "Preview (and with --confirm, apply) a CSV or XLSX of client files: file code, name, optionally "
        "company code and sync from. Prints what every line does, as JSON with --json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument("--file", required=True, help="The CSV or XLSX file.")
        parser.add_argument("--sync", help="The sync whose companies the codes are checked against.")
        parser.add_argument("--confirm", action="store_true", help="Apply the lines that have no problem.")
        parser.add_argument("--json", action="store_true", help="Print the preview as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        firm = firm_by_slug(options["firm"])
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No file at '%(path)s'.") % {"path": path})
        connections = Connection.objects.filter(firm=firm, status=Connection.Status.CONNECTED)
        if options["sync"]:
            connections = connections.filter(name=options["sync"])
        found = list(connections[:2])
        if len(found) > 1:
            raise CommandError(_("The firm has several connected syncs; choose one with --sync NAME."))
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = handle.read(settings.CLIENT_FILE_IMPORT_MAX_BYTES + 1)
        try:
            upload = services.client_file_import_start(
                firm=firm,
                actor=None,
                filename=path.name,
                data=data,
                size=size,
                connection=found[0] if found else None,
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from error
        upload = services.client_file_import_check(import_id=upload.pk)
        rows = selectors.import_rows_display(upload=upload)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    [
                        {
                            key: row[key]
                            for key in ("line", "file_code", "name", "company_code", "actions", "problem")
                        }
                        for row in rows
                    ],
                    indent=2,
                )
            )
        else:
            for row in rows:
                outcome = f"✗ {row['problem_text']}" if row["problem"] else " · ".join(row["actions_text"])  # type: ignore[arg-type]
                self.stdout.write(
                    _("line %(line)s: %(code)s %(name)s: %(outcome)s")
                    % {"line": row["line"], "code": row["file_code"], "name": row["name"], "outcome": outcome}
                )
        if not options["confirm"]:
            self.stdout.write(
                _("Nothing was changed; run again with --confirm to apply the lines without a problem.")
            )
            return
        try:
            counts = services.client_file_import_apply(upload=upload, actor=None)
        except ValidationError as error:
            raise CommandError(validation_message(error)) from error
        self.stdout.write(
            _(
                "Imported: %(created)s new, %(renamed)s renamed, %(linked)s linked (first syncs within a "
                "minute), %(skipped)s skipped."
            )
            % counts
        )
