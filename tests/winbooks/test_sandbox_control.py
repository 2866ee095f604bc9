"""WoW sandbox: the control API itself (not part of WoW) — folders, users, clock, stats, reset — and the
server plumbing (keep-alive, the command line)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from wow_sandbox.__main__ import parse_generate

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
TESTER = "tester@sandbox.local"
ROOT = Path(__file__).resolve().parents[2]


def test_folders(wow_sandbox: SandboxHandle) -> None:
    listed = wow_sandbox.control("GET", "folders").json()
    assert [(f["code"], f["kind"], f["name"]) for f in listed] == [(DEMO, "demo", "Demo Bakkerij BV")]
    assert listed[0]["counts"]["GLTrans"] == 40
    created = wow_sandbox.control("POST", "folders", {"code": "SECOND", "name": "Tweede", "kind": "demo"})
    assert created.status_code == 201 and created.json()["counts"]["GLTransHeader"] == 15
    empty = wow_sandbox.control("POST", "folders", {"code": "EMPTY", "kind": "empty"})
    assert empty.status_code == 201 and set(empty.json()["counts"].values()) == {0}
    assert wow_sandbox.control("GET", "folders/SECOND").json()["name"] == "Tweede"
    assert wow_sandbox.control("DELETE", "folders/SECOND").json() == {"deleted": "SECOND"}
    assert wow_sandbox.control("DELETE", "folders/SECOND").status_code == 404
    assert wow_sandbox.control("GET", "folders/SECOND/snapshot").status_code == 404
    assert wow_sandbox.control("POST", "folders", {"code": "X", "kind": "weird"}).status_code == 400


def test_users_and_grants(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("POST", "folders", {"code": "B", "kind": "empty"})
    answer = wow_sandbox.control("POST", "users", {"email": "new@sandbox.local", "folders": ["B"]})
    assert answer.json() == {"email": "new@sandbox.local", "folders": ["B"]}
    users = wow_sandbox.control("GET", "users").json()
    assert users == {"new@sandbox.local": ["B"], TESTER: [DEMO]}
    replaced = wow_sandbox.control("POST", "users", {"email": TESTER, "folders": ["B"], "replace": True})
    assert replaced.json()["folders"] == ["B"]
    assert wow_sandbox.api("GET", f"/app/GLAccounts/Folder/{DEMO}").status_code == 403
    # exchange-tokens can grant at the same time
    issued = wow_sandbox.control(
        "POST", "exchange-tokens", {"email": "third@sandbox.local", "folders": [DEMO]}
    )
    assert issued.status_code == 201
    assert wow_sandbox.control("GET", "users").json()["third@sandbox.local"] == [DEMO]


def test_clock(wow_sandbox: SandboxHandle) -> None:
    real = wow_sandbox.control("GET", "clock").json()
    assert real["frozen"] is False and abs(real["now_ms"] - time.time() * 1000) < 5000
    frozen = wow_sandbox.control("POST", "clock", {"now": "2030-01-01T00:00:00Z", "frozen": True}).json()
    assert frozen == {"now": "2030-01-01T00:00:00.000Z", "now_ms": 1893456000000, "frozen": True}
    moved = wow_sandbox.control("POST", "clock", {"advance_seconds": 1.5}).json()
    assert moved["now_ms"] == 1893456001500
    thawed = wow_sandbox.control("POST", "clock", {"frozen": False}).json()
    assert thawed["frozen"] is False and thawed["now_ms"] >= 1893456001500
    assert wow_sandbox.control("POST", "clock", {"now": "someday"}).status_code == 400


def test_stats(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("DELETE", "stats")
    wow_sandbox.access_token()
    wow_sandbox.api("GET", f"/app/GLAccounts/Folder/{DEMO}")
    wow_sandbox.api("GET", f"/app/GLAccount/700000/Folder/{DEMO}")
    wow_sandbox.api("GET", f"/app/GLAccount/nope/Folder/{DEMO}")
    wow_sandbox.api("POST", f"/app/GLTranss/Folder/{DEMO}/ExecuteCriteria", json={})
    wow_sandbox.api("PUT", f"/app/GLAccount/700000/Folder/{DEMO}", json={"Label": "x"})
    wow_sandbox.api("GET", "/app/GLAccounts/Folder/NOPE")
    stats = wow_sandbox.control("GET", "stats").json()
    assert stats["requests"] == {
        "POST token": 1,
        "GET all": 2,
        "GET one": 2,
        "POST criteria": 1,
        "PUT update": 1,
        "total": 7,
    }
    assert stats["status"] == {"200": 5, "204": 1, "404": 1}
    cleared = wow_sandbox.control("DELETE", "stats").json()
    assert cleared["requests"] == {}


def test_reset(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    wow_sandbox.api("PUT", f"/app/GLAccount/700000/Folder/{DEMO}", json={"Label": "changed"})
    wow_sandbox.control("POST", "folders", {"code": "EXTRA", "kind": "empty"})
    wow_sandbox.control("POST", "faults", {"path_contains": "/nothing", "kind": "status", "status": 500})
    wow_sandbox.control("POST", "licence", {"rest_api_enabled": False})
    wow_sandbox.control("POST", "clock", {"advance_seconds": 10})
    wow_sandbox.control("POST", "config", {"chunk_size": 3, "mode": "strict"})
    assert wow_sandbox.control("POST", "reset").json() == {"reset": True, "folders": [DEMO]}
    assert wow_sandbox.control("GET", "faults").json() == []
    assert wow_sandbox.control("GET", "licence").json() == {"rest_api_enabled": True}
    assert wow_sandbox.control("GET", "config").json() == {
        "chunk_size": 100,
        "split": True,
        "expand_references": True,
        "count_nested": True,
        "chunk_single": True,
        "reusable_exchange_tokens": True,
        "lenient_input": True,
        "vat_type": "VatAccount",
    }
    assert wow_sandbox.control("GET", "clock").json()["now_ms"] < time.time() * 1000 + 5000
    assert (
        wow_sandbox.api("GET", f"/app/GLAccounts/Folder/{DEMO}", token).status_code == 401
    )  # tokens are gone
    fresh = wow_sandbox.login()["access_token"]
    account = wow_sandbox.api("GET", f"/app/GLAccount/700000/Folder/{DEMO}", fresh).json()
    assert account["Label"] == "Verkopen" and account["Version"] == 1
    assert wow_sandbox.control("GET", "users").json() == {TESTER: [DEMO]}


def test_unknown_control_route(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.control("GET", "nothing-here")
    assert answer.status_code == 404 and "Message" in answer.json()
    assert wow_sandbox.control("POST", "users", [1]).status_code == 400


def test_keep_alive(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    conn = http.client.HTTPConnection(wow_sandbox.server.host, wow_sandbox.server.port, timeout=10)
    try:
        for _ in range(3):
            conn.request(
                "GET", f"/app/GLAccounts/Folder/{DEMO}", headers={"Authorization": f"Bearer {token}"}
            )
            answer = conn.getresponse()
            assert answer.status == 200 and answer.version == 11
            assert int(answer.getheader("Content-Length") or 0) == len(answer.read())
        conn.request(
            "GET", f"/app/GLAccount/nope/Folder/{DEMO}", headers={"Authorization": f"Bearer {token}"}
        )
        answer = conn.getresponse()
        assert answer.status == 204 and answer.read() == b""
        sock = conn.sock
        conn.request("GET", "/_sandbox/clock")
        assert conn.getresponse().status == 200 and conn.sock is sock  # still the same connection
    finally:
        conn.close()


def test_parse_generate() -> None:
    recipe = parse_generate("years=3,documents=500,code=MINE_BV,seed=2")
    assert (recipe.code, recipe.kind, recipe.params) == (
        "MINE_BV",
        "generated",
        {"years": 3, "documents": 500, "seed": 2},
    )


def test_command_line(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wow_sandbox",
            "--port",
            "0",
            "--demo",
            "--email",
            "cli@sandbox.local",
            "--generate",
            "years=1,accounts=20,relations=4,documents=30",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(8)]
        text = "".join(lines)
        assert "listening on http://127.0.0.1:" in text, text
        url = next(
            w for line in lines for w in line.split() if w.startswith("http://") and "/_sandbox" not in w
        )
        token = next(line.split()[2] for line in lines if "Exchange token:" in line)
        assert "DEMO_BV" in text and "BIG_BV" in text and "cli@sandbox.local" in text
        import base64

        answer = requests.post(
            url + "/OAuth20/Token",
            data={"grant_type": "exchange_token", "code": token},
            headers={"Authorization": "Basic " + base64.b64encode(b"cli@sandbox.local").decode()},
            timeout=10,
        )
        assert answer.status_code == 200
        bearer = {"Authorization": "Bearer " + answer.json()["access_token"]}
        assert (
            len(requests.get(url + "/app/GLTransHeaders/Folder/BIG_BV", headers=bearer, timeout=10).json())
            == 30
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_concurrent_reads_and_writes(wow_sandbox: SandboxHandle) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = wow_sandbox.access_token()
    url = wow_sandbox.url

    def writer(n: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.put(
                    url + f"/app/Vat/21/Folder/{DEMO}",
                    json={"Label": f"w{n}-{i}"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                ).status_code
                for i in range(15)
            ]

    def reader(_: int) -> list[int]:
        with requests.Session() as session:
            headers = {"Authorization": f"Bearer {token}"}
            out = []
            for _ in range(10):
                answer = session.get(
                    url + f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2", headers=headers, timeout=30
                )
                out.append(answer.status_code if len(answer.json()) == 15 else -1)
                answer = session.post(
                    url + f"/app/GLTranss/Folder/{DEMO}/ExecuteCriteria",
                    headers=headers,
                    json={"ProjectionsList": [{"PropertyName": "Amount", "Operator": 31}]},
                    timeout=30,
                )
                out.append(answer.status_code if answer.json() == [0] else -1)
            return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(writer, range(4))) + list(pool.map(reader, range(4)))
    assert {code for result in results for code in result} == {200}
    vat = wow_sandbox.api("GET", f"/app/Vat/21/Folder/{DEMO}").json()
    assert vat["Version"] == 61
