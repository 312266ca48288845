"""Ingest benchmark against a real server: migrate vs a naive INSERT loop, and the reader.

Starts a TimescaleDB the way the tests do (Docker, else scripts/tsdb-local.sh as root), or uses --dsn.
Writes a synthetic 20-level SQLite file (lobkit sample-data) of --snapshots snapshots, then measures in one run:
``migrate`` (binary COPY on two connections; best of --repeat runs, each into a fresh database, after one
warm-up migration of a small file that loads the compiled COPY writer), a naive row-by-row INSERT loop on the
same kind of data (--naive-snapshots of them), and the reader (keyset-paged binary COPY of the packed levels,
to Polars, and to numpy arrays) with its peak memory (best of --repeat passes in a fresh process). The
machine's load average is reported: other work on the same CPUs changes every figure. The JSON also carries
the date (UTC) and the machine (CPU model, cores, memory, OS, Python), so that a figure is never quoted without
them; docs render their figures from it (``<!-- figures: benchmarks/results/ingest.json -->``).

    .venv/bin/python benchmarks/ingest.py --json
    .venv/bin/python benchmarks/ingest.py --out benchmarks/results/ingest.json

The JSON's ``targets`` hold what the figures are judged against (``pass``: met or not), and
``load_average_1min`` the 1-minute load average before and after the measurement.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg2
from psycopg2 import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _results import write_result  # noqa: E402  (benchmarks/_results.py)

from lobkit.data import localdb  # noqa: E402
from lobkit.data.migrate import migrate, naive_insert  # noqa: E402
from lobkit.data.sample import write_sample_db  # noqa: E402
from lobkit.data.stream import stream_db  # noqa: E402
from lobkit.data.timescale import DbConfig, init_db  # noqa: E402

# What the figures are judged against: snapshots/s of migrate and of the reader, and migrate's speed-up over a
# naive row-by-row INSERT loop.
TARGETS = {"migrate_snapshots_per_s": 50_000, "speedup_vs_naive": 20, "read_snapshots_per_s": 200_000}

_READ = r"""
import json, sys, time
def hwm_kb():  # this process's peak RSS; unlike ru_maxrss it does not inherit the parent's peak across exec
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
from lobkit.data.stream import stream_db, to_arrays
from lobkit.data.timescale import DbConfig
cfg = DbConfig(sys.argv[1]); chunk = int(sys.argv[2]); repeat = int(sys.argv[3])
rss_imports = hwm_kb()
t = time.perf_counter()
for _ in stream_db(cfg, chunk_size=chunk): break   # warm-up (compiled framing from the disk cache, connection)
warm_secs = time.perf_counter() - t
rss0 = hwm_kb()
best = best_arr = float("inf")
for _ in range(repeat):
    t = time.perf_counter(); n = 0
    for df in stream_db(cfg, chunk_size=chunk):
        n += df.height
    best = min(best, time.perf_counter() - t)
for _ in range(repeat):
    t = time.perf_counter(); m = 0
    for df in stream_db(cfg, chunk_size=chunk):
        a = to_arrays(df); m += len(a.mid)
    best_arr = min(best_arr, time.perf_counter() - t)
print(json.dumps({"n": n, "secs": best, "secs_arrays": best_arr, "warm_secs": warm_secs,
                  "rss_mb": hwm_kb() / 1024, "rss0_mb": rss0 / 1024,
                  "rss_imports_mb": rss_imports / 1024}))
"""


def _fresh(base: str, name: str) -> DbConfig:
    """A newly created database ``name`` (dropped first if a previous run left it) with the snapshot table."""
    conn = psycopg2.connect(base + "/postgres")
    conn.autocommit = True
    conn.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()
    cfg = DbConfig(base + "/" + name)
    init_db(cfg)
    return cfg


def machine() -> dict:
    """What the figures were measured on: CPU model, cores (physical and logical), memory, OS, Python."""
    model, cores = platform.processor() or platform.machine(), set()
    try:
        phys = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (x.strip() for x in line.partition(":"))
            if key == "model name":
                model = value
            elif key == "physical id":
                phys = value
            elif key == "core id":
                core = value
            elif not key and phys is not None:
                cores.add((phys, core))
                phys = core = None
        if phys is not None:
            cores.add((phys, core))
    except OSError:
        pass
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        mem_gb = None
    return {"cpu_model": model, "cores": len(cores) or os.cpu_count(), "logical_cpus": os.cpu_count(),
            "memory_gib": mem_gb, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _server_cpu(server) -> float | None:
    """CPU seconds used so far by the postgres processes of a server started by tsdb-local.sh (None otherwise):
    the postmaster with its reaped children, plus its live children."""
    if server is None or server.kind != "script":
        return None
    try:
        pm = int((Path(server.handle) / "postmaster.pid").read_text().split()[0])
        tck = os.sysconf("SC_CLK_TCK")

        def stat(pid) -> list[str]:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

        total = sum(int(x) for x in stat(pm)[11:15])
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    f = stat(d.name)
                except OSError:
                    continue
                if int(f[1]) == pm:
                    total += int(f[11]) + int(f[12])
        return total / tck
    except (OSError, ValueError):
        return None


@click.command()
@click.option("--dsn", default=None, help="Use this server (maintenance DSN) instead of starting one.")
@click.option("--snapshots", default=200_000, show_default=True, help="Snapshots in the synthetic source.")
@click.option("--naive-snapshots", default=5_000, show_default=True, help="Snapshots for the naive loop.")
@click.option("--batch-size", default=20_000, show_default=True)
@click.option("--chunk-size", default=50_000, show_default=True, help="Reader chunk size.")
@click.option("--connections", default=2, show_default=True, help="COPY connections of migrate.")
@click.option("--repeat", default=3, show_default=True, help="Best of this many migrate runs and reader passes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON object to this file (e.g. benchmarks/results/ingest.json).")
def main(dsn, snapshots, naive_snapshots, batch_size, chunk_size, connections, repeat, as_json, out):
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
            load_before = os.getloadavg()[0]
            warm = _fresh(base, "lobkit_bench_warm")
            migrate(write_sample_db(Path(tmp) / "warm.db", 500, seed=1, levels=20), warm, progress=False)
            runs = []
            for i in range(max(1, repeat)):
                cfg = _fresh(base, f"lobkit_bench_copy_{i}")
                c0, s0 = _cpu(), _server_cpu(server)
                s = migrate(src, cfg, batch_size=batch_size, progress=False, connections=connections)
                time.sleep(0.5)  # let the postmaster reap the backends before reading its children's CPU
                s1 = _server_cpu(server)
                runs.append((s.seconds, s, _cpu() - c0, None if s0 is None else s1 - s0, cfg))
                assert s.inserted == snapshots, s.lines()
            _, s, client_cpu, server_cpu, cfg = min(runs, key=lambda r: r[0])
            naive_cfg = _fresh(base, "lobkit_bench_naive")
            copy_small = _fresh(base, "lobkit_bench_copy_small")
            s_small = migrate(small, copy_small, batch_size=batch_size, progress=False, connections=connections)
            t = time.perf_counter()
            n_naive = naive_insert(small, naive_cfg)
            naive_secs = time.perf_counter() - t
            for _ in stream_db(cfg, chunk_size=1000):  # fill Numba's disk cache: the reader process loads it
                break
            r = json.loads(subprocess.run([sys.executable, "-c", _READ, cfg.dsn, str(chunk_size), str(repeat)],
                                          capture_output=True, text=True, check=True).stdout)
            res = {
                "benchmark": "ingest",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "snapshots": snapshots, "levels": 20, "batch_size": batch_size, "connections": connections,
                "repeat": repeat,
                "migrate_seconds": round(s.seconds, 3),
                "migrate_snapshots_per_s": round(s.snapshots_per_s),
                "migrate_runs_snapshots_per_s": [round(x[1].snapshots_per_s) for x in runs],
                "migrate_client_cpu_s": round(client_cpu, 2),
                "migrate_server_cpu_s": None if server_cpu is None else round(server_cpu, 2),
                "migrate_small_snapshots_per_s": round(s_small.snapshots_per_s),
                "naive_snapshots": n_naive,
                "naive_snapshots_per_s": round(n_naive / naive_secs),
                "speedup_vs_naive": round(s.snapshots_per_s / (n_naive / naive_secs), 1),
                "read_snapshots_per_s": round(r["n"] / r["secs"]),
                "read_to_arrays_snapshots_per_s": round(r["n"] / r["secs_arrays"]),
                "read_peak_mb": round(r["rss_mb"], 1),
                "read_peak_above_warm_mb": round(r["rss_mb"] - r["rss0_mb"], 1),
                "read_rss_after_imports_mb": round(r["rss_imports_mb"], 1),
                "read_warmup_seconds": round(r["warm_secs"], 2),
                "chunk_size": chunk_size,
                "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "server": server.kind if server else "given",
            }
            res["targets"] = dict(TARGETS)
            res["pass"] = {k: res[k] >= v for k, v in TARGETS.items()}
        finally:
            if server is not None:
                localdb.stop_server(server)
    if out is not None:
        try:
            write_result(out, res)
        except OSError as exc:
            raise click.ClickException(f"cannot write --out {out}: {exc.strerror}") from None
    if as_json:
        click.echo(json.dumps(res))
    else:
        w = max(map(len, res))
        for k, v in res.items():
            if isinstance(v, dict):
                v = ", ".join(f"{a} {b}" for a, b in v.items())
            click.echo(f"{k:<{w}}  {v:,}" if isinstance(v, int | float) else f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
