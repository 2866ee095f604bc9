"""The sandbox's error answer: a status, a JSON body and extra headers, raised anywhere and written by the
server."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than success: status, JSON body and extra headers."""

    def __init__(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"Message": message})
