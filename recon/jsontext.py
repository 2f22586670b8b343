"""JSON text that keeps Decimal digits exact (the stdlib encoder only knows floats)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def dumps_exact(value: Any) -> str:
    """Compact JSON in which every Decimal is written with its exact digits, never via float."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return (
            "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps_exact(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every fractional number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)
