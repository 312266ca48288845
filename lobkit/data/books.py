"""Validation of raw snapshot batches and their conversion to JSON text and Polars columns, all vectorised.

A snapshot is rejected (and reported, never silently repaired) when

* its timestamp does not parse, or repeats an earlier snapshot's timestamp;
* one of its levels has a price or quantity that is NaN, missing, not a number, infinite, zero or negative,
  or above the data layer's bound (:data:`MAX_PRICE`, :data:`MAX_QUANTITY`: 1e12 each);
* one of its sides holds the same price twice (a duplicate price level);
* it has no level at all (a one-sided book is kept: its mid is NaN);
* its book is crossed or locked (best bid >= best ask).

Level rows whose snapshot does not exist are reported too. Levels of a kept snapshot are sorted best first:
bids by price descending, asks ascending.

The bounds are in line with the engine's (``PRICE_LIMIT`` = 2**60 ticks, ``MAX_SIZE`` = 2**40 lots): at a tick of
1e-6 or coarser every price in bounds is within 2**60 ticks (1e12 / 1e-6 = 1e18 < 1.15e18), and at a lot of 1 or
coarser every quantity is within 2**40 lots (1e12 < 1.1e12); finer ticks or lots are checked where prices and
quantities are converted (:func:`lobkit.data.stream.to_arrays`, :func:`lobkit.data.sources.first_book`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from lobkit.data.errors import show_number
from lobkit.data.sqlite import Levels, RawBatch, member_sorted

MAX_PRICE = 1e12  # currency units; see the module docstring
MAX_QUANTITY = 1e12


@dataclass(frozen=True)
class Rejection:
    """One bad source row: the table and row id, the field at fault, why, and the snapshot it belongs to."""

    table: str
    row_id: int
    field: str
    reason: str
    snapshot_id: int | None

    def as_dict(self) -> dict:
        return {"table": self.table, "row_id": self.row_id, "field": self.field, "reason": self.reason,
                "snapshot_id": self.snapshot_id}

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}, field {self.field}: {self.reason}"


@dataclass(frozen=True)
class Side:
    """The levels of one side of n snapshots in CSR form: snapshot i owns ``price[offsets[i]:offsets[i+1]]``."""

    offsets: np.ndarray  # int64 (n+1,)
    price: np.ndarray  # float64
    qty: np.ndarray  # float64

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass(frozen=True)
class CleanBatch:
    """The valid snapshots of a batch (ascending source id) and the rejections found in it."""

    source_id: np.ndarray
    ts_us: np.ndarray
    bids: Side
    asks: Side
    rejections: list[Rejection]
    rejected_snapshots: np.ndarray  # ids of snapshots not kept


def _side(lv: Levels, ids: np.ndarray, bids: bool) -> tuple[Side, np.ndarray]:
    """CSR of ``lv`` restricted to snapshots ``ids`` (ascending), levels sorted best first, and the ids of the
    snapshots holding the same price twice on this side.

    Levels usually arrive grouped by snapshot and already best first (as files are written): that is checked in
    one vectorised pass and the sort is skipped; otherwise a stable sort by (snapshot, price) does it.
    """
    item, price, qty = lv.item_id, lv.price, lv.qty
    grouped = len(item) < 2 or bool(np.all(item[1:] >= item[:-1]))
    keep = member_sorted(item, ids) if grouped else np.isin(item, ids)
    if not keep.all():
        item, price, qty = item[keep], price[keep], qty[keep]
    dups = _NO_IDS
    if len(item) > 1:
        same = item[1:] == item[:-1]
        step = price[1:] - price[:-1]
        in_order = grouped and bool(np.all(~same | ((step <= 0) if bids else (step >= 0))))
        if not in_order:
            order = np.lexsort((-price if bids else price, item))
            item, price, qty = item[order], price[order], qty[order]
            same = item[1:] == item[:-1]
            step = price[1:] - price[:-1]
        twice = same & (step == 0)
        if twice.any():
            dups = np.unique(item[1:][twice])
    offsets = np.searchsorted(item, ids, side="left")
    offsets = np.append(offsets, len(item)).astype(np.int64)
    return Side(offsets, price, qty), dups


_NO_IDS = np.empty(0, np.int64)


def _duplicate_rejections(lv: Levels, sids: np.ndarray, side_name: str, price_name: str) -> list:
    """A report per duplicate price level of the snapshots ``sids`` (few): the later row, naming the earlier."""
    out = []
    for sid in sids.tolist():
        rows = np.flatnonzero(lv.item_id == sid)
        seen: dict[float, int] = {}
        for k in rows[np.argsort(lv.row_id[rows], kind="stable")]:
            p = float(lv.price[k])
            if p in seen:
                out.append((sid, Rejection(side_name, int(lv.row_id[k]), price_name,
                                           f"duplicate price level {show_number(p)} (also row {seen[p]})", sid)))
            else:
                seen[p] = int(lv.row_id[k])
    return out


def clean(raw: RawBatch, names: dict[str, str], duplicate_ids: np.ndarray | None = None) -> CleanBatch:
    """Validate a :class:`RawBatch`. ``names`` maps ``items``/``bids``/``asks``/``timestamp``/``price``/
    ``quantity``/``item_id`` to the source's own names (used in the reports). ``duplicate_ids`` are snapshot
    ids known (from the whole file) to repeat an earlier timestamp."""
    rej: list[tuple[int, Rejection]] = []  # (sort key = snapshot id or row id, rejection)
    ids, bad = raw.item_id, np.zeros(len(raw.item_id), bool)

    for i in np.flatnonzero(~raw.ts_ok):
        rej.append((int(ids[i]), Rejection(names["items"], int(ids[i]), names["timestamp"],
                                           "not a valid timestamp", int(ids[i]))))
    bad |= ~raw.ts_ok
    # duplicate timestamps inside the batch (keep the smallest id) and known duplicates of earlier batches
    ok_idx = np.flatnonzero(raw.ts_ok)
    order = ok_idx[np.lexsort((ids[ok_idx], raw.ts_us[ok_idx]))]
    dup_pos = np.flatnonzero(raw.ts_us[order][1:] == raw.ts_us[order][:-1]) + 1
    first_of = {}
    for p in dup_pos:  # only the duplicates themselves: few
        j = p
        while j > 0 and raw.ts_us[order[j - 1]] == raw.ts_us[order[p]]:
            j -= 1
        first_of[int(order[p])] = int(ids[order[j]])
    if duplicate_ids is not None and len(duplicate_ids):
        for i in np.flatnonzero(np.isin(ids, duplicate_ids) & raw.ts_ok):
            first_of.setdefault(int(i), None)
    for i, first in first_of.items():
        if bad[i]:
            continue
        why = "duplicate timestamp" + (f" (same as snapshot {first})" if first is not None else "")
        rej.append((int(ids[i]), Rejection(names["items"], int(ids[i]), names["timestamp"], why, int(ids[i]))))
        bad[i] = True

    for side_name, lv in ((names["bids"], raw.bids), (names["asks"], raw.asks)):
        for field, arr, bound in ((names["price"], lv.price, MAX_PRICE), (names["quantity"], lv.qty, MAX_QUANTITY)):
            wrong = ~((arr > 0) & (arr <= bound))  # NaN and infinities fail too
            for k in np.flatnonzero(wrong):
                v = arr[k]
                if np.isnan(v):
                    why = "missing or not a number"
                elif np.isfinite(v) and v > 0:
                    why = f"{show_number(v)} is above the bound {show_number(bound)}"
                else:
                    why = f"must be a finite positive number, got {show_number(v)}"
                rej.append((int(lv.item_id[k]), Rejection(side_name, int(lv.row_id[k]), field, why,
                                                          int(lv.item_id[k]))))
            if wrong.any():
                bad |= np.isin(ids, lv.item_id[wrong])
    # duplicate price levels, empty snapshots, crossed or locked books among the rest
    good = ids[~bad]
    (b, dup_b), (a, dup_a) = _side(raw.bids, good, True), _side(raw.asks, good, False)
    drop = np.zeros(len(good), bool)
    for side_name, lv, dups in ((names["bids"], raw.bids, dup_b), (names["asks"], raw.asks, dup_a)):
        if len(dups):
            rej += _duplicate_rejections(lv, dups, side_name, names["price"])
            drop |= np.isin(good, dups)
    empty = (b.counts == 0) & (a.counts == 0)
    for k in np.flatnonzero(empty):
        sid = int(good[k])
        rej.append((sid, Rejection(names["items"], sid, f"{names['bids']}/{names['asks']}",
                                   "no levels on either side", sid)))
    drop |= empty
    best_bid, best_ask = best_price(b), best_price(a)
    both = np.isfinite(best_bid) & np.isfinite(best_ask)
    crossed = both & (best_bid >= best_ask) & ~drop
    for k in np.flatnonzero(crossed):
        sid = int(good[k])
        rej.append((sid, Rejection(names["items"], sid, f"{names['bids']}/{names['asks']}",
                                   f"crossed book: best bid {show_number(best_bid[k])} >= best ask "
                                   f"{show_number(best_ask[k])}", sid)))
    drop |= crossed
    if drop.any():
        bad |= np.isin(ids, good[drop])
        good = ids[~bad]
        (b, _), (a, _) = _side(raw.bids, good, True), _side(raw.asks, good, False)

    for side_name, lv in ((names["bids"], raw.orphan_bids), (names["asks"], raw.orphan_asks)):
        for k in range(len(lv)):  # orphans are rare: a report per row
            rej.append((int(lv.item_id[k]), Rejection(side_name, int(lv.row_id[k]), names["item_id"],
                                                      f"snapshot {int(lv.item_id[k])} does not exist", None)))
    rej.sort(key=lambda kr: (kr[0], kr[1].table, kr[1].row_id))
    ts_good = raw.ts_us[~bad]
    return CleanBatch(good, ts_good, b, a, [r for _, r in rej], ids[bad])


def best_price(side: Side) -> np.ndarray:
    """First (best) price of each snapshot's side, NaN where the side is empty."""
    n = side.counts
    out = np.full(len(n), np.nan)
    has = n > 0
    out[has] = side.price[side.offsets[:-1][has]]
    return out


# -- JSON text -------------------------------------------------------------------------------------------
def _list_series(side: Side, values: pl.Series) -> pl.Series:
    arr = pa.ListArray.from_arrays(pa.array(side.offsets.astype(np.int32) if side.offsets[-1] < 2**31
                                            else side.offsets), values.to_arrow())
    return pl.from_arrow(arr)


def side_json(side: Side) -> pl.Series:
    """``[[price,quantity],...]`` text per snapshot, built by Polars in bulk: no spaces, floats in their
    shortest round-trip form (so the JSON parses back to the very same float64 values)."""
    flat = pl.DataFrame({"p": side.price, "q": side.qty})
    pairs = flat.select(pl.format("[{},{}]", "p", "q").alias("x"))["x"]
    joined = _list_series(side, pairs).list.join(",")
    return ("[" + joined + "]").alias("json")


def parse_side_json(text: pl.Series) -> Side:
    """Inverse of :func:`side_json` for JSON arrays of pairs, in bulk (no per-row Python)."""
    text = text.cast(pl.String)
    counts = (text.str.count_matches("[", literal=True) - 1).clip(lower_bound=0).to_numpy().astype(np.int64)
    flat = (text.str.replace_all("[", "", literal=True).str.replace_all("]", "", literal=True)
            .str.replace_all(" ", "", literal=True).str.split(",").explode())
    flat = flat.filter(flat.str.len_bytes() > 0).cast(pl.Float64).to_numpy()
    if len(flat) != 2 * counts.sum():
        raise ValueError("malformed level JSON: expected [[price, quantity], ...]")
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Side(offsets, flat[0::2].copy(), flat[1::2].copy())


def to_frame(ts_us: np.ndarray, bids: Side, asks: Side, source_id: np.ndarray | None = None) -> pl.DataFrame:
    """The chunk layout the readers yield: ``ts`` (UTC, µs), ``bid_px``/``bid_qty``/``ask_px``/``ask_qty``
    (lists, best first) and, when known, ``source_id``."""
    cols = {"ts": pl.Series("ts", ts_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))}
    for name, side in (("bid", bids), ("ask", asks)):
        cols[f"{name}_px"] = _list_series(side, pl.Series(side.price, dtype=pl.Float64)).alias(f"{name}_px")
        cols[f"{name}_qty"] = _list_series(side, pl.Series(side.qty, dtype=pl.Float64)).alias(f"{name}_qty")
    if source_id is not None:
        cols["source_id"] = pl.Series("source_id", source_id, dtype=pl.Int64)
    return pl.DataFrame(cols)
