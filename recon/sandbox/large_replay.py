"""lifecycle.replay over every subscription at once: charge cycles, renewals, seat changes and cancellations.

The replay is stepped cycle by cycle (a handful of steps for a world of one or two months), each step handling
every subscription's next charge cycle in numpy: the same draws (rand.mix of the subscription's root and the
cycle), the same float thresholds and the same seat arithmetic as lifecycle.py, so the lines are the ones the
per-subscription replay writes. Amounts are then rated in exact integer arithmetic (see large_rating.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from recon.sandbox.large_hash import chunk, low48, mix
from recon.sandbox.large_population import AV_CYCLE, AV_TERM, I64, SeatPopulation, days_of, first_day, month_index
from recon.sandbox.lifecycle import P_ADD, P_CANCEL_AT_TERM_START, P_REDUCE_AT_TERM_START, P_REMOVE_AFTER_ADD

# chargeType codes of the line frames, and their names
NEW, RENEW, CYCLE, ADD, REMOVE, CANCEL = range(6)
CHARGE_TYPES = ["new", "renew", "cycleCharge", "addQuantity", "removeQuantity", "cancelImmediate"]
_AT_START = P_CANCEL_AT_TERM_START + P_REDUCE_AT_TERM_START  # the same float sum as lifecycle.py


def _on(month: I64, dom: I64) -> I64:
    return first_day(month) + dom - 1  # anchor days are 1-28, so no month clamps them


# Column types of the emitted lines (dates as days since 1970-01-01).
_TYPES = {
    "sub": np.int32,
    "seq": np.int16,
    "ctype": np.uint8,
    "on": np.int32,
    "ce": np.int32,
    "clen": np.int16,
    "qty": np.int32,
    "sign": np.int8,
    "k": np.int16,
    "t_start": np.int32,
    "t_end": np.int32,
    "rid_hi": np.uint64,
    "rid_lo": np.uint64,
    "oid": np.uint64,
}


@dataclass
class _Emitted:
    """Columns of the lines emitted so far (one array per batch)."""

    cols: dict[str, list[npt.NDArray[np.generic]]] = field(default_factory=dict)

    def add(self, **arrays: npt.NDArray[np.generic] | int) -> None:
        n = len(next(a for a in arrays.values() if isinstance(a, np.ndarray)))
        for name, value in arrays.items():
            arr = np.asarray(value, dtype=_TYPES[name]) if isinstance(value, np.ndarray) else None
            self.cols.setdefault(name, []).append(arr if arr is not None else np.full(n, value, dtype=_TYPES[name]))

    def frame(self) -> pl.DataFrame:
        if not self.cols:
            return pl.DataFrame({k: np.zeros(0, dtype=t) for k, t in _TYPES.items()})
        return pl.DataFrame({k: np.concatenate(v) for k, v in self.cols.items()})


@dataclass
class _Step:
    """One charge cycle of each subscription in a step (the arrays are aligned with `idx`)."""

    idx: I64
    k: I64
    j: I64
    cs: I64
    ce: I64
    clen: I64
    t_start: I64
    t_end: I64
    d_hi: npt.NDArray[np.uint64]
    d_lo: npt.NDArray[np.uint64]


class Replay:
    """Every seat line of a population from `window_start` up to (not including) `today`."""

    def __init__(self, pop: SeatPopulation, window_start: date, today: date, horizon: date):
        self.pop = pop
        self.ws, self.today = days_of(window_start), days_of(today)
        self.out = _Emitted()
        self.qty = pop.qty.copy()
        self.alive = np.ones(len(pop), dtype=bool)
        self.ms = month_index(pop.start)
        self.dom = pop.start - first_day(self.ms) + 1
        self.t, self.c = AV_TERM[pop.avail], AV_CYCLE[pop.avail]
        self.r = self.t // self.c
        mw, mh = month_index(np.array([self.ws]))[0], month_index(np.array([days_of(horizon)]))[0]
        need = mw + (self.dom == 1) - self.ms  # cycle g ends on or after window_start iff (g + 1) c >= need
        self.g0 = np.maximum(0, -(-need // self.c) - 1)
        g_end = np.maximum(0, -(-(mh - self.ms) // self.c))  # cycle g starts before the horizon iff g < g_end
        first_term_only = ~pop.auto_renew
        g_end = np.where(first_term_only, np.minimum(g_end, self.r), g_end)
        self.n = np.where(first_term_only & (self.g0 >= self.r), 0, np.maximum(0, g_end - self.g0))

    def run(self) -> pl.DataFrame:
        """The emitted lines (before rating): one row per line with its inputs and its order in the replay."""
        for s in range(int(self.n.max(initial=0))):
            idx = np.nonzero(self.alive & (s < self.n))[0]
            if len(idx):
                self._cycle(s, self._step(idx, self.g0[idx] + s))
        return self.out.frame()

    def _step(self, idx: I64, g: I64) -> _Step:
        c, t, ms, dom = self.c[idx], self.t[idx], self.ms[idx], self.dom[idx]
        r = self.r[idx]
        k, j = g // r, g % r
        cs, ce = _on(ms + g * c, dom), _on(ms + (g + 1) * c, dom) - 1
        clen = np.where(c == 1, first_day(ms + g * c + 1) - first_day(ms + g * c), ce - cs + 1)
        d_hi, d_lo = mix(self.pop.base_hi[idx], self.pop.base_lo[idx], k, j)
        return _Step(idx, k, j, cs, ce, clen, _on(ms + k * t, dom), _on(ms + (k + 1) * t, dom) - 1, d_hi, d_lo)

    def _emit(
        self,
        st: _Step,
        sel: npt.NDArray[np.bool_],
        s: int,
        slot: int,
        ctype: I64 | int,
        on: I64,
        qty: I64,
        sign: int,
        key: int | None,
    ) -> None:
        """Keep the lines of `sel` dated inside [window_start, today); `key` names a change's ids (None: cycle)."""
        keep = sel & (on >= self.ws) & (on < self.today)
        if not keep.any():
            return
        idx = st.idx[keep]
        k, j = st.k[keep], st.j[keep]
        b_hi, b_lo = self.pop.base_hi[idx], self.pop.base_lo[idx]
        if key is None:  # a cycle's charge: the term's order (the purchase order in the first term)
            rid_hi, rid_lo = st.d_hi[keep], st.d_lo[keep]
            oid = self.pop.order[idx]
            later = np.nonzero(k > 0)[0]
            oid[later] = low48(mix(b_hi[later], b_lo[later], 1, k[later])[1])
        else:
            rid_hi, rid_lo = mix(b_hi, b_lo, k, j, key)
            oid = low48(mix(b_hi, b_lo, 1, k, j, key)[1])
        self.out.add(
            sub=idx,
            seq=np.full(len(idx), s * 16 + slot * 2 + (sign > 0 and key is not None), dtype=np.int64),
            ctype=ctype[keep] if isinstance(ctype, np.ndarray) else ctype,
            on=on[keep],
            ce=st.ce[keep],
            clen=st.clen[keep],
            qty=qty[keep],
            sign=sign,
            k=k,
            t_start=st.t_start[keep],
            t_end=st.t_end[keep],
            rid_hi=rid_hi,
            rid_lo=rid_lo,
            oid=oid,
        )

    def _pair(
        self, st: _Step, sel: npt.NDArray[np.bool_], s: int, slot: int, ctype: int, on: I64, new_qty: I64
    ) -> None:
        """lifecycle._change: a refund of the current seats and a charge of `new_qty`, sharing a referenceId."""
        qty = self.qty[st.idx]
        sel = sel & (on <= st.ce) & (new_qty >= 1) & (new_qty != qty)
        self._emit(st, sel, s, slot, ctype, on, qty, -1, slot + 1)  # ids of change `slot + 1` (lifecycle's keys 3-5)
        self._emit(st, sel, s, slot, ctype, on, new_qty, 1, slot + 1)
        self.qty[st.idx[sel]] = new_qty[sel]

    def _cycle(self, s: int, st: _Step) -> None:
        """The cycle's full charge, then its cancellation or seat changes (lifecycle._cycle_events)."""
        ctype = np.where(st.j > 0, CYCLE, np.where(st.k == 0, NEW, RENEW))
        self._emit(st, np.ones(len(st.idx), dtype=bool), s, 0, ctype, st.cs, self.qty[st.idx], 1, None)
        u0, u3 = chunk(st.d_lo, st.d_hi, 0) / 65536, chunk(st.d_lo, st.d_hi, 3) / 65536
        length = st.ce - st.cs + 1
        busy = np.nonzero(((st.j == 0) & (u0 < _AT_START)) | (u3 < P_ADD * np.maximum(1, length // 31)))[0]
        if len(busy):  # most cycles change nothing
            self._events(s, _Step(*(getattr(st, f)[busy] for f in _Step.__dataclass_fields__)))

    def _events(self, s: int, st: _Step) -> None:
        """Cancellation, seat reduction at a term start, seat add and its removal, of the cycles that have one."""
        u = [chunk(st.d_lo, st.d_hi, i) / 65536 for i in range(8)]
        first = st.j == 0
        length = st.ce - st.cs + 1
        cancel = first & (u[0] < P_CANCEL_AT_TERM_START)
        self._emit(st, cancel, s, 1, CANCEL, st.cs + (u[1] * 7).astype(np.int64), self.qty[st.idx], -1, 2)
        self.alive[st.idx[cancel]] = False
        qty = self.qty[st.idx]
        reduce = ~cancel & first & (u[0] < _AT_START) & (qty > 1)
        cut = np.maximum(1, (qty * u[2] * 0.5).astype(np.int64))
        cut_on = st.cs + 1 + (u[1] * 6).astype(np.int64)
        self._pair(st, reduce, s, 2, REMOVE, cut_on, qty - cut)
        since = np.where(reduce & (cut_on <= st.ce), cut_on, st.cs)  # an add comes after the cycle's reduction
        qty = self.qty[st.idx]
        add = ~cancel & (u[3] < P_ADD * np.maximum(1, length // 31))
        on = since + 1 + (u[4] * (st.ce - since)).astype(np.int64)  # never on the cycle-charge day
        added = 1 + (u[5] * np.maximum(1, qty * 0.3)).astype(np.int64)
        self._pair(st, add, s, 3, ADD, on, qty + added)
        back = on + 1 + (u[7] * 6).astype(np.int64)
        qty = self.qty[st.idx]
        gone = np.maximum(1, (added * u[6] / P_REMOVE_AFTER_ADD).astype(np.int64))
        self._pair(st, add & (u[6] < P_REMOVE_AFTER_ADD) & (back <= st.ce), s, 4, REMOVE, back, qty - gone)
