"""Error reports hide secrets held in local variables, in every frame (the WoW client's included)."""

from __future__ import annotations

import secrets
import sys

import pytest
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

import winbooks


@override_settings(DEBUG=False)
def test_a_report_of_a_failed_token_exchange_shows_no_secret() -> None:
    # Made at run time: a literal would appear in the report's source-code excerpt of this very test.
    secret_token, secret_email = secrets.token_urlsafe(16), f"{secrets.token_hex(6)}@client.be"
    try:
        # Nothing listens on the discard port: the client raises from inside its own frames.
        winbooks.exchange_token(
            api_url="http://127.0.0.1:9", email=secret_email, exchange_token=secret_token, max_retries=0
        )
    except winbooks.WinbooksError:
        report = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info()).get_traceback_html()
    else:
        pytest.fail("the exchange should have failed")
    assert "WinbooksUnreachable" in report
    assert secret_token not in report
    assert secret_email not in report
