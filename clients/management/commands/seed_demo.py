"""``manage.py seed_demo``: a demo firm with one user per role and a few client files. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from clients.models import ClientFile, Firm, Role
from clients.services import membership_set, user_get_or_create
from silverfin_sync.commands import OperatorCommand
from silverfin_sync.demo_only import demo_command_refuse_in_production

DEMO_FIRM = {"name": "Demo Accountants", "slug": "demo"}
DEMO_CLIENT_FILES = [
    ("Demo Bakkerij BV", "BAKKERIJ"),
    ("Garage Janssens NV", "JANSSENS"),
    ("Studio Lumière SRL", "LUMIERE"),
]
DEMO_USERS = [
    ("admin@demo.test", Role.ADMIN, "Ada Admin"),
    ("staff@demo.test", Role.STAFF, "Sam Staff"),
    ("external@demo.test", Role.EXTERNAL, "Eva External"),
    ("pulse@demo.test", Role.PULSE, "Paul Pulse"),
]


class Command(OperatorCommand):
    help = "Seed the demo firm, one user per role and a few client files; print the log-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="demo-password", help="Password for every demo user.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        demo_command_refuse_in_production("seed_demo")
        firm, _created = Firm.objects.get_or_create(
            slug=DEMO_FIRM["slug"], defaults={"name": DEMO_FIRM["name"]}
        )
        files = [
            ClientFile.objects.get_or_create(firm=firm, file_code=code, defaults={"name": name})[0]
            for name, code in DEMO_CLIENT_FILES
        ]
        self.stdout.write(_("Demo firm: %(name)s — log in at /accounts/login/ with:") % {"name": firm.name})
        for email, role, full_name in DEMO_USERS:
            user = user_get_or_create(email=email, full_name=full_name)
            user.set_password(options["password"])
            user.save(update_fields=["password"])
            # External contributors and Pulse users are given the first client file only.
            given = files[:1] if role in {Role.EXTERNAL, Role.PULSE} else []
            membership_set(firm=firm, user=user, role=role, client_files=given)
            self.stdout.write(
                f"  {Role(role).label:<22} {email:<22} "
                + _("password: %(password)s") % {"password": options["password"]}
            )
