"""WoW sandbox: token endpoint (exchange, refresh, rotation, expiry, revocation), bearer auth, folder access
and the licence flag, over real HTTP."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
TESTER = "tester@sandbox.local"
ACCOUNT = f"/app/GLAccount/700000/Folder/{DEMO}"


def test_exchange_gives_a_bearer_pair(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.control("POST", "exchange-tokens", {"email": TESTER})
    assert answer.status_code == 201
    issued = answer.json()
    assert issued["email"] == TESTER and issued["api_location"] == wow_sandbox.url and issued["expires_at"]

    response = wow_sandbox.token({"grant_type": "exchange_token", "code": issued["exchange_token"]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == "900" and body["scope"] is None
    assert body["refresh_token"].startswith("TGe0!")
    assert wow_sandbox.api("GET", ACCOUNT, body["access_token"]).status_code == 200


def test_exchange_token_is_single_use_when_strict(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.config(reusable_exchange_tokens=False)
    code = wow_sandbox.exchange_token()
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": code}).status_code == 200
    again = wow_sandbox.token({"grant_type": "exchange_token", "code": code})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and again.json()["error_description"]


def test_exchange_token_is_reusable_within_its_lifetime_when_wow_like(wow_sandbox: SandboxHandle) -> None:
    """WoW speaks of a lifetime, and the PHP client's suite exchanges one token in each of its live tests."""
    code = wow_sandbox.exchange_token()
    first = wow_sandbox.token({"grant_type": "exchange_token", "code": code})
    again = wow_sandbox.token({"grant_type": "exchange_token", "code": code})
    assert first.status_code == again.status_code == 200
    assert first.json()["access_token"] != again.json()["access_token"]  # a new pair each time
    assert first.json()["refresh_token"] != again.json()["refresh_token"]
    wow_sandbox.control("POST", "clock", {"advance_seconds": 15 * 60 + 1})
    late = wow_sandbox.token({"grant_type": "exchange_token", "code": code})
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_unknown_exchange_token(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.token({"grant_type": "exchange_token", "code": "nope"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_exchange_token_expires_after_15_minutes(wow_sandbox: SandboxHandle) -> None:
    short, trusted = wow_sandbox.exchange_token(), wow_sandbox.exchange_token(trusted=True)
    late_trusted = wow_sandbox.exchange_token(trusted=True)
    wow_sandbox.control("POST", "clock", {"advance_seconds": 15 * 60 + 1})
    assert (
        wow_sandbox.token({"grant_type": "exchange_token", "code": short}).json()["error"] == "invalid_grant"
    )
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": trusted}).status_code == 200
    wow_sandbox.control("POST", "clock", {"advance_seconds": 24 * 3600})
    answer = wow_sandbox.token({"grant_type": "exchange_token", "code": late_trusted})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_basic_email_must_match(wow_sandbox: SandboxHandle) -> None:
    code = wow_sandbox.exchange_token()
    wrong = wow_sandbox.token({"grant_type": "exchange_token", "code": code}, email="other@sandbox.local")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    missing = wow_sandbox.session.post(
        wow_sandbox.url + "/OAuth20/Token", data={"grant_type": "exchange_token", "code": code}
    )
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"
    with_colon = wow_sandbox.session.post(
        wow_sandbox.url + "/OAuth20/Token",
        data={"grant_type": "exchange_token", "code": code},
        headers={"Authorization": "Basic " + base64.b64encode(f"{TESTER}:".encode()).decode()},
    )
    assert with_colon.status_code == 401  # the e-mail alone, no colon
    # a refused attempt does not use the token up
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": code}).status_code == 200


def test_unsupported_grant(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.token({"grant_type": "password", "code": "x"})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


def test_access_token_lives_900_seconds_of_sandbox_clock(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("POST", "clock", {"now": "2026-03-01T10:00:00Z", "frozen": True})
    token = wow_sandbox.login()["access_token"]
    wow_sandbox.control("POST", "clock", {"advance_seconds": 899})
    assert wow_sandbox.api("GET", ACCOUNT, token).status_code == 200
    wow_sandbox.control("POST", "clock", {"advance_seconds": 1})
    expired = wow_sandbox.api("GET", ACCOUNT, token)
    assert expired.status_code == 401 and "Message" in expired.json()


def test_refresh_rotates_the_refresh_token(wow_sandbox: SandboxHandle) -> None:
    first = wow_sandbox.login()
    second = wow_sandbox.token({"grant_type": "refresh_token", "code": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["access_token"] != first["access_token"]
    assert wow_sandbox.api("GET", ACCOUNT, pair["access_token"]).status_code == 200
    # the old refresh token died as soon as the new pair was issued
    old = wow_sandbox.token({"grant_type": "refresh_token", "code": first["refresh_token"]})
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    # the OAuth field name works too
    third = wow_sandbox.token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert third.status_code == 200


def test_refresh_needs_the_same_email(wow_sandbox: SandboxHandle) -> None:
    refresh = wow_sandbox.login()["refresh_token"]
    wrong = wow_sandbox.token({"grant_type": "refresh_token", "code": refresh}, email="other@sandbox.local")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_refresh_tokens_do_not_expire_but_can_be_revoked(wow_sandbox: SandboxHandle) -> None:
    refresh = wow_sandbox.login()["refresh_token"]
    wow_sandbox.control("POST", "clock", {"advance_seconds": 90 * 24 * 3600})
    renewed = wow_sandbox.token({"grant_type": "refresh_token", "code": refresh})
    assert renewed.status_code == 200
    revoked = wow_sandbox.control("POST", "tokens/revoke-refresh", {"email": TESTER})
    assert revoked.json() == {"revoked": 1}
    answer = wow_sandbox.token({"grant_type": "refresh_token", "code": renewed.json()["refresh_token"]})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_expire_access_tokens(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.login()["access_token"]
    other = wow_sandbox.login("other@sandbox.local")["access_token"]
    assert wow_sandbox.control("POST", "tokens/expire-access", {"email": TESTER}).json() == {"expired": 1}
    assert wow_sandbox.api("GET", ACCOUNT, token).status_code == 401
    # the other user's token still answers (403: no folder, but not 401)
    assert wow_sandbox.api("GET", ACCOUNT, other).status_code == 403
    wow_sandbox.control("POST", "tokens/expire-access", {})
    assert wow_sandbox.api("GET", ACCOUNT, other).status_code == 401


def test_bearer_is_required(wow_sandbox: SandboxHandle) -> None:
    none = wow_sandbox.session.get(wow_sandbox.url + ACCOUNT)
    assert none.status_code == 401 and "Message" in none.json()
    unknown = wow_sandbox.session.get(wow_sandbox.url + ACCOUNT, headers=wow_sandbox.bearer("not-a-token"))
    assert unknown.status_code == 401
    basic_only = wow_sandbox.session.get(wow_sandbox.url + ACCOUNT, headers=wow_sandbox.basic(TESTER))
    assert basic_only.status_code == 401


def test_folder_access(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("POST", "folders", {"code": "OTHER_BV", "kind": "empty"})
    unknown = wow_sandbox.api("GET", "/app/GLAccounts/Folder/NOPE_BV")
    assert unknown.status_code == 404 and unknown.json()["Message"]
    denied = wow_sandbox.api("GET", "/app/GLAccounts/Folder/OTHER_BV")
    assert denied.status_code == 403 and denied.json()["Message"]
    wow_sandbox.control("POST", "users", {"email": TESTER, "folders": ["OTHER_BV"]})
    granted = wow_sandbox.api("GET", "/app/GLAccounts/Folder/OTHER_BV")
    assert granted.status_code == 200 and granted.json() == []


def test_licence_without_rest_api(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    refresh_code = wow_sandbox.login()["refresh_token"]
    code = wow_sandbox.exchange_token()
    assert wow_sandbox.control("POST", "licence", {"rest_api_enabled": False}).json() == {
        "rest_api_enabled": False
    }
    data = wow_sandbox.api("GET", ACCOUNT, token)
    assert data.status_code == 403 and data.json()["Message"]
    for grant in (
        {"grant_type": "exchange_token", "code": code},
        {"grant_type": "refresh_token", "code": refresh_code},
    ):
        answer = wow_sandbox.token(grant)
        assert answer.status_code == 403 and answer.json()["error"] == "access_denied"
    wow_sandbox.control("POST", "licence", {"rest_api_enabled": True})
    assert wow_sandbox.api("GET", ACCOUNT, token).status_code == 200
    assert wow_sandbox.token({"grant_type": "exchange_token", "code": code}).status_code == 200
