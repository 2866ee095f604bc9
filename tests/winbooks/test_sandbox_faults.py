"""WoW sandbox: injected faults — status (429 with Retry-After), slow, drop (connection closed mid-answer)
and malformed records — with count, skip, method and path matching."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from wow_sandbox.model import loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
LINES = f"/app/GLTranss/Folder/{DEMO}"
ACCOUNTS = f"/app/GLAccounts/Folder/{DEMO}"
# a body cut short surfaces as ChunkedEncodingError (IncompleteRead), a closed socket as ConnectionError
BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)


def fault(sandbox: SandboxHandle, **spec: Any) -> dict[str, Any]:
    answer = sandbox.control("POST", "faults", spec)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_status_fault_with_count(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()  # log in before the fault is armed
    fault(wow_sandbox, path_contains="/GLAccounts/", kind="status", status=503, count=2)
    answers = [wow_sandbox.api("GET", ACCOUNTS) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert "Message" in answers[0].json()
    assert wow_sandbox.api("GET", LINES).status_code == 200  # another path is not affected
    [listed] = wow_sandbox.control("GET", "faults").json()
    assert listed["fired"] == 2 and listed["remaining"] == 0


def test_429_carries_retry_after(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after=2)
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after=0.25)
    fault(wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429)
    path = f"/app/GLTranss/Folder/{DEMO}/ExecuteCriteria"
    assert [wow_sandbox.api("POST", path, json={}).headers.get("Retry-After") for _ in range(3)] == [
        "2",
        "0.25",
        "1",
    ]
    assert wow_sandbox.api("POST", path, json={}).status_code == 200


def test_skip_and_method(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/GLAccount", method="PUT", kind="status", status=500, skip=1, count=1)
    assert wow_sandbox.api("GET", ACCOUNTS).status_code == 200  # GET does not match
    put = f"/app/GLAccount/610000/Folder/{DEMO}"
    assert [wow_sandbox.api("PUT", put, json={"Label": "x"}).status_code for _ in range(3)] == [200, 500, 200]


def test_token_endpoint_faults(wow_sandbox: SandboxHandle) -> None:
    fault(wow_sandbox, path_contains="/OAuth20/Token", kind="status", status=502)
    code = wow_sandbox.exchange_token()
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": code}).status_code == 502
    # the refused call did not use the exchange token up
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": code}).status_code == 200


def test_slow_fault(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/GLAccounts/", kind="slow", delay=0.4)
    started = time.monotonic()
    answer = wow_sandbox.api("GET", ACCOUNTS)
    assert answer.status_code == 200 and len(answer.json()) == 11
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.exceptions.ReadTimeout):
        fault(wow_sandbox, path_contains="/GLAccounts/", kind="slow", delay=1.0)
        wow_sandbox.session.get(
            wow_sandbox.url + ACCOUNTS, headers=wow_sandbox.bearer(wow_sandbox.access_token()), timeout=0.3
        )


def test_drop_closes_the_connection_mid_answer(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/GLTranss/", kind="drop")
    with pytest.raises(BROKEN):
        wow_sandbox.api("GET", LINES)  # headers came, the body stopped half-way
    # the next call (new connection) answers normally
    assert len(wow_sandbox.api("GET", LINES).json()) == 40
    stats = wow_sandbox.control("GET", "stats").json()
    assert stats["faults"]["drop"] == 1


def test_drop_during_a_continuation_can_be_retried(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("POST", "config", {"chunk_size": 15})
    first = wow_sandbox.api("GET", LINES)
    token = first.headers["ContinuePath"]
    fault(wow_sandbox, path_contains="/GLTranss/", kind="drop")
    with pytest.raises(BROKEN):
        wow_sandbox.api("GET", LINES, headers={"ContinuePath": token})
    retry = wow_sandbox.api("GET", LINES, headers={"ContinuePath": token})
    assert retry.status_code == 200 and len(retry.json()) == 15


def test_malformed_amount(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/GLTranss/", kind="malformed", target="amount")
    answer = wow_sandbox.api("GET", LINES)
    assert answer.status_code == 200
    lines = loads(answer.content)
    assert [x["Amount"] for x in lines].count("abc") == 1
    assert "abc" not in [x["Amount"] for x in loads(wow_sandbox.api("GET", LINES).content)]


def test_malformed_nested_amount_and_projection(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="GLTransHeaders", kind="malformed", count=2)
    docs = loads(wow_sandbox.api("GET", f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2").content)
    assert docs[0]["GLTransactions"][0]["Amount"] == "abc"
    rows = wow_sandbox.api(
        "POST",
        f"/app/GLTransHeaders/Folder/{DEMO}/ExecuteCriteria",
        json={
            "ProjectionsList": [
                {"PropertyName": "DocNumber", "Operator": 22},
                {"PropertyName": "Id", "Operator": 22},
            ]
        },
    ).json()
    assert rows[0][0] == "abc"


def test_malformed_account_reference(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    known = {a["Id"] for a in wow_sandbox.api("GET", ACCOUNTS).json()}
    fault(wow_sandbox, path_contains="/GLTranss/", kind="malformed", target="account")
    lines = wow_sandbox.api("GET", LINES).json()
    unknown = [x for x in lines if x["GLAccount_Id"] not in known]
    assert len(unknown) == 1


def test_malformed_json(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/GLAccount/", kind="malformed", target="json")
    answer = wow_sandbox.api("GET", f"/app/GLAccount/700000/Folder/{DEMO}")
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_faults_can_be_listed_and_cleared(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.access_token()
    fault(wow_sandbox, path_contains="/app/", kind="status", status=500, count=5)
    assert len(wow_sandbox.control("GET", "faults").json()) == 1
    assert wow_sandbox.control("DELETE", "faults").json() == {"deleted": 1}
    assert wow_sandbox.api("GET", ACCOUNTS).status_code == 200
    bad = wow_sandbox.control("POST", "faults", {"path_contains": "/app/", "kind": "explode"})
    assert bad.status_code == 400
    # the control API itself is never faulted
    fault(wow_sandbox, path_contains="/", kind="status", status=500)
    assert wow_sandbox.control("GET", "faults").status_code == 200
