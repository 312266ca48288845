"""Ingest benchmark against a real server: migrate vs a naive INSERT loop, and the reader.

Starts a TimescaleDB the way the tests do (Docker, else scripts/tsdb-local.sh as root), or uses --dsn.
Writes a synthetic 20-level SQLite file (lobkit sample-data) of --snapshots snapshots, then measures in one run:
``migrate`` (COPY), a naive row-by-row INSERT loop on the same data (--naive-snapshots of them), and the
reader (keyset-paged COPY, bulk JSON parse, to Polars and to numpy arrays) with its peak memory.

    .venv/bin/python benchmarks/ingest.py --json
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lobkit.data import localdb  # noqa: E402
from lobkit.data.migrate import migrate, naive_insert  # noqa: E402
from lobkit.data.sample import write_sample_db  # noqa: E402
from lobkit.data.timescale import DbConfig, init_db  # noqa: E402

_READ = r"""
import json, resource, sys, time, tracemalloc
from lobkit.data.stream import stream_db, to_arrays
from lobkit.data.timescale import DbConfig
cfg = DbConfig(sys.argv[1]); chunk = int(sys.argv[2])
for _ in stream_db(cfg, chunk_size=chunk): break   # warm-up (imports, connection)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter(); n = 0
for df in stream_db(cfg, chunk_size=chunk):
    n += df.height
secs = time.perf_counter() - t
t = time.perf_counter(); m = 0
for df in stream_db(cfg, chunk_size=chunk):
    a = to_arrays(df); m += len(a.mid)
secs_arr = time.perf_counter() - t
print(json.dumps({"n": n, "secs": secs, "secs_arrays": secs_arr,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss0_mb": rss0 / 1024}))
"""


@click.command()
@click.option("--dsn", default=None, help="Use this server (maintenance DSN) instead of starting one.")
@click.option("--snapshots", default=200_000, show_default=True, help="Snapshots in the synthetic source.")
@click.option("--naive-snapshots", default=5_000, show_default=True, help="Snapshots for the naive loop.")
@click.option("--batch-size", default=20_000, show_default=True)
@click.option("--chunk-size", default=50_000, show_default=True, help="Reader chunk size.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(dsn, snapshots, naive_snapshots, batch_size, chunk_size, as_json):
    """Measure migrate, the naive loop and the reader; print a table or one JSON object."""
    with tempfile.TemporaryDirectory(prefix="lobkit-bench-") as tmp:
        server = None
        if dsn is None:
            server = localdb.start_server(tmp)
            dsn = server.dsn
        try:
            base = dsn.rsplit("/", 1)[0]
            src = write_sample_db(Path(tmp) / "src.db", snapshots, seed=2024, levels=20)
            small = write_sample_db(Path(tmp) / "naive.db", naive_snapshots, seed=2025, levels=20)
            cfg = DbConfig(base + "/lobkit_bench_copy")
            naive_cfg = DbConfig(base + "/lobkit_bench_naive")
            for c in (cfg, naive_cfg):
                init_db(c)
            s = migrate(src, cfg, batch_size=batch_size, progress=False)
            assert s.inserted == snapshots, s.lines()
            copy_small = DbConfig(base + "/lobkit_bench_copy_small")
            init_db(copy_small)
            s_small = migrate(small, copy_small, batch_size=batch_size, progress=False)
            t = time.perf_counter()
            n_naive = naive_insert(small, naive_cfg)
            naive_secs = time.perf_counter() - t
            r = json.loads(subprocess.run([sys.executable, "-c", _READ, cfg.dsn, str(chunk_size)],
                                          capture_output=True, text=True, check=True).stdout)
            res = {
                "snapshots": snapshots, "levels": 20, "batch_size": batch_size,
                "migrate_seconds": round(s.seconds, 3),
                "migrate_snapshots_per_s": round(s.snapshots_per_s),
                "migrate_small_snapshots_per_s": round(s_small.snapshots_per_s),
                "naive_snapshots": n_naive,
                "naive_snapshots_per_s": round(n_naive / naive_secs),
                "speedup_vs_naive": round(s.snapshots_per_s / (n_naive / naive_secs), 1),
                "read_snapshots_per_s": round(r["n"] / r["secs"]),
                "read_to_arrays_snapshots_per_s": round(r["n"] / r["secs_arrays"]),
                "read_peak_mb": round(r["rss_mb"], 1),
                "read_peak_above_warm_mb": round(r["rss_mb"] - r["rss0_mb"], 1),
                "chunk_size": chunk_size,
                "server": server.kind if server else "given",
                "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs, {platform.system()}",
            }
        finally:
            if server is not None:
                localdb.stop_server(server)
    if as_json:
        click.echo(json.dumps(res))
    else:
        w = max(map(len, res))
        for k, v in res.items():
            click.echo(f"{k:<{w}}  {v:,}" if isinstance(v, int | float) else f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
