"""Errors the client must fix, shared by every API Lambda (the resolver turns them into 4xx answers)."""

from __future__ import annotations

from typing import Any


class BadRequest(ValueError):
    """Input the client must fix; carries an HTTP status (400 or 413)."""

    def __init__(self, message: str, status: int = 400, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details
