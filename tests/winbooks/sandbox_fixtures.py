"""Start the WoW sandbox (wow_sandbox/) on a free loopback port in a background thread.

``wow_sandbox`` (a pytest fixture) yields a ``SandboxHandle``: ``.url``, ``.control(method, path, json)``
for the control API (not part of WoW), ``.login()`` for a full token exchange over HTTP, and direct access to
the in-process ``.store``. Test modules use it with ``pytest_plugins = ["tests.winbooks.sandbox_fixtures"]``
(importing this module at runtime before that would keep pytest from rewriting its asserts).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from wow_sandbox import Folder, FolderRecipe, SandboxServer, Store
from wow_sandbox.behaviour import MODES
from wow_sandbox.model import dumps, loads

DEMO = "DEMO_BV"
TESTER = "tester@sandbox.local"


def start_sandbox(
    recipes: Iterable[FolderRecipe] = (FolderRecipe(DEMO, "", "demo"),),
    users: dict[str, Iterable[str]] | None = None,
    **options: Any,
) -> SandboxServer:
    """A started sandbox on a free port (stop it with ``.stop()``)."""
    recipes = list(recipes)
    if users is None:
        users = {TESTER: [r.code for r in recipes]}
    return SandboxServer(Store(recipes, users, **options), "127.0.0.1", 0).start()


def basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(email.encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def cond(operator: int, prop: str = "", *values: Any) -> dict[str, Any]:
    """One ExecuteCriteria condition; for Or/And/Not the values are the nested conditions."""
    return {"Operator": operator, "PropertyName": prop, "OtherPropertyName": "", "Values": list(values)}


def same_object(first: Any, second: Any) -> bool:
    return (
        isinstance(first, dict)
        and isinstance(second, dict)
        and first.get("$type") == second.get("$type")
        and first.get("Id") is not None
        and first.get("Id") == second.get("Id")
    )


def merge_parts(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two parts of one object cut by a chunk boundary: properties from the first unless missing or null
    there, lists concatenated (an object cut inside a list merged too), nested objects merged."""
    merged = dict(first)
    for key, value in second.items():
        current = merged.get(key)
        if current is None:
            merged[key] = value
        elif isinstance(current, list) and isinstance(value, list):
            if current and value and same_object(current[-1], value[0]):
                merged[key] = [*current[:-1], merge_parts(current[-1], value[0]), *value[1:]]
            else:
                merged[key] = current + value
        elif isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_parts(current, value)
    return merged


def merge_chunks(chunks: Iterable[list[Any]]) -> list[Any]:
    """Concatenate chunk answers; an object split over a boundary (same Id) is deep-merged."""
    items: list[Any] = []
    for chunk in chunks:
        for index, item in enumerate(chunk):
            if index == 0 and items and same_object(items[-1], item):
                items[-1] = merge_parts(items[-1], item)
                continue
            items.append(item)
    return items


@dataclass
class SandboxHandle:
    """What ``wow_sandbox`` yields. The helpers are also reachable from the handle, so test modules need no
    runtime import of this module (they list it in ``pytest_plugins``)."""

    server: SandboxServer
    session: requests.Session = field(default_factory=requests.Session)
    _tokens: dict[str, str] = field(default_factory=dict)

    DEMO = DEMO
    TESTER = TESTER
    cond = staticmethod(cond)
    basic = staticmethod(basic)
    bearer = staticmethod(bearer)
    merge_chunks = staticmethod(merge_chunks)
    merge_parts = staticmethod(merge_parts)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> Store:
        return self.server.store

    def folder(self, code: str = DEMO) -> Folder:
        return self.store.folder(code)

    def control(self, method: str, path: str, json: Any = None) -> requests.Response:
        """A control API call; ``path`` is relative to ``/_sandbox/`` (a leading ``/_sandbox/`` is fine)."""
        path = path if path.startswith("/_sandbox") else "/_sandbox/" + path.lstrip("/")
        return self.session.request(method, self.url + path, json=json, timeout=30)

    def config(self, **settings: Any) -> dict[str, Any]:
        """Change the sandbox's behaviour (``mode="strict"``, single switches, ``chunk_size``, ``split``)."""
        response = self.control("POST", "config", settings)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def exchange_token(self, email: str = TESTER, trusted: bool = False) -> str:
        response = self.control("POST", "exchange-tokens", {"email": email, "trusted": trusted})
        assert response.status_code == 201, response.text
        return str(response.json()["exchange_token"])

    def token(self, grant: dict[str, str], email: str = TESTER) -> requests.Response:
        return self.session.post(self.url + "/OAuth20/Token", data=grant, headers=basic(email), timeout=30)

    def login(self, email: str = TESTER) -> dict[str, Any]:
        """Exchange a fresh exchange token: the token answer (access_token, refresh_token, ...)."""
        response = self.token({"grant_type": "exchange_token", "code": self.exchange_token(email)}, email)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def access_token(self, email: str = TESTER) -> str:
        """An access token for ``email`` (one login per handle and e-mail)."""
        if email not in self._tokens:
            self._tokens[email] = str(self.login(email)["access_token"])
        return self._tokens[email]

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """A WoW call with a bearer token (default: the tester's); ``path`` starts with ``/app/``."""
        headers = {**bearer(token or self.access_token()), **kwargs.pop("headers", {})}
        if kwargs.get("json") is not None:  # exact decimals: no float on the way out either
            kwargs["data"] = dumps(kwargs.pop("json")).encode()
            headers.setdefault("Content-Type", "application/json")
        kwargs.pop("json", None)
        return self.session.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def chunks(
        self, method: str, path: str, json: Any = None, token: str | None = None
    ) -> list[requests.Response]:
        """Every answer of a list request, following ContinuePath."""
        answers = [self.api(method, path, token, json=json)]
        while answers[-1].status_code == 200 and answers[-1].headers.get("ContinuePath"):
            follow = {"ContinuePath": answers[-1].headers["ContinuePath"]}
            answers.append(self.api(method, path, token, json=json, headers=follow))
        return answers

    def read_list(self, method: str, path: str, json: Any = None, token: str | None = None) -> list[Any]:
        """A list request's items (all chunks, split objects merged), amounts as Decimal."""
        answers = self.chunks(method, path, json, token)
        for answer in answers:
            assert answer.status_code == 200, answer.text
        return merge_chunks(loads(a.content) for a in answers)

    def criteria(self, oms: str, body: dict[str, Any], folder: str = DEMO, level: int = 1) -> list[Any]:
        return self.read_list("POST", f"/app/{oms}/Folder/{folder}/ExecuteCriteria?maxLevel={level}", body)

    def snapshot(self, folder: str = DEMO) -> dict[str, Any]:
        answer = self.control("GET", f"folders/{folder}/snapshot")
        assert answer.status_code == 200, answer.text
        return dict(loads(answer.content))


#: Both ways the sandbox can answer (wow_sandbox/behaviour.py). A test module that must hold under both
#: overrides ``sandbox_mode`` with ``@pytest.fixture(params=SANDBOX_MODES)``.
SANDBOX_MODES = tuple(MODES)


@pytest.fixture
def sandbox_mode() -> str:
    """WoW-like by default: tests meet the server the product will meet, not an easier one."""
    return "wow-like"


@pytest.fixture
def wow_sandbox(sandbox_mode: str) -> Iterator[SandboxHandle]:
    """The sandbox with the demo company DEMO_BV, granted to ``tester@sandbox.local``."""
    server = start_sandbox(behaviour=MODES[sandbox_mode])
    handle = SandboxHandle(server)
    try:
        yield handle
    finally:
        handle.session.close()
        server.stop()
