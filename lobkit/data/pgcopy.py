"""PostgreSQL's binary COPY format and the packed level column, encoded and decoded in bulk.

Two formats live here, both built and read without Python loops over rows:

* **Binary COPY** (``COPY ... (FORMAT binary)``): a header, then per row an int16 field count and, per field,
  an int32 byte length (-1 for NULL) and the value in the type's binary form, all big-endian; an int16 -1 ends
  the stream. :func:`encode_batch` writes the rows of a migration batch; :func:`frame_copy_binary` finds the
  fields of every row of a ``COPY ... TO STDOUT (FORMAT binary)`` stream. Both are one compiled sequential
  pass (:mod:`lobkit.data._nb`, Numba) because a row's position depends on the lengths of all rows before it;
  everything else is numpy, Polars and Arrow in bulk.
* **Packed levels** (the ``packed`` BYTEA column of the snapshot table, format 1): per snapshot, little-endian,
  ``int32 n_bids, int32 n_asks, float64 bid_px[n_bids], float64 bid_qty[n_bids], float64 ask_px[n_asks],
  float64 ask_qty[n_asks]`` -- 8 + 16 (n_bids + n_asks) bytes, the exact float64 values of the JSONB (which
  stays the canonical, queryable form). :func:`pack_levels` (the reference encoder; :func:`encode_batch`
  writes the same bytes) / :func:`unpack_levels`.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from lobkit.data.books import Side
from lobkit.errors import LobkitError

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
COPY_HEADER = COPY_SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags 0, no header extension
COPY_TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 00:00:00 UTC in Unix microseconds
PACKED_HEADER = 8


class CopyFormatError(LobkitError, ValueError):
    """A binary COPY stream or a packed value is not what this module writes or reads (a damaged table
    value, or a table written by another tool in another layout)."""


# -- packed levels ---------------------------------------------------------------------------------------
def _scatter(out: np.ndarray, values: np.ndarray, offsets: np.ndarray, dest_start: np.ndarray) -> None:
    """``out[dest_start[i] + k] = values[offsets[i] + k]`` for every row i and k < its count, vectorised."""
    counts = np.diff(offsets)
    if len(values):
        out[np.arange(len(values)) + np.repeat(dest_start - offsets[:-1], counts)] = values


def pack_levels(bids: Side, asks: Side) -> pa.LargeBinaryArray:
    """The packed form (format 1, see the module doc) of each snapshot's two sides, as one Arrow array."""
    n = len(bids.offsets) - 1
    nb, na = np.diff(bids.offsets), np.diff(asks.offsets)
    words = 1 + 2 * nb + 2 * na  # in float64 units; the header is one 8-byte word
    start = np.zeros(n + 1, np.int64)
    np.cumsum(words, out=start[1:])
    out = np.empty(int(start[-1]), np.float64)
    head = np.empty(n, np.dtype([("nb", "<i4"), ("na", "<i4")]))
    head["nb"], head["na"] = nb, na
    out[start[:-1]] = head.view(np.float64)
    s = start[:-1] + 1
    _scatter(out, bids.price.astype("<f8", copy=False), bids.offsets, s)
    _scatter(out, bids.qty.astype("<f8", copy=False), bids.offsets, s + nb)
    _scatter(out, asks.price.astype("<f8", copy=False), asks.offsets, s + 2 * nb)
    _scatter(out, asks.qty.astype("<f8", copy=False), asks.offsets, s + 2 * nb + na)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(start * 8),
                                                                    pa.py_buffer(out)])


def unpack_levels(data, start: np.ndarray, length: np.ndarray, what: str = "packed") -> tuple[Side, Side]:
    """Inverse of :func:`pack_levels` for the values at byte ``start`` (``length`` bytes each) of ``data``
    (any alignment: e.g. straight from a binary COPY stream). Headers and lengths are checked in bulk; one
    compiled pass copies the values into the four flat columns.

    Raises :class:`CopyFormatError` naming the first bad value (``what`` says where the values came from) when
    a length does not match its header.
    """
    data = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    start, length = np.asarray(start, np.int64), np.asarray(length, np.int64)
    n = len(start)
    short = np.flatnonzero(length < PACKED_HEADER)
    if len(short):
        raise CopyFormatError(f"{what}: value {int(short[0])} has {int(length[short[0]])} bytes, fewer than the "
                              f"{PACKED_HEADER}-byte header")
    head = data[start[:, None] + np.arange(PACKED_HEADER)].reshape(-1).view("<i4").reshape(n, 2).astype(np.int64)
    nb, na = head[:, 0], head[:, 1]
    bad = np.flatnonzero((nb < 0) | (na < 0) | (length != PACKED_HEADER + 16 * (nb + na)))
    if len(bad):
        i = int(bad[0])
        raise CopyFormatError(f"{what}: value {i} has {int(length[i])} bytes but its header says {int(nb[i])} "
                              f"bid and {int(na[i])} ask levels (format 1 needs {PACKED_HEADER} + 16 x levels)")
    ob, oa = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    np.cumsum(nb, out=ob[1:])
    np.cumsum(na, out=oa[1:])
    cols = [np.empty(int(o[-1]), np.float64) for o in (ob, ob, oa, oa)]
    _kernels().unpack(data, start, ob, oa, *(c.view(np.uint8) for c in cols))
    if not np.little_endian:  # pragma: no cover (the values are little-endian on disk)
        cols = [c.byteswap() for c in cols]
    return Side(ob, cols[0], cols[1]), Side(oa, cols[2], cols[3])


# -- binary COPY: writing --------------------------------------------------------------------------------
def _decimal_texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shortest round-trip decimal text of each float64 (Polars), as Arrow-style (offsets, bytes)."""
    arr = pl.Series(values, dtype=pl.Float64).cast(pl.String).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = np.frombuffer(arr.buffers()[2], np.uint8) if arr.buffers()[2] is not None else np.empty(0, np.uint8)
    return offsets, data


def _json_lengths(side: Side, p_off: np.ndarray, q_off: np.ndarray) -> np.ndarray:
    """Length of each snapshot's ``[[p,q],...]`` text: brackets, the numbers, commas."""
    per_level = np.diff(p_off) + np.diff(q_off) + 4  # "[" p "," q "]" and the comma before the next
    cs = np.zeros(len(per_level) + 1, np.int64)
    np.cumsum(per_level, out=cs[1:])
    counts = side.counts
    return cs[side.offsets[1:]] - cs[side.offsets[:-1]] + 2 - np.minimum(counts, 1)


def encode_batch(ts_us: np.ndarray, bids: Side, asks: Side, source_id: np.ndarray, packed: bool) -> np.ndarray:
    """The binary COPY stream of rows ``(ts, bids, asks[, packed], source_id)`` (uint8 array).

    The JSON of each side is ``[[price,quantity],...]`` with no spaces and each float in its shortest
    round-trip decimal form (Polars formats every number at once; a compiled pass lays the bytes out), so the
    server's JSONB equals the float64 values exactly, and ``packed`` (when asked) holds those very values.
    """
    texts = {}
    for name, side in (("b", bids), ("a", asks)):
        p_off, p_dat = _decimal_texts(side.price)
        q_off, q_dat = _decimal_texts(side.qty)
        texts[name] = (side.offsets.astype(np.int64, copy=False), p_off, p_dat, q_off, q_dat,
                       np.ascontiguousarray(side.price, "<f8").view(np.uint8),
                       np.ascontiguousarray(side.qty, "<f8").view(np.uint8), _json_lengths(side, p_off, q_off))
    jb, ja = texts["b"][-1], texts["a"][-1]
    per_row = 14 + 5 + jb + 5 + ja + 12
    if packed:
        per_row = per_row + 12 + 16 * (bids.counts + asks.counts)
    size = len(COPY_HEADER) + int(per_row.sum()) + len(COPY_TRAILER)
    out = np.empty(size, np.uint8)
    out[: len(COPY_HEADER)] = np.frombuffer(COPY_HEADER, np.uint8)
    end = _kernels().encode_rows(out, len(COPY_HEADER), np.asarray(ts_us, np.int64) - PG_EPOCH_US,
                                 np.asarray(source_id, np.int64), bool(packed), *texts["b"], *texts["a"])
    if end != size - len(COPY_TRAILER):
        raise CopyFormatError(f"internal: encoded {end} bytes, expected {size - len(COPY_TRAILER)}")
    out[end:] = np.frombuffer(COPY_TRAILER, np.uint8)
    return out


class BytesReader:
    """A read-only file over a bytes-like object, handing out ``bytes`` pieces (what psycopg2's COPY wants)."""

    def __init__(self, data):
        self._mv = memoryview(data).cast("B")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._mv) if size is None or size < 0 else min(len(self._mv), self._pos + size)
        out = bytes(self._mv[self._pos:end])
        self._pos = end
        return out

    def readline(self, size: int = -1) -> bytes:  # psycopg2 never calls it for COPY FROM; file protocol
        return self.read(size)

    def seek(self, pos: int) -> None:
        self._pos = int(pos)


# -- binary COPY: reading --------------------------------------------------------------------------------
def _kernels():
    from lobkit.data import _nb

    return _nb


def frame_copy_binary(data: np.ndarray, nfields: int, max_rows: int, what: str = "COPY"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Field positions of every row of a binary COPY stream ``data`` (uint8): ``(start, length)``, both
    (rows, nfields) int64; length -1 is NULL. ``max_rows`` bounds the rows expected (the query's LIMIT)."""
    if len(data) < 19 or bytes(data[:11]) != COPY_SIGNATURE:
        raise CopyFormatError(f"{what}: not a binary COPY stream (bad signature)")
    ext = int.from_bytes(bytes(data[15:19]), "big")
    if ext:
        raise CopyFormatError(f"{what}: unexpected header extension of {ext} bytes")
    fit = max(0, (len(data) - 21) // (2 + 4 * nfields)) + 1  # no more rows than the bytes can hold
    start = np.empty((min(max_rows, fit), nfields), np.int64)
    length = np.empty((min(max_rows, fit), nfields), np.int64)
    rows, end = _kernels().frame(data, nfields, max_rows, start, length)
    if rows == -1:
        raise CopyFormatError(f"{what}: stream truncated at byte {end}")
    if rows == -2:
        raise CopyFormatError(f"{what}: unexpected row layout at byte {end} (expected {nfields} fields, at most "
                              f"{max_rows} rows)")
    return start[:rows], length[:rows]


def gather(data: np.ndarray, start: np.ndarray, length: np.ndarray, skip: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of one field of every row laid end to end (NULLs give nothing): ``(buffer, offsets)`` with
    ``offsets`` (rows + 1). ``skip`` drops a prefix of each value (1 for the version byte of a jsonb)."""
    start, length = np.ascontiguousarray(start), np.ascontiguousarray(length)
    total = int(np.maximum(length - skip, 0).sum())
    out = np.empty(total + 8, np.uint8)[:total] if total else np.empty(0, np.uint8)
    offsets = np.empty(len(start) + 1, np.int64)
    _kernels().gather(data, start, length, skip, out, offsets)
    return out, offsets


def fixed_column(data: np.ndarray, start: np.ndarray, length: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-width big-endian column (``">i8"``...) of a framed COPY stream: (values, is_null)."""
    dt = np.dtype(dtype)
    null = length < 0
    wrong = np.flatnonzero(~null & (length != dt.itemsize))
    if len(wrong):
        raise CopyFormatError(f"row {int(wrong[0])}: {int(length[wrong[0]])} bytes for a {dt.itemsize}-byte value")
    idx = np.where(null, 0, start)[:, None] + np.arange(dt.itemsize)
    vals = data[idx].reshape(-1).view(dt).astype(dt.newbyteorder("="))
    return vals, null


def text_column(data: np.ndarray, start: np.ndarray, length: np.ndarray, skip: int = 0) -> pa.LargeStringArray:
    """A text column (jsonb: ``skip=1`` for its version byte) as one Arrow string array, NULL where the
    length is -1."""
    values, offsets = gather(data, start, length, skip)
    null = length < 0
    validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if null.any() else None
    return pa.LargeStringArray.from_buffers(len(start), pa.py_buffer(offsets), pa.py_buffer(values), validity,
                                            int(null.sum()))
