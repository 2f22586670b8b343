"""Errors that carry the CLI exit code they map to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UPSTREAM = 3


class ReconError(Exception):
    """Base error: a one-line message meant for the user."""

    exit_code = EXIT_USAGE


class SettingsError(ReconError):
    """A setting is missing or invalid."""

    exit_code = EXIT_USAGE


class StoreError(ReconError):
    """The database cannot be opened or migrated."""

    exit_code = EXIT_USAGE


class UpstreamError(ReconError):
    """The Partner Center (or sandbox) API failed or answered something unusable."""

    exit_code = EXIT_UPSTREAM

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
