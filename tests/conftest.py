"""Shared fixtures. The suite runs against the real PostgreSQL and Redis that ``make test`` starts
(tests/services.py); pages are driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import axe_violations

# Playwright's sync API runs an event loop in the test thread; Django would then refuse database access
# from that thread. The tests own that thread, so the guard does not apply to them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["tests.fixtures", "tests.winbooks.sandbox_fixtures"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _compile_catalogues() -> None:
    """The compiled catalogues the pages are translated with, when missing or older than their .po (make
    test compiles them too; this keeps a plain `pytest` run in Dutch and French as well)."""
    import subprocess

    for po in (Path(__file__).resolve().parent.parent / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)


def pytest_configure(config: pytest.Config) -> None:
    _compile_catalogues()
    if config.pluginmanager.has_plugin("django") and not os.environ.get("DATABASE_URL"):
        pytest.exit(
            "DATABASE_URL is not set: run the suite with `make test` (or "
            "`python -m tests.services -- pytest`), which starts the PostgreSQL and Redis it needs.",
            returncode=4,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    # Every browser test's last page passes axe-core too (tests/pages/ checks every page on purpose).
    checked = page.url.startswith("http") and not request.node.get_closest_marker("no_axe")
    violations = axe_violations(page) if checked else []
    context.close()
    assert not violations, f"accessibility (axe-core) on {page.url}: {violations}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Real hashing costs ~0.3 s a user; the tests create many users and prove nothing about hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language_between_tests() -> Iterator[None]:
    # A request leaves its reader's language active in the thread (as Django's LocaleMiddleware does); in a
    # server each request sets its own, but tests share one thread: each starts in the default language.
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
