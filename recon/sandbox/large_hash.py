"""Vectorised ids for the `large` world: rand.mix over numpy arrays, 64-bit draws, hex and GUID text.

A 128-bit value is a pair of uint64 arrays (hi, lo); `mix` gives exactly what `rand.mix` gives for each
element, so the vectorised population and replay draw the same numbers as the per-subscription code.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from recon.sandbox.rand import det_int

U64 = npt.NDArray[np.uint64]
_M32 = np.uint64(0xFFFFFFFF)
_C_HI = np.uint64(0x9E3779B97F4A7C15)
_C_LO = np.uint64(0xF39CC0605CEDC835)
_C_LO0, _C_LO1 = _C_LO & _M32, _C_LO >> np.uint64(32)
_S32, _S3 = np.uint64(32), np.uint64(3)
_M48 = np.uint64(0xFFFFFFFFFFFF)
_M64 = (1 << 64) - 1
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_PAIRS = np.array([[_HEX[b >> 4], _HEX[b & 15]] for b in range(256)], dtype=np.uint8)  # byte -> two hex digits
_CODE = np.frombuffer(b"0123456789BCDFGHJKLMNPQRSTVWXZ", dtype=np.uint8)  # rand.det_code's alphabet


def _mulhi(a: U64) -> U64:
    """High 64 bits of a × the low word of the mixing constant (schoolbook on 32-bit halves, in place)."""
    a0, a1 = a & _M32, a >> _S32
    mid = a0 * _C_LO0
    mid >>= _S32
    p01 = a0 * _C_LO1
    mid += p01 & _M32
    p01 >>= _S32
    p10 = a1 * _C_LO0
    mid += p10 & _M32
    p10 >>= _S32
    a1 *= _C_LO1
    a1 += p01
    a1 += p10
    mid >>= _S32
    a1 += mid
    return a1


def mix(hi: U64, lo: U64, *nums: int | npt.NDArray[np.integer]) -> tuple[U64, U64]:
    """rand.mix element-wise: v = ((v ^ n) × C) mod 2^128; v ^= v >> 67, for each n in turn."""
    with np.errstate(over="ignore"):
        for n in nums:
            lo = lo ^ np.asarray(n, dtype=np.uint64)
            top = _mulhi(lo)
            top += lo * _C_HI
            top += hi * _C_LO
            hi = top
            lo *= _C_LO
            lo ^= hi >> _S3
    return hi, lo


def split(values: list[int]) -> tuple[U64, U64]:
    """128-bit Python integers as (hi, lo) uint64 arrays."""
    mask = (1 << 64) - 1
    return (
        np.array([v >> 64 for v in values], dtype=np.uint64),
        np.array([v & mask for v in values], dtype=np.uint64),
    )


def chunk(lo: U64, hi: U64, i: int) -> npt.NDArray[np.int64]:
    """The i-th 16-bit draw of a 128-bit value (rand's `(v >> 16 i) & 0xFFFF`), 0 <= i < 8."""
    word = lo if i < 4 else hi
    return ((word >> np.uint64(16 * (i % 4))) & np.uint64(0xFFFF)).astype(np.int64)


def low48(lo: U64) -> U64:
    """The low 48 bits (new-commerce order ids are 12 hex digits of them)."""
    return lo & _M48


def draw64(*keys: npt.NDArray[np.integer] | int) -> U64:
    """A well-mixed 64-bit value per element from integer keys (splitmix64 steps; for selections only)."""
    out = np.full(np.broadcast(*[np.asarray(k) for k in keys]).shape, 0x6A09E667F3BCC908, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in keys:
            out = out ^ np.asarray(key).astype(np.uint64)
            out = out + np.uint64(0x9E3779B97F4A7C15)
            out = (out ^ (out >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            out = (out ^ (out >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            out = out ^ (out >> np.uint64(31))
    return out


def _text(chars: npt.NDArray[np.uint8]) -> pl.Series:
    """Rows of ASCII bytes as a polars String series."""
    n, width = chars.shape
    if n == 0:
        return pl.Series([], dtype=pl.String)
    return pl.Series(np.ascontiguousarray(chars).view(f"S{width}").ravel()).cast(pl.String)


def hex_text(values: U64, digits: int) -> pl.Series:
    """The low `digits` hex digits (even, <= 16) of each value, lower case, zero-padded."""
    raw = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - digits // 2 :]
    return _text(_PAIRS[raw].reshape(len(values), digits))


def guid_text(hi: U64, lo: U64) -> pl.Series:
    """rand.guid_of element-wise: version-4 GUID text of each 128-bit value."""
    hi = (hi & ~np.uint64(0xF000)) | np.uint64(0x4000)
    lo = (lo & ~np.uint64(0xC << 60)) | np.uint64(0x8 << 60)
    raw = np.concatenate([hi.astype(">u8").view(np.uint8), lo.astype(">u8").view(np.uint8)]).reshape(2, -1, 8)
    digits = _PAIRS[np.concatenate([raw[0], raw[1]], axis=1)].reshape(len(hi), 32)
    out = np.full((len(hi), 36), ord("-"), dtype=np.uint8)
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + end - start] = digits[:, start:end]
    return _text(out)


def code_text(values: U64, length: int) -> pl.Series:
    """Upper-case alphanumeric codes (det_code's alphabet) of `length` base-30 digits of each value."""
    out = np.empty((len(values), length), dtype=np.uint8)
    rest = values.copy()
    for i in range(length):
        out[:, i] = _CODE[(rest % np.uint64(30)).astype(np.intp)]
        rest = rest // np.uint64(30)
    return _text(out)


def pick(
    seed: int, kind: str, keys: npt.NDArray[np.integer], rate: float, groups: npt.NDArray[np.integer] | None = None
) -> npt.NDArray[np.bool_]:
    """Targets chosen at `rate` by a hash of (seed, kind, key); at least one per group (billing month) when the
    rate is positive."""
    chosen = np.zeros(len(keys), dtype=bool)
    if rate <= 0 or len(keys) == 0:
        return chosen
    h = draw64(det_int(seed, "pick", kind) & _M64, keys)
    chosen = h < np.uint64(min(int(rate * 2**64), 2**64 - 1))
    groups = np.zeros(len(keys), dtype=np.int64) if groups is None else groups
    for g in np.unique(groups).tolist():  # a handful of months
        members = np.nonzero(groups == g)[0]
        if not chosen[members].any():
            chosen[members[np.argmin(h[members])]] = True
    return chosen
