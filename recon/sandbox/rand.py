"""Deterministic identifiers and random streams derived from the world's seed."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

_ALNUM = "0123456789BCDFGHJKLMNPQRSTVWXZ"


def digest(*parts: object) -> bytes:
    """SHA-256 of the parts joined by '|', the root of every derived value."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def det_int(*parts: object) -> int:
    """A 64-bit integer derived from the parts."""
    return int.from_bytes(digest(*parts)[:8], "big")


def det_unit(*parts: object) -> float:
    """A number in [0, 1) derived from the parts (for selection, never for money)."""
    return det_int(*parts) / 2**64


def det_guid(*parts: object) -> str:
    """A lower-case GUID derived from the parts."""
    return str(uuid.UUID(bytes=digest(*parts)[:16], version=4))


def det_hex(length: int, *parts: object) -> str:
    """A lower-case hex id (new-commerce order ids are 12 hex characters)."""
    return digest(*parts).hex()[:length]


def det_code(length: int, *parts: object) -> str:
    """An upper-case alphanumeric code such as a product or availability id."""
    n = det_int(*parts)
    out = []
    for _ in range(length):
        n, r = divmod(n, len(_ALNUM))
        out.append(_ALNUM[r])
        if n == 0:
            n = det_int(*parts, len(out))
    return "".join(out)


def stream(*parts: object) -> random.Random:
    """An independent random stream for one purpose (one customer, one subscription...)."""
    return random.Random(det_int(*parts))


_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835
_M128 = (1 << 128) - 1


def base128(*parts: object) -> int:
    """A 128-bit root for the cheap derived ids of one subscription."""
    return int.from_bytes(digest(*parts)[:16], "big")


def mix(base: int, *nums: int) -> int:
    """A 128-bit value derived from `base` and small integers (fast; no hashing library)."""
    v = base
    for n in nums:
        v = ((v ^ n) * _MIX) & _M128
        v ^= v >> 67
    return v


_GUID_MASK = _M128 ^ (0xF << 76) ^ (0xC << 60)
_GUID_BITS = (0x4 << 76) | (0x8 << 60)


def guid_of(value: int) -> str:
    """Format a 128-bit value as a lower-case version-4 GUID."""
    h = f"{(value & _GUID_MASK) | _GUID_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ODD = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def rate_score(seed: int, kind: str) -> Callable[[int], int]:
    """The 64-bit score of a key for `kind`: a key is picked at rate r when its score is below r * 2**64."""
    salt = det_int(seed, "pick", kind)
    return lambda key: ((key ^ salt) * _ODD) & _M64


def pick_at_rate(
    seed: int,
    rate: float,
    kind: str,
    candidates: Sequence[tuple[int, T]],
    month_of: Callable[[T], object] | None = None,
) -> list[T]:
    """Targets chosen at `rate` by a hash of (seed, kind, key); at least one per month when the rate is positive.

    The fallback is per month (`month_of`), so a closed month's choice never moves when later months close."""
    if rate <= 0 or not candidates:
        return []
    score = rate_score(seed, kind)
    limit = int(rate * 2**64)
    picked = {i for i, (key, _) in enumerate(candidates) if score(key) < limit}
    groups: dict[object, list[int]] = {}
    for i, (_, target) in enumerate(candidates):
        groups.setdefault(month_of(target) if month_of else None, []).append(i)
    for members in groups.values():
        if not picked.intersection(members):
            picked.add(min(members, key=lambda i: score(candidates[i][0])))
    return [candidates[i][1] for i in sorted(picked)]
