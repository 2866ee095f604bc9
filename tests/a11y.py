"""axe-core in Chromium through Playwright: the accessibility check every browser test runs on its pages.

axe.min.js comes from the ``axe-playwright-python`` package (pinned in pyproject.toml), which vendors the
npm build of axe-core: no download at test time, and one pinned version for every machine.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

# Serious and critical violations fail a test; moderate and minor ones are reported by axe but allowed.
FAILING_IMPACTS = {"serious", "critical"}


@cache
def axe_source() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The page's serious and critical violations, each with its rule, help and the offending elements."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(
            axe_source()
        )  # through DevTools: the pages' Content-Security-Policy refuses inline scripts
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}: {violations}"
