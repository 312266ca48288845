"""Compiled byte walks for :mod:`lobkit.data.pgcopy` (imported lazily: Numba loads on first use).

Binary COPY rows are variable-length records whose boundaries depend on every length before them, so finding
or writing them is one sequential pass; these are those passes, nothing else. Big-endian integers are written
and read byte by byte.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _be16(out, pos, v):
    out[pos] = (v >> 8) & 0xFF
    out[pos + 1] = v & 0xFF


@njit(cache=True, nogil=True)
def _be32(out, pos, v):
    out[pos] = (v >> 24) & 0xFF
    out[pos + 1] = (v >> 16) & 0xFF
    out[pos + 2] = (v >> 8) & 0xFF
    out[pos + 3] = v & 0xFF


@njit(cache=True, nogil=True)
def _be64(out, pos, v):
    for k in range(8):
        out[pos + k] = (v >> (56 - 8 * k)) & 0xFF


@njit(cache=True, nogil=True)
def _le32(out, pos, v):
    for k in range(4):
        out[pos + k] = (v >> (8 * k)) & 0xFF


@njit(cache=True, nogil=True)
def _copy(out, pos, src, lo, hi):
    for k in range(hi - lo):  # a plain loop: compiles far faster than slice assignment, runs as fast
        out[pos + k] = src[lo + k]
    return pos + hi - lo


@njit(cache=True, nogil=True)
def _json(out, pos, lo, hi, p_off, p_dat, q_off, q_dat):
    """``[[p,q],...]`` of levels lo..hi from the decimal texts of their prices and quantities."""
    out[pos] = 91  # [
    pos += 1
    for k in range(lo, hi):
        if k > lo:
            out[pos] = 44  # ,
            pos += 1
        out[pos] = 91
        pos += 1
        pos = _copy(out, pos, p_dat, p_off[k], p_off[k + 1])
        out[pos] = 44
        pos = _copy(out, pos + 1, q_dat, q_off[k], q_off[k + 1])
        out[pos] = 93  # ]
        pos += 1
    out[pos] = 93
    return pos + 1


@njit(cache=True, nogil=True)
def encode_rows(out, pos, ts_pg, source_id, with_packed,
                b_off, bp_off, bp_dat, bq_off, bq_dat, b_px, b_qty, json_b,
                a_off, ap_off, ap_dat, aq_off, aq_dat, a_px, a_qty, json_a):
    """Write the binary COPY rows (ts, bids jsonb, asks jsonb[, packed], source_id) from ``pos``; returns the
    end. ``json_b``/``json_a`` are each row's JSON text lengths; ``b_px``... the float64 values as bytes."""
    nfields = 5 if with_packed else 4
    for i in range(ts_pg.shape[0]):
        _be16(out, pos, nfields)
        _be32(out, pos + 2, 8)
        _be64(out, pos + 6, ts_pg[i])
        pos += 14
        _be32(out, pos, json_b[i] + 1)
        out[pos + 4] = 1  # jsonb binary format version
        pos = _json(out, pos + 5, b_off[i], b_off[i + 1], bp_off, bp_dat, bq_off, bq_dat)
        _be32(out, pos, json_a[i] + 1)
        out[pos + 4] = 1
        pos = _json(out, pos + 5, a_off[i], a_off[i + 1], ap_off, ap_dat, aq_off, aq_dat)
        if with_packed:
            nb = b_off[i + 1] - b_off[i]
            na = a_off[i + 1] - a_off[i]
            _be32(out, pos, 8 + 16 * (nb + na))
            _le32(out, pos + 4, nb)
            _le32(out, pos + 8, na)
            pos += 12
            pos = _copy(out, pos, b_px, b_off[i] * 8, b_off[i + 1] * 8)
            pos = _copy(out, pos, b_qty, b_off[i] * 8, b_off[i + 1] * 8)
            pos = _copy(out, pos, a_px, a_off[i] * 8, a_off[i + 1] * 8)
            pos = _copy(out, pos, a_qty, a_off[i] * 8, a_off[i + 1] * 8)
        _be32(out, pos, 8)
        _be64(out, pos + 4, source_id[i])
        pos += 12
    return pos


@njit(cache=True, nogil=True)
def frame(buf, nfields, max_rows, start, length):
    """Field offsets and lengths of every row of a binary COPY stream (header already checked); returns
    (rows, end), rows -1 when the stream is truncated, -2 when a row does not have ``nfields`` fields or
    there are more than ``max_rows`` rows."""
    pos = 19
    size = buf.shape[0]
    row = 0
    while True:
        if pos + 2 > size:
            return -1, pos
        nf = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
        if nf == 0xFFFF:
            return row, pos + 2
        if nf != nfields or row >= max_rows or row >= start.shape[0]:
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
def gather(buf, start, length, skip, out, out_start):
    """Copy the value bytes of each row (less a ``skip`` prefix) end to end into ``out``."""
    o = 0
    for i in range(start.shape[0]):
        out_start[i] = o
        ln = length[i] - skip
        if ln > 0:
            o = _copy(out, o, buf, start[i] + skip, start[i] + skip + ln)
    out_start[start.shape[0]] = o


@njit(cache=True, nogil=True)
def unpack(buf, start, b_off, a_off, bp, bq, ap, aq):
    """Copy each row's packed float64 bytes (after its 8-byte header at ``start``) into the four flat output
    columns (given as bytes), at the rows' CSR offsets."""
    for i in range(start.shape[0]):
        pos = start[i] + 8
        nb8 = (b_off[i + 1] - b_off[i]) * 8
        na8 = (a_off[i + 1] - a_off[i]) * 8
        pos = _copy_to(bp, b_off[i] * 8, buf, pos, nb8)
        pos = _copy_to(bq, b_off[i] * 8, buf, pos, nb8)
        pos = _copy_to(ap, a_off[i] * 8, buf, pos, na8)
        _copy_to(aq, a_off[i] * 8, buf, pos, na8)


@njit(cache=True, nogil=True)
def _copy_to(out, at, src, pos, n):
    for k in range(n):
        out[at + k] = src[pos + k]
    return pos + n
