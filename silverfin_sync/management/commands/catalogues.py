"""``manage.py catalogues``: keep the Dutch and French catalogues (locale/*/LC_MESSAGES/django.po) whole.

- ``catalogues --check`` (``make test``): regenerate the catalogues from the sources in a scratch copy of
  the project and fail, listing each string, when the committed ones are stale (a marked string missing, an
  entry no longer used) or incomplete (an untranslated or fuzzy entry, a placeholder that differs).
- ``catalogues --update`` (``make messages``): regenerate them in place, for a developer to translate.
- ``catalogues --compile`` (``make test`` and ``make demo``): compile them to .mo files (never committed).

Regenerating (``makemessages``) is done in one place, here, with the same options for the check and the
update, so what the check expects is exactly what ``make messages`` writes. Its own messages stay in English:
it is a developer's tool that ``make`` runs, not an operator's command (those speak the operator's language,
silverfin_sync/commands.py).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DOMAIN = "django"
# Not translated: tests, benchmarks, the WoW client (plain Python, no Django) and the sandbox (a stand-in for
# WoW itself), generated and local folders (mutants/ is the copy make mutation runs its tests in).
IGNORED = [
    "tests",
    "bench",
    "var",
    "winbooks",
    "wow_sandbox",
    "test-artifacts",
    "build",
    "dist",
    "locale",
    "mutants",
]
COPIED_SUFFIXES = {".py", ".html", ".txt", ".po"}

FIX = (
    "Run `make messages`, then translate each listed entry in locale/<language>/LC_MESSAGES/django.po "
    "(fill the empty msgstr, remove the `#, fuzzy` line once the translation is right), and commit the .po "
    "files. README.md, 'Languages', says more."
)


def translated_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES if code != "en"]


def catalogue_path(base: Path, language: str) -> Path:
    return base / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def makemessages(base: Path, languages: list[str]) -> None:
    """Regenerate the catalogues of the project at ``base`` (its own settings write into base/locale)."""
    command = [
        sys.executable,
        "manage.py",
        "makemessages",
        "--domain",
        DOMAIN,
        "--no-location",
        "--no-obsolete",
    ]
    command += [f"--locale={language}" for language in languages]
    for name in IGNORED:
        # The files under the top-level folder only: "--ignore=winbooks/*" would skip every folder named so,
        # syncs/providers/winbooks/ (the portal's translated side of the WoW client) included.
        command += [f"--ignore={name}/*.*"]
    command += ["--ignore=.*"]
    env = {**os.environ, "PYTHONPATH": str(base), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, cwd=base, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise CommandError(f"makemessages failed:\n{result.stdout}{result.stderr}")


@dataclass
class Entry:
    context: str = ""
    msgid: str = ""
    plural: str = ""
    strings: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.context, self.msgid, self.plural)

    def label(self) -> str:
        context = f" (context “{self.context}”)" if self.context else ""
        return f"“{self.msgid}”{context}"


def read_catalogue(path: Path) -> dict[tuple[str, str, str], Entry]:
    """A .po file's entries by (context, msgid, plural); enough of the format for what gettext writes."""
    entries: dict[tuple[str, str, str], Entry] = {}
    entry = Entry()
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, target
        if entry.msgid or entry.strings:
            entries[entry.key] = entry
        entry, target = Entry(), None

    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            if entry.msgid or entry.strings:
                finish()
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _space, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = "", line
        elif keyword in {"msgctxt", "msgid"} and (entry.strings or (keyword == "msgctxt" and entry.msgid)):
            finish()
        text = ast.literal_eval(rest) if rest else ""
        if keyword == "msgctxt":
            target = ("context", 0)
        elif keyword == "msgid":
            target = ("msgid", 0)
        elif keyword == "msgid_plural":
            target = ("plural", 0)
        elif keyword == "msgstr":
            target = ("str", 0)
        elif keyword.startswith("msgstr["):
            target = ("str", int(keyword[7:-1]))
        if target is None:
            continue
        kind, index = target
        if kind == "str":
            entry.strings[index] = entry.strings.get(index, "") + text
        else:
            setattr(entry, kind, getattr(entry, kind) + text)
    return {key: e for key, e in entries.items() if not e.obsolete and key != ("", "", "")}


def catalogue_problems(committed: Path, expected: Path) -> list[str]:
    """What is wrong with the committed catalogue, against the one regenerated from the sources."""
    if not committed.is_file():
        return [f"{committed} is missing."]
    ours, wanted = read_catalogue(committed), read_catalogue(expected)
    problems = [f"not in the catalogue: {wanted[key].label()}" for key in wanted if key not in ours]
    problems += [f"no longer used (remove it): {ours[key].label()}" for key in ours if key not in wanted]
    for entry in ours.values():
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy (check the translation, then remove `#, fuzzy`): {entry.label()}")
        elif not entry.strings or any(not text for text in entry.strings.values()):
            problems.append(f"untranslated: {entry.label()}")
    check = subprocess.run(  # noqa: S603
        ["msgfmt", "--check-format", "--check-header", "-o", os.devnull, str(committed)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        problems.append(f"msgfmt refuses it:\n{check.stderr.strip()}")
    return problems


def _copy_sources(source: Path, target: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = Path(folder) / name
            top = path.relative_to(source).parts[0]
            hidden = name.startswith(".") or name == "__pycache__"
            not_translated = top in IGNORED and top != "locale"
            if hidden or not_translated or (path.is_file() and path.suffix not in COPIED_SUFFIXES):
                skipped.add(name)
        return skipped

    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)


class Command(BaseCommand):
    help = "Check, regenerate or compile the translation catalogues (locale/*/LC_MESSAGES/django.po)."

    def add_arguments(self, parser: Any) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument(
            "--check", action="store_true", help="Fail when a catalogue is stale or incomplete."
        )
        action.add_argument("--update", action="store_true", help="Regenerate the catalogues in place.")
        action.add_argument("--compile", action="store_true", help="Compile the catalogues to .mo files.")

    def handle(self, *args: Any, **options: Any) -> None:
        if shutil.which("msgfmt") is None:
            raise CommandError("GNU gettext is missing (msgfmt, xgettext): `apt-get install gettext`.")
        base = Path(settings.BASE_DIR)
        languages = translated_languages()
        if options["update"]:
            makemessages(base, languages)
            self.stdout.write(f"Regenerated: {', '.join(str(catalogue_path(base, la)) for la in languages)}")
        elif options["compile"]:
            for language in languages:
                po = catalogue_path(base, language)
                subprocess.run(  # noqa: S603
                    ["msgfmt", "--check-format", "-o", str(po.with_suffix(".mo")), str(po)],  # noqa: S607
                    check=True,
                )
        else:
            self._check(base, languages)

    def _check(self, base: Path, languages: list[str]) -> None:
        with tempfile.TemporaryDirectory(prefix="catalogues-") as scratch:
            copy = Path(scratch) / "project"
            _copy_sources(base, copy)
            makemessages(copy, languages)
            report = []
            for language in languages:
                problems = catalogue_problems(catalogue_path(base, language), catalogue_path(copy, language))
                if problems:
                    report.append(f"{catalogue_path(base, language).relative_to(base)}:")
                    report += [f"  - {problem}" for problem in problems]
        if report:
            raise CommandError(
                "The translation catalogues are stale or incomplete.\n" + "\n".join(report) + "\n" + FIX
            )
        self.stdout.write(f"Catalogues complete and up to date: {', '.join(languages)}.")
