"""PostgreSQL's binary COPY format and the packed level column, encoded and decoded in bulk.

Two formats live here, both built and read without Python loops over rows:

* **Binary COPY** (``COPY ... (FORMAT binary)``): a header, then per row an int16 field count and, per field,
  an int32 byte length (-1 for NULL) and the value in the type's binary form, all big-endian; an int16 -1 ends
  the stream. :func:`copy_binary` assembles the rows of a batch with Arrow's element-wise binary join;
  :func:`frame_copy_binary` finds the fields of every row of a ``COPY ... TO STDOUT (FORMAT binary)`` stream
  (a small compiled walk: row boundaries depend on the lengths before them).
* **Packed levels** (the ``packed`` BYTEA column of the snapshot table, format 1): per snapshot, little-endian,
  ``int32 n_bids, int32 n_asks, float64 bid_px[n_bids], float64 bid_qty[n_bids], float64 ask_px[n_asks],
  float64 ask_qty[n_asks]`` -- 8 + 16 (n_bids + n_asks) bytes, the exact float64 values of the JSONB (which
  stays the canonical, queryable form). :func:`pack_levels` / :func:`unpack_levels`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lobkit.data.books import Side

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
COPY_HEADER = COPY_SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags 0, no header extension
COPY_TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 00:00:00 UTC in Unix microseconds
JSONB_VERSION = b"\x01"
PACKED_HEADER = 8


class CopyFormatError(ValueError):
    """A binary COPY stream or a packed value is not what this module writes or reads."""


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
    """Inverse of :func:`pack_levels` for the values at byte ``start`` (``length`` bytes each) of ``data``,
    a buffer in which every ``start`` is a multiple of 8 (as :func:`gather` lays them out).

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
    if np.any(start % 8) or (n and data.ctypes.data % 8):
        raise CopyFormatError(f"{what}: values are not 8-byte aligned in their buffer")
    words = data[: len(data) // 8 * 8].view("<f8")
    head = words[start // 8].view("<i4").reshape(n, 2).astype(np.int64)
    nb, na = head[:, 0], head[:, 1]
    bad = np.flatnonzero((nb < 0) | (na < 0) | (length != PACKED_HEADER + 16 * (nb + na)))
    if len(bad):
        i = int(bad[0])
        raise CopyFormatError(f"{what}: value {i} has {int(length[i])} bytes but its header says {int(nb[i])} "
                              f"bid and {int(na[i])} ask levels (format 1 needs {PACKED_HEADER} + 16 x levels)")
    w0 = start // 8 + 1

    def column(first: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        idx = np.arange(int(offsets[-1])) + np.repeat(first - offsets[:-1], counts)
        return offsets, words[idx].astype(np.float64, copy=False)

    ob, bp = column(w0, nb)
    _, bq = column(w0 + nb, nb)
    oa, ap = column(w0 + 2 * nb, na)
    _, aq = column(w0 + 2 * nb + na, na)
    return Side(ob, bp, bq), Side(oa, ap, aq)


# -- binary COPY: writing --------------------------------------------------------------------------------
def _fixed(struct: np.ndarray) -> pa.Array:
    """Rows of a structured numpy array as an Arrow binary array (one fixed-size value per row)."""
    raw = np.ascontiguousarray(struct)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(raw.dtype.itemsize), len(raw),
                                                [None, pa.py_buffer(raw.view(np.uint8))]).cast(pa.large_binary())


def _as_large_binary(a) -> pa.Array:
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    return a.cast(pa.large_binary())


def copy_binary(ts_us: np.ndarray, bids_json, asks_json, packed: pa.Array | None,
                source_id: np.ndarray) -> memoryview:
    """The binary COPY stream of rows ``(ts, bids, asks[, packed], source_id)``.

    ``ts_us`` are Unix microseconds (UTC), the JSON columns Arrow string arrays, ``packed`` the output of
    :func:`pack_levels` (or None to leave that column out), ``source_id`` int64 (never NULL here).
    """
    n = len(ts_us)
    bj, aj = _as_large_binary(bids_json), _as_large_binary(asks_json)
    nfields = 5 if packed is not None else 4
    head = np.empty(n, np.dtype([("nf", ">i2"), ("lt", ">i4"), ("ts", ">i8"), ("lb", ">i4"), ("vb", "u1")]))
    head["nf"], head["lt"], head["ts"] = nfields, 8, np.asarray(ts_us, np.int64) - PG_EPOCH_US
    head["lb"], head["vb"] = pc.binary_length(bj).to_numpy() + 1, 1
    mid = np.empty(n, np.dtype([("la", ">i4"), ("va", "u1")]))
    mid["la"], mid["va"] = pc.binary_length(aj).to_numpy() + 1, 1
    parts = [_fixed(head), bj, _fixed(mid), aj]
    if packed is not None:
        pk = _as_large_binary(packed)
        lp = np.empty(n, np.dtype([("lp", ">i4")]))
        lp["lp"] = pc.binary_length(pk).to_numpy()
        parts += [_fixed(lp), pk]
    tail = np.empty(n, np.dtype([("ls", ">i4"), ("sid", ">i8")]))
    tail["ls"], tail["sid"] = 8, source_id
    parts.append(_fixed(tail))
    rows = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    offs = np.frombuffer(rows.buffers()[1], np.int64, count=n + 1, offset=rows.offset * 8)
    body = memoryview(rows.buffers()[2])[int(offs[0]):int(offs[-1])]
    out = bytearray(len(COPY_HEADER) + len(body) + len(COPY_TRAILER))
    out[: len(COPY_HEADER)] = COPY_HEADER
    out[len(COPY_HEADER): len(COPY_HEADER) + len(body)] = body
    out[-len(COPY_TRAILER):] = COPY_TRAILER
    return memoryview(out)


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
_kernels: dict = {}


def _compiled() -> dict:
    """The two compiled walks (Numba, cached on disk): framing rows and gathering one field's bytes."""
    if not _kernels:
        from numba import njit

        @njit(cache=True, nogil=True)
        def frame(buf, nfields, max_rows, start, length):  # pragma: no cover (compiled)
            pos = 19
            size = buf.shape[0]
            row = 0
            while True:
                if pos + 2 > size:
                    return -1, pos
                nf = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
                if nf == 0xFFFF:
                    return row, pos + 2
                if nf != nfields or row >= max_rows:
                    return -2, pos
                pos += 2
                for f in range(nfields):
                    if pos + 4 > size:
                        return -1, pos
                    ln = ((np.int64(buf[pos]) << 24) | (np.int64(buf[pos + 1]) << 16)
                          | (np.int64(buf[pos + 2]) << 8) | np.int64(buf[pos + 3]))
                    if ln >= 0x80000000:
                        ln -= 0x100000000
                    pos += 4
                    start[row, f] = pos
                    length[row, f] = ln
                    if ln > 0:
                        pos += ln
                    if pos > size:
                        return -1, pos
                row += 1

        @njit(cache=True, nogil=True)
        def gather(buf, start, length, skip, out, out_start):  # pragma: no cover (compiled)
            o = 0
            for i in range(start.shape[0]):
                out_start[i] = o
                ln = length[i] - skip
                if ln > 0:
                    out[o:o + ln] = buf[start[i] + skip:start[i] + skip + ln]
                    o += ln
            out_start[start.shape[0]] = o

        _kernels.update(frame=frame, gather=gather)
    return _kernels


def frame_copy_binary(data: np.ndarray, nfields: int, max_rows: int, what: str = "COPY"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Field positions of every row of a binary COPY stream ``data`` (uint8): ``(start, length)``, both
    (rows, nfields) int64; length -1 is NULL. ``max_rows`` bounds the rows expected (the query's LIMIT)."""
    if len(data) < 19 or bytes(data[:11]) != COPY_SIGNATURE:
        raise CopyFormatError(f"{what}: not a binary COPY stream (bad signature)")
    ext = int.from_bytes(bytes(data[15:19]), "big")
    if ext:
        raise CopyFormatError(f"{what}: unexpected header extension of {ext} bytes")
    start = np.empty((max_rows, nfields), np.int64)
    length = np.empty((max_rows, nfields), np.int64)
    rows, end = _compiled()["frame"](data, nfields, max_rows, start, length)
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
    _compiled()["gather"](data, start, length, skip, out, offsets)
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
