"""``manage.py rundemo``: the whole product on its embedded default, from one command.

Starts, as child processes sharing this environment: the web site (Django's server), one Celery worker with
beat embedded (filesystem broker, SQLite) and the WinbooksOnWeb sandbox on loopback. Ctrl-C, or any child
ending, stops them all.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandParser

from silverfin_sync.demo_only import demo_command_refuse_in_production


class Command(BaseCommand):
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
                "syncs,syncs-now",
                # A child that grew past 600 MB (a large first sync) is replaced after its task.
                "--max-memory-per-child",
                "600000",
            ],
            "web": [python, "manage.py", "runserver", "--noreload", f"{options['host']}:{options['port']}"],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in commands.items():
            children[name] = subprocess.Popen(command)  # noqa: S603
        sandbox_url = f"http://127.0.0.1:{options['sandbox_port']}"
        token = self._exchange_token(sandbox_url)
        self.stdout.write(
            "\n"
            f"Site:     http://{options['host']}:{options['port']}/   (Ctrl-C stops everything)\n"
            "Log in:   admin@demo.test / demo-password (also staff@, external@, pulse@demo.test)\n"
            f"WinbooksOnWeb sandbox (a local WoW): {sandbox_url}\n"
            "  Connect on the Syncs tab with\n"
            "    e-mail          demo@sandbox.local\n"
            f"    exchange token  {token}\n"
            f"    API location    {sandbox_url}   (under Advanced)\n"
            "  then link a client file to the company code DEMO_BV.\n"
            "E-mails (a sync needing reconnecting, the daily digest) are printed on this console.\n"
        )
        try:
            while not stopping:
                ended = [name for name, child in children.items() if child.poll() is not None]
                if ended:
                    self.stderr.write(f"{', '.join(ended)} stopped; stopping the rest.")
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
