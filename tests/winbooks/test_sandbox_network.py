"""WoW sandbox: the played network (wow_sandbox/network.py), a fixed latency per request and a bandwidth
limit, set through the control API or the command line, and the count of requests in flight.

The only time checks are lower bounds, which a sleep guarantees: a request with 300 ms of latency cannot be
answered sooner, however loaded the machine is.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
ROOT = Path(__file__).resolve().parents[2]
OFF = {"latency_ms": 0.0, "bandwidth_bytes_per_second": None}


def test_off_by_default_set_and_reset(wow_sandbox: SandboxHandle) -> None:
    assert wow_sandbox.control("GET", "network").json() == OFF
    answer = wow_sandbox.control("POST", "network", {"latency_ms": 50})
    assert answer.json() == {"latency_ms": 50.0, "bandwidth_bytes_per_second": None}
    answer = wow_sandbox.control("POST", "network", {"bandwidth_bytes_per_second": 250_000})
    assert answer.json() == {"latency_ms": 50.0, "bandwidth_bytes_per_second": 250_000.0}
    wow_sandbox.control("POST", "reset")
    assert wow_sandbox.control("GET", "network").json() == OFF


def test_bad_settings_are_refused_and_change_nothing(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control("POST", "network", {"latency_ms": 5})
    for body, named in [
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"latency_ms": True}, "latency_ms"),
        ({"bandwidth_bytes_per_second": 10}, "bandwidth_bytes_per_second"),
        ({"jitter_ms": 3}, "jitter_ms"),
    ]:
        answer = wow_sandbox.control("POST", "network", body)
        assert answer.status_code == 400 and named in answer.json()["Message"], body
    assert wow_sandbox.control("GET", "network").json()["latency_ms"] == 5.0


def test_latency_delays_every_wow_request_not_the_control_api(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    wow_sandbox.control("POST", "network", {"latency_ms": 300})
    started = time.perf_counter()
    assert wow_sandbox.api("GET", f"/app/GLAccounts/Folder/{DEMO}", token).status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert wow_sandbox.token({"grant_type": "refresh_token", "code": "nope"}).status_code == 400
    assert time.perf_counter() - started >= 0.3
    # The control API stays immediate (not asserted: an upper bound would be a timing assert); it is
    # not counted in flight either.
    assert wow_sandbox.control("GET", "stats").json()["in_flight"]["now"] == 0


def test_requests_in_flight_wait_together_and_are_counted(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    wow_sandbox.control("DELETE", "stats")
    assert wow_sandbox.control("GET", "stats").json()["in_flight"] == {"now": 0, "max": 0}
    wow_sandbox.control("POST", "network", {"latency_ms": 1000})
    connections = [
        http.client.HTTPConnection(wow_sandbox.server.host, wow_sandbox.server.port, timeout=30)
        for _ in range(4)
    ]
    try:
        # All four requests are sent before any answer is read: each waits its second in the sandbox at once.
        for conn in connections:
            conn.request(
                "GET", f"/app/GLAccounts/Folder/{DEMO}", headers={"Authorization": f"Bearer {token}"}
            )
        for conn in connections:
            answer = conn.getresponse()
            assert answer.status == 200 and answer.read()
    finally:
        for conn in connections:
            conn.close()
    stats = wow_sandbox.control("GET", "stats").json()
    assert stats["requests"]["GET all"] == 4
    assert stats["in_flight"] == {"now": 0, "max": 4}
    wow_sandbox.control("DELETE", "stats")
    assert wow_sandbox.control("GET", "stats").json()["in_flight"] == {"now": 0, "max": 0}


def test_bandwidth_paces_the_answers_on_one_shared_link(wow_sandbox: SandboxHandle) -> None:
    token = wow_sandbox.access_token()
    size = len(wow_sandbox.api("GET", f"/app/GLTranss/Folder/{DEMO}", token).content)
    rate = size / 0.5  # one answer alone: at least half a second
    wow_sandbox.control("POST", "network", {"bandwidth_bytes_per_second": rate})
    started = time.perf_counter()
    answer = wow_sandbox.api("GET", f"/app/GLTranss/Folder/{DEMO}", token)
    assert answer.status_code == 200 and len(answer.content) == size
    assert time.perf_counter() - started >= 0.5 * 0.99
    # Two answers at once share the link: together they need twice as long.
    connections = [
        http.client.HTTPConnection(wow_sandbox.server.host, wow_sandbox.server.port, timeout=30)
        for _ in range(2)
    ]
    try:
        started = time.perf_counter()
        for conn in connections:
            conn.request("GET", f"/app/GLTranss/Folder/{DEMO}", headers={"Authorization": f"Bearer {token}"})
        bodies = [conn.getresponse().read() for conn in connections]
        assert [len(body) for body in bodies] == [size, size]
        assert time.perf_counter() - started >= 1.0 * 0.99
    finally:
        for conn in connections:
            conn.close()


def test_command_line_flags() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wow_sandbox", "--port", "0", "--latency-ms", "40", "--bandwidth", "500000"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = next(word for word in line.split() if word.startswith("http://"))
        network = requests.get(url + "/_sandbox/network", timeout=10).json()
        assert network == {"latency_ms": 40.0, "bandwidth_bytes_per_second": 500000.0}
        # reset goes back to what the command line asked for
        requests.post(url + "/_sandbox/network", json={"latency_ms": 0}, timeout=10)
        requests.post(url + "/_sandbox/reset", timeout=10)
        assert requests.get(url + "/_sandbox/network", timeout=10).json() == network
    finally:
        process.terminate()
        process.wait(timeout=10)
    refused = subprocess.run(
        [sys.executable, "-m", "wow_sandbox", "--port", "0", "--latency-ms", "-5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 2 and "latency_ms" in refused.stderr
