"""An id in any URL is at most 18 digits (``silverfin_sync/converters.py``): a longer one is "no such page",
never a database error about a number too large for its column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter

from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db

TOO_LONG = "9" * 20


def _patterns(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.pattern


def test_no_url_of_the_product_takes_an_unbounded_integer() -> None:
    unbounded = [
        route
        for route, pattern in _patterns(get_resolver())
        if not route.startswith("admin/")  # Django's own admin, superusers only
        and any(isinstance(c, IntConverter) for c in getattr(pattern, "converters", {}).values())
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    "path",
    [
        "/firms/{firm}/clients/{id}/edit/",
        "/firms/{firm}/people/{id}/",
        "/firms/{firm}/clients/import/{id}/",
        "/firms/{firm}/clients/{id}/trial-balance/",
    ],
)
def test_an_id_too_long_for_any_column_is_not_found(client: Client, world: FirmWorld, path: str) -> None:
    client.force_login(world.admin)
    assert client.get(path.format(firm=world.firm.slug, id=TOO_LONG)).status_code == 404
