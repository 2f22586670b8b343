"""JSON text that keeps Decimal digits exact (the stdlib encoder only knows floats)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

# A Decimal is first written as a string "\u0000<digits>\u0000" by the C encoder, then unquoted.
_MARKED = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')
_NUL = "\\u0000"


def _digits(match: re.Match[str]) -> str:
    return match.group(1)


def _slow(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_slow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_slow(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps_exact(value: Any) -> str:
    """Compact JSON in which every Decimal is written with its exact digits, never via float."""
    marked = 0

    def mark(obj: Any) -> str:
        nonlocal marked
        if isinstance(obj, Decimal):
            marked += 1
            return f"\x00{obj:f}\x00"
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    text = json.dumps(value, default=mark, ensure_ascii=False, separators=(",", ":"))
    if not marked:
        return text
    out, unquoted = _MARKED.subn(_digits, text)
    # A NUL inside a real string, or a non-finite Decimal, leaves a count off or a NUL behind: write it the slow way.
    return out if unquoted == marked and _NUL not in out else _slow(value)


_DECODER = msgspec.json.Decoder(float_hook=Decimal)  # the hook gets each non-integer number's own digits
_BOM = b"\xef\xbb\xbf"


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every fractional number as an exact Decimal (bytes may start with a UTF-8 BOM).

    msgspec's decoder does in C what `json.loads(text, parse_float=Decimal)` does, about twice as fast; it
    refuses NaN and Infinity, which are not JSON. Errors are ValueErrors, as json's are."""
    if isinstance(text, bytes | bytearray) and text[:3] == _BOM:
        text = text[3:]
    return _DECODER.decode(text)
