"""What the client takes from the process's environment: the proxy variables, never ``~/.netrc``.

The client's session reads the environment once per origin instead of on every request (a cost requests
pays on each call); these tests hold it to what ``requests`` itself would do with the same environment,
against a real HTTP server on loopback.
"""

from __future__ import annotations

from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.hostile_wow import serving
from tests.winbooks.fake_api import EMAIL, NOW
from winbooks import TokenSet, WinbooksClient
from winbooks.transport import bounded_session

TOKENS = TokenSet("ACCESS-secret-123", "REFRESH-secret-456", NOW + timedelta(hours=1))


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []  # (request line's target, Authorization)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _client(api_url: str) -> WinbooksClient:
    return WinbooksClient(api_url=api_url, email=EMAIL, tokens=TOKENS, now=lambda: NOW, sleep=lambda s: None)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    return tmp_path


def test_a_netrc_entry_for_the_host_does_not_replace_the_bearer_token(clean_environment: Path) -> None:
    (clean_environment / ".netrc").write_text("machine 127.0.0.1 login someone password hunter2\n")
    (clean_environment / ".netrc").chmod(0o600)
    with serving(_Recorder()) as server:
        # The control: requests itself, on its own, would send the netrc's credentials.
        assert requests.get(f"{server.url}/control", timeout=5).ok
        with _client(server.url) as client:
            assert list(client.iter_all("Journal", "DEMO")) == []
    (_, control_auth), (path, auth) = server.seen
    assert control_auth is not None and control_auth.startswith("Basic ")
    assert path == "/app/Journals/Folder/DEMO?maxLevel=1"
    assert auth == "Bearer ACCESS-secret-123"


def test_requests_go_through_the_proxy_the_environment_names(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(_Recorder()) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with _client("http://wow.invalid") as client:
            assert list(client.iter_all("Journal", "DEMO")) == []
            assert list(client.iter_all("Journal", "OTHER")) == []  # the environment's answer, kept
    # A proxy is asked for the whole URL: the host the client meant, through the proxy.
    assert [path for path, _ in proxy.seen] == [
        "http://wow.invalid/app/Journals/Folder/DEMO?maxLevel=1",
        "http://wow.invalid/app/Journals/Folder/OTHER?maxLevel=1",
    ]


@pytest.mark.parametrize(
    "url", ["https://rest.winbooksonweb.be/app/Journal", "http://127.0.0.1:8000/x", "https://localhost/x"]
)
def test_the_session_settles_proxies_and_certificates_as_requests_does(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    ours, theirs = bounded_session(), requests.Session()
    for verify in (None, True, False):
        assert ours.merge_environment_settings(url, {}, True, verify, None) == (
            theirs.merge_environment_settings(url, {}, True, verify, None)
        )
