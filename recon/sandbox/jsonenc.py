"""JSON with exact decimals: Decimal values are written as JSON numbers with their own digits."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MARK = "\u0000D"  # never part of a real string: json escapes it as \\u0000
_MARKED = re.compile(r'"\\u0000D(-?[0-9]+(?:\.[0-9]+)?)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return MARK + format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON of `value`; Decimals become exact JSON numbers (123.45, never a float repr).

    The C encoder hands every Decimal to `_default`, which marks its digits; `unmark` turns them into numbers."""
    return unmark(json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")))


def _digits(match: re.Match[str]) -> str:
    return match.group(1)


def unmark(text: str) -> bytes:
    """UTF-8 bytes of JSON text whose MARK-prefixed number strings become JSON numbers."""
    return _MARKED.sub(_digits, text).encode()  # a function: much faster than a template on long texts


def loads(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as Decimal."""
    return json.loads(data, parse_float=Decimal)
