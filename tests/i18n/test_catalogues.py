"""The catalogue check of `make test`: what it calls stale or incomplete, and that today's catalogues pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from silverfin_sync.management.commands.catalogues import catalogue_problems, read_catalogue

HEADER = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: nl\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

"""


def write(path: Path, body: str) -> Path:
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_the_committed_catalogues_are_complete_and_up_to_date() -> None:
    call_command("catalogues", "--check")


def test_a_marked_string_missing_from_the_catalogue_an_unused_entry_and_untranslated_ones(
    tmp_path: Path,
) -> None:
    expected = write(
        tmp_path / "expected.po",
        'msgid "Period"\nmsgstr ""\n\nmsgid "New string"\nmsgstr ""\n\n'
        'msgid "one run"\nmsgid_plural "%(count)s runs"\nmsgstr[0] ""\nmsgstr[1] ""\n\n'
        'msgctxt "verb"\nmsgid "Sync"\nmsgstr ""\n',
    )
    committed = write(
        tmp_path / "committed.po",
        'msgid "Period"\nmsgstr "Periode"\n\nmsgid "Old string"\nmsgstr "Oud"\n\n'
        'msgid "one run"\nmsgid_plural "%(count)s runs"\nmsgstr[0] "één run"\nmsgstr[1] ""\n\n'
        '#, fuzzy\nmsgctxt "verb"\nmsgid "Sync"\nmsgstr "Synchroniseren"\n',
    )
    problems = catalogue_problems(committed, expected)
    assert "not in the catalogue: “New string”" in problems
    assert "no longer used (remove it): “Old string”" in problems
    assert "untranslated: “one run”" in problems
    assert "fuzzy (check the translation, then remove `#, fuzzy`): “Sync” (context “verb”)" in problems
    assert not any("Period" in problem for problem in problems)


def test_a_translation_that_drops_a_placeholder_is_refused(tmp_path: Path) -> None:
    body = '#, python-format\nmsgid "Line %(line)s is wrong."\nmsgstr "Lijn is fout."\n'
    problems = catalogue_problems(write(tmp_path / "c.po", body), write(tmp_path / "e.po", body))
    assert any(problem.startswith("msgfmt refuses it") for problem in problems)


def test_a_complete_catalogue_passes(tmp_path: Path) -> None:
    body = 'msgid "Period"\nmsgstr "Periode"\n\nmsgid "a"\nmsgid_plural "b"\nmsgstr[0] "x"\nmsgstr[1] "y"\n'
    assert catalogue_problems(write(tmp_path / "c.po", body), write(tmp_path / "e.po", body)) == []
    assert len(read_catalogue(tmp_path / "c.po")) == 2


def test_the_check_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    from django.conf import settings as django_settings

    base = Path(django_settings.BASE_DIR)
    scratch = tmp_path / "project"
    import shutil

    shutil.copytree(base / "locale", scratch / "locale")
    po = scratch / "locale" / "nl" / "LC_MESSAGES" / "django.po"
    po.write_text(
        po.read_text(encoding="utf-8") + '\nmsgid "An entry nobody uses"\nmsgstr "x"\n', encoding="utf-8"
    )
    monkeypatch.setattr(django_settings, "BASE_DIR", scratch, raising=False)
    monkeypatch.setattr(
        "silverfin_sync.management.commands.catalogues._copy_sources",
        lambda source, target: shutil.copytree(
            base,
            target,
            ignore=shutil.ignore_patterns(".*", "__pycache__", "tests", "var", "bench", "*.mo"),
            dirs_exist_ok=True,
        ),
    )
    with pytest.raises(CommandError) as raised:
        call_command("catalogues", "--check")
    message = str(raised.value)
    assert "no longer used (remove it): “An entry nobody uses”" in message
    assert "make messages" in message
