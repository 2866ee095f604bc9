"""``manage.py rundemo``: the whole product on its embedded default, from one command.

Starts, as child processes sharing this environment: the web site (Django's server), one Celery worker with
beat embedded (filesystem broker, SQLite) and the WinbooksOnWeb sandbox on loopback. Ctrl-C, or any child
ending, stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from silverfin_sync.commands import OperatorCommand
from silverfin_sync.demo_only import demo_command_refuse_in_production
from silverfin_sync.notices import Notice


def forget_sandbox_connections(sandbox_url: str) -> int:
    """The sandbox keeps its tokens in memory: after a restart, connections to it hold tokens it no longer
    knows. They are marked "needs reconnecting" (audited) instead of looking connected and failing."""
    from syncs.connections import connection_mark_needs_reconnect
    from syncs.models import Connection

    stale = Connection.objects.filter(
        api_url__in=[sandbox_url, sandbox_url.replace("127.0.0.1", "localhost")],
        status=Connection.Status.CONNECTED,
    ).values_list("pk", flat=True)
    return sum(
        connection_mark_needs_reconnect(
            connection_id=pk,
            reason=Notice("demo.sandbox_restarted"),
        )
        for pk in list(stale)
    )


class Command(OperatorCommand):
    help = "Run the site, a Celery worker with beat, and the WinbooksOnWeb sandbox, until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8765)

    def _exchange_token(self, sandbox_url: str) -> str:
        """A fresh exchange token from the sandbox's control API, once it answers."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = requests.post(
                    f"{sandbox_url}/_sandbox/exchange-tokens",
                    json={"email": "demo@sandbox.local", "trusted": True},
                    timeout=5,
                )
                answer.raise_for_status()
                return str(answer.json()["exchange_token"])
            except requests.RequestException:
                time.sleep(0.5)
        return "(the sandbox did not start: see its messages above)"

    def handle(self, *args: Any, **options: Any) -> None:
        demo_command_refuse_in_production("rundemo")
        python = sys.executable
        commands = {
            "sandbox": [
                python,
                "-m",
                "wow_sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(options["sandbox_port"]),
                "--demo",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "silverfin_sync",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "-Q",
                "syncs-now,syncs",
                # A child that grew past 600 MB (a large first sync) is replaced after its task.
                "--max-memory-per-child",
                "600000",
            ],
            # --insecure: static files served with DEBUG off, so the demo shows the product's own 403/404/500
            # pages, as production does, instead of Django's debug pages.
            "web": [
                python,
                "manage.py",
                "runserver",
                "--noreload",
                "--insecure",
                f"{options['host']}:{options['port']}",
            ],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        sandbox_url = f"http://127.0.0.1:{options['sandbox_port']}"
        forgotten = forget_sandbox_connections(sandbox_url)
        settings.VAR_DIR.mkdir(exist_ok=True)
        sandbox_log = (settings.VAR_DIR / "sandbox.log").open("ab")
        for name, command in commands.items():
            # The sandbox prints a token of its own: only the one below is meant for the user.
            output = sandbox_log if name == "sandbox" else None
            env = {**os.environ, "DJANGO_DEBUG": "false"} if name == "web" else None
            children[name] = subprocess.Popen(command, stdout=output, env=env)  # noqa: S603
        token = self._exchange_token(sandbox_url)
        self.stdout.write(
            "\n"
            + _(
                "Site:     %(site)s   (Ctrl-C stops everything)\n"
                "Log in:   admin@demo.test / demo-password (also staff@, external@, pulse@demo.test)\n"
                "WinbooksOnWeb sandbox (a local WoW): %(sandbox)s\n"
                "  Connect on the Syncs tab with\n"
                "    e-mail          demo@sandbox.local\n"
                "    exchange token  %(token)s\n"
                "    API location    %(sandbox)s   (under Advanced)\n"
                "  then link a client file to the company code DEMO_BV.\n"
                "E-mails (a sync needing reconnecting, the daily digest) are printed on this console.\n"
            )
            % {"site": f"http://{options['host']}:{options['port']}/", "sandbox": sandbox_url, "token": token}
            + (
                ngettext(
                    "  The sandbox starts afresh each time: %(count)d sync connected to it before is marked\n"
                    "  'Needs reconnecting'; reconnect it with the token above.\n",
                    "  The sandbox starts afresh each time: %(count)d syncs connected to it before are marked\n"
                    "  'Needs reconnecting'; reconnect them with the token above.\n",
                    forgotten,
                )
                % {"count": forgotten}
                if forgotten
                else ""
            )
        )
        try:
            while not stopping:
                ended = [name for name, child in children.items() if child.poll() is not None]
                if ended:
                    self.stderr.write(
                        _("%(names)s stopped; stopping the rest.") % {"names": ", ".join(ended)}
                    )
                    break
                time.sleep(0.5)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children.values():
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
