"""Streaming back (round trip, filters, bounded memory), book arrays, and LOBSTER import."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobkit.data.lobster import import_lobster
from lobkit.data.migrate import migrate
from lobkit.data.sample import write_sample_db
from lobkit.data.stream import stream_db, stream_sqlite, to_arrays

from .conftest import require_data


@pytest.mark.tsdb
def test_round_trip_sqlite_timescale_polars(tsdb_cfg, lob_btc):
    migrate(lob_btc, tsdb_cfg, progress=False)
    a = pl.concat(list(stream_sqlite(lob_btc, chunk_size=777)))
    b = pl.concat(list(stream_db(tsdb_cfg, chunk_size=777)))
    assert a.height == b.height == 5011
    assert a.equals(b)
    lo, hi = "2015-05-01T02:00:00", datetime(2015, 5, 1, 3, 30, tzinfo=UTC)
    fa = pl.concat(list(stream_sqlite(lob_btc, chunk_size=500, start=lo, end=hi)))
    fb = pl.concat(list(stream_db(tsdb_cfg, chunk_size=500, start=lo, end=hi)))
    want = a.filter((pl.col("ts") >= datetime(2015, 5, 1, 2, tzinfo=UTC)) & (pl.col("ts") < hi))
    assert fa.equals(want) and fb.equals(want) and 0 < want.height < 5011


_PEAK = r"""
import json, sys, tracemalloc
from lobkit.data.stream import stream_db, stream_sqlite, to_arrays
from lobkit.data.timescale import DbConfig
src, dsn, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
it = stream_db(DbConfig(dsn), chunk_size=chunk) if dsn != "-" else stream_sqlite(src, chunk_size=chunk)
tracemalloc.start()
n = 0
for df in it:
    n += df.height
    to_arrays(df)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak over the exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"n": n, "py_peak": tracemalloc.get_traced_memory()[1], "rss_kb": hwm}))
"""


def _peak(src, dsn, chunk=2000):
    out = subprocess.run([sys.executable, "-c", _PEAK, str(src), dsn, str(chunk)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.tsdb
def test_reader_memory_is_flat_on_a_source_ten_times_larger(tmp_path, tsdb_server):
    from lobkit.data.timescale import DbConfig, init_db

    small = write_sample_db(tmp_path / "small.db", 10_000, seed=1)
    large = write_sample_db(tmp_path / "large.db", 100_000, seed=2)
    res = {}
    for name, src in (("small", small), ("large", large)):
        cfg = DbConfig(tsdb_server.dsn_for(f"lobkit_mem_{name}"))
        init_db(cfg)
        migrate(src, cfg, progress=False)
        res[name] = {"sqlite": _peak(src, "-"), "db": _peak(src, cfg.dsn)}
    for kind in ("sqlite", "db"):
        s, big = res["small"][kind], res["large"][kind]
        assert (s["n"], big["n"]) == (10_000, 100_000)
        # tracemalloc sees Python and numpy; RSS also sees Polars' Rust buffers and SQLite
        assert big["py_peak"] < 1.5 * s["py_peak"] + 2_000_000, (kind, s, big)
        assert big["rss_kb"] < 1.3 * s["rss_kb"] + 30_000, (kind, s, big)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_to_arrays_offsets_in_ticks(levels, seed):
    rng = np.random.default_rng(seed)
    n = 30
    best_bid = rng.integers(10_000, 30_000, n)
    spread = rng.integers(1, 6, n)
    nb, na = rng.integers(0, levels + 3, n), rng.integers(1, levels + 3, n)
    nb[0] = 0  # an empty side
    bid_px = [list((best_bid[i] - np.cumsum(rng.integers(1, 4, nb[i])) + 1 - 1) * 0.01) for i in range(n)]
    ask_px = [list((best_bid[i] + spread[i] + np.cumsum(rng.integers(1, 4, na[i])) - 1) * 0.01) for i in range(n)]
    frame = pl.DataFrame({"ts": pl.Series(np.arange(n), dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                          "bid_px": bid_px, "bid_qty": [[1.0] * len(x) for x in bid_px],
                          "ask_px": ask_px, "ask_qty": [[2.0] * len(x) for x in ask_px]},
                         schema_overrides={"bid_px": pl.List(pl.Float64), "bid_qty": pl.List(pl.Float64)})
    arr = to_arrays(frame, levels=levels)
    assert arr.bid_ticks.shape == arr.ask_vol.shape == (n, levels) and arr.bid_ticks.dtype == np.int64
    for i in range(n):
        kb, ka = min(len(bid_px[i]), levels), min(len(ask_px[i]), levels)
        assert arr.n_bids[i] == kb and arr.n_asks[i] == ka
        assert (arr.bid_vol[i, kb:] == 0).all() and (arr.bid_ticks[i, kb:] == 0).all()
        if kb and ka:
            mid = (bid_px[i][0] + ask_px[i][0]) / 2
            assert arr.mid[i] == pytest.approx(mid)
            # offsets are the distance from the mid rounded away from it: within half a tick
            assert np.all(np.abs(np.array(bid_px[i][:kb]) - (mid + arr.bid_ticks[i, :kb] * 0.01)) <= 0.005 + 1e-9)
            assert (arr.bid_ticks[i, :kb] <= -1).all() and (arr.ask_ticks[i, :ka] >= 1).all()
            assert (np.diff(arr.ask_ticks[i, :ka]) > 0).all()
        else:
            assert np.isnan(arr.mid[i])


@pytest.mark.tsdb
def test_lobster_import(tsdb_dsn):
    from lobkit.data.timescale import DbConfig, init_db, stats

    z = require_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    cfg = DbConfig(tsdb_dsn, table="amzn_1")
    init_db(cfg)
    s, lb = import_lobster(z, cfg, progress=False)
    with zipfile.ZipFile(z) as zf:
        name = next(n for n in zf.namelist() if "orderbook" in n)
        raw = np.loadtxt(zf.open(name), delimiter=",", dtype=np.int64)
    assert s.read == len(raw) - lb.collapsed and s.inserted + s.rejected_snapshots == s.read
    assert stats(cfg).count == s.inserted
    first = pl.concat(list(stream_db(cfg, chunk_size=100_000)))
    row1 = first.row(0, named=True)
    assert row1["source_id"] == 1 and row1["ask_px"] == [raw[0, 0] / 10000] and row1["bid_qty"] == [float(raw[0, 3])]
    # 09:30 New York on 2012-06-21 is 13:30 UTC
    assert row1["ts"].strftime("%H:%M") == "13:30"
    kept = first["source_id"].to_numpy() - 1
    np.testing.assert_array_equal(first["ask_px"].list.len().to_numpy(), (raw[kept, 0] != 9999999999).astype(int))
    again, _ = import_lobster(z, cfg, progress=False)
    assert again.inserted == 0 and again.already_present == s.inserted
