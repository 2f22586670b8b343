"""Redaction of secrets, bearer tokens and SAS signatures from anything that gets printed."""

from __future__ import annotations

import logging
import re
import threading

_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([?&](?:sig|client_secret|code|access_token|refresh_token)=)[^&\s\"']+"), r"\1[redacted]"),
    (
        re.compile(r"(?i)(\"(?:client_secret|access_token|refresh_token|id_token|sig)\"\s*:\s*\")[^\"]+"),
        r"\1[redacted]",
    ),
)
_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it appears."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Mask known secrets, bearer tokens and secret query parameters in `text`."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "[redacted]")
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def install_log_redaction() -> None:
    """Redact httpx/httpcore/msal log records and keep httpx's full-URL INFO lines out."""
    for name in ("httpx", "httpcore", "msal", "urllib3", "recon"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    logging.getLogger("httpx").setLevel(logging.WARNING)
