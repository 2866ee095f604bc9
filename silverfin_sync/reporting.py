"""Error reports without secrets.

Django hides a frame's local variables only in functions marked ``@sensitive_variables``; the WinbooksOnWeb
client (which must not import Django) holds tokens, the e-mail and the exchange form in ordinary locals.
This filter hides every local variable whose name says it may hold one, in every frame of a report.
"""

from __future__ import annotations

import re
from collections.abc import ItemsView
from typing import Any

from django.views.debug import SafeExceptionReporterFilter


class SecretsHidingReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|BROKER_URL|REDIS_URL", flags=re.I
    )
    sensitive_locals = re.compile(
        r"token|secret|password|passwd|authorization|auth|headers|cookie|email|e_mail|grant|code|credential|"
        r"body|data|form|secrets|session",
        flags=re.I,
    )

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> ItemsView[str, Any]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return {
            name: self.cleansed_substitute if self.sensitive_locals.search(name) else value
            for name, value in variables
        }.items()
