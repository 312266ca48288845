"""Order-book engine benchmark: ``python benchmarks/engine.py [--json] [--out FILE] [--runs N] [--messages N]``.

Measured after JIT warm-up, single-threaded (one core), best of ``--runs`` timed runs (the machine is shared,
so timings fluctuate; the best run is the least disturbed one). Message arrays and book state are prepared
before timing; each timed run starts from a fresh, empty book. Every stream goes through ``nb.apply_batch``
with the engine's full bookkeeping: order ids (the id index), owners, and a fill record per fill.

* ``liquibook``: the 5M-order standard stream (``bench/liquibook-5m-limit-stream.npz`` in the shared data);
  the fill count and traded volume are asserted exact (2,297,421 fills, 697,199,900 shares).
* ``mix``: a synthetic stream in the style of exchange-core's benchmark (~82% modify-price, 9% limit, 3% IOC,
  6% cancel; ~1,000 resting orders over ~730 levels; ~6% of the messages trade).
* ``match``: a stream with a high match rate (~42% of the messages trade, ~0.7 fills per message).
* ``replay``: ``lobkit.engine.lobster.replay_throughput`` on the largest shared LOBSTER file.
* ``*_apply_*_per_s``: the same three streams through :meth:`OrderBook.apply`, the facade users call (it checks
  every message, returns every status, quantity and fill, and keeps the auto ids in step), each run on a fresh
  book built before timing; ``liquibook_apply_vs_kernel`` is the bare kernel's rate over the facade's.
* the same three streams through :class:`ReferenceBook` (on a prefix: it is ~100x slower), and the ratio.
* ``*_per_cpu_s``: the same best runs per second of CPU time the process was actually given: on a shared,
  loaded machine this is the better estimate of one core's speed; the targets are judged on wall time.
* ``compile_seconds_cold``/``_warm``: a fresh interpreter importing the engine and running every kernel once,
  with an empty ``NUMBA_CACHE_DIR`` (compiles) and again with the same directory (loads the cache).
* ``date`` (UTC, ISO 8601) and ``machine`` (CPU model, cores, system, Python, NumPy, Numba) say where and when;
  ``load_average_1min`` (before, after) how busy the shared machine was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _results import positive_int, write_result  # noqa: E402  (benchmarks/_results.py)

from lobkit.engine import OrderBook, nb  # noqa: E402
from lobkit.engine.messages import MESSAGE_DTYPE, OP_LIMIT, message_columns  # noqa: E402
from lobkit.engine.reference import ReferenceBook  # noqa: E402
from lobkit.engine.state import M_NFILLS, M_TOTAL_FILLS, M_TOTAL_VOLUME, alloc_state  # noqa: E402
from lobkit.engine.synthetic import synthetic_flow  # noqa: E402
from lobkit.paths import shared_data_dir  # noqa: E402

LIQUIBOOK_FILLS = 2_297_421
LIQUIBOOK_SHARES = 697_199_900
TARGETS = {
    "liquibook_orders_per_s": 30e6,
    "replay_messages_per_s": 20e6,
    "mix_messages_per_s": 10e6,
    "match_messages_per_s": 10e6,
}
APPLY_VS_KERNEL = 1.5  # OrderBook.apply within 1.5x of the bare kernel on the liquibook stream
FLOW_SEED = 20240601
# The facade's liquibook book: the stream rests at most 2,465,112 orders at once.
LIQUIBOOK_CAPACITY = 2**22


def cpu_model() -> str:
    """The CPU's model name (lscpu, else /proc/cpuinfo, else what platform knows)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict:
    """Where the figures were measured: CPU model, logical cores, system and the versions that matter."""
    import numba

    m = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }
    m["description"] = (f"{m['cpu_model']}, {m['cores']} cores, {m['system']}, Python {m['python']}, "
                        f"NumPy {m['numpy']}, Numba {m['numba']}")  # fmt: skip
    return m


def run_engine(cols: dict, capacity: int, window: int, base: int, fill_capacity: int, runs: int) -> dict:
    """Best of ``runs`` timed ``apply_batch`` passes over the columns, each on a fresh book. Fill records are
    drained into a preallocated output array whenever the buffer asks (FILLS_FULL), as a caller would."""
    n = len(cols["op"])
    out_status = np.zeros(n, dtype=np.int8)
    out_qty = np.zeros(n, dtype=np.int64)
    best = best_cpu = float("inf")
    res = {}
    sink = np.empty((n, 8), dtype=np.int64)  # where drained fill records go (grown if ever too small)
    for _ in range(runs):
        st = alloc_state(capacity, window, fill_capacity, base)
        drained = 0
        t0 = time.perf_counter()
        c0 = time.process_time()
        i = 0
        while True:
            i, s = nb.apply_batch(
                st, cols["ts"], cols["op"], cols["side"], cols["flags"], cols["price"], cols["size"], cols["oid"],
                cols["owner"], out_status, out_qty, i, False,
            )  # fmt: skip
            if i >= n:
                break
            k = int(st.meta[M_NFILLS])  # FILLS_FULL: keep the records, empty the buffer, resume
            if drained + k > len(sink):
                sink = np.resize(sink, (2 * (drained + k), 8))
            sink[drained : drained + k] = st.fills[:k]
            drained += k
            st.meta[M_NFILLS] = 0
        dt = time.perf_counter() - t0
        best_cpu = min(best_cpu, time.process_time() - c0)
        if dt < best:
            best = dt
            res = {
                "seconds": dt,
                "fills": int(st.meta[M_TOTAL_FILLS]),
                "volume": int(st.meta[M_TOTAL_VOLUME]),
                "errors": int(np.count_nonzero(out_status)),
            }
    res["messages"] = n
    res["per_s"] = n / res["seconds"]
    res["per_cpu_s"] = n / best_cpu  # per second of CPU time actually given to us (the machine is shared)
    return res


def run_facade(msgs: np.ndarray, runs: int, **book_kw) -> dict:
    """Best of ``runs`` timed :meth:`OrderBook.apply` calls (strict, the default) over the whole message array,
    each on a fresh book built before timing."""
    best = best_cpu = float("inf")
    res = {}
    for _ in range(runs):
        book = OrderBook(keep_fills=False, **book_kw)
        t0 = time.perf_counter()
        c0 = time.process_time()
        r = book.apply(msgs)
        elapsed = time.perf_counter() - t0
        best_cpu = min(best_cpu, time.process_time() - c0)
        if elapsed < best:
            best = elapsed
            res = {"seconds": elapsed, "fills": len(r.fills), "volume": int(r.fills["size"].sum())}
        del r, book
    res["messages"] = len(msgs)
    res["per_s"] = len(msgs) / res["seconds"]
    res["per_cpu_s"] = len(msgs) / best_cpu
    return res


def run_reference(msgs: np.ndarray, prefix: int, **kw) -> dict:
    m = msgs[:prefix]
    book = ReferenceBook(keep_fills=False, **kw)
    t0 = time.perf_counter()
    r = book.apply(m, strict=False)
    dt = time.perf_counter() - t0
    return {"messages": len(m), "seconds": dt, "per_s": len(m) / dt, "fills": len(r.fills)}


def liquibook_messages(path: Path) -> np.ndarray:
    d = np.load(path)
    n = len(d["side"])
    m = np.zeros(n, dtype=MESSAGE_DTYPE)
    m["op"], m["side"], m["price"], m["size"] = OP_LIMIT, d["side"], d["price"], d["qty"]
    m["oid"] = np.arange(1, n + 1)
    m["owner"] = m["oid"] % 16
    m["ts"] = np.arange(n)
    return m


def compile_times() -> tuple[float, float]:
    """Seconds for a fresh interpreter to import the engine and run every kernel once: cold (empty Numba
    cache directory: everything compiles) and warm (the same directory again: loaded from the cache)."""
    code = (
        "import time; t = time.perf_counter()\n"
        "import numpy as np\n"
        "from lobkit.engine import OrderBook, MESSAGE_DTYPE\n"
        "from lobkit.engine.synthetic import synthetic_flow\n"
        "b = OrderBook(capacity=64, window=128, center=100)\n"
        "b.limit(1, 99, 5); b.limit(-1, 101, 5); b.market(-1, 1); o = b.limit(-1, 102, 3).oid\n"
        "b.modify(o, price=103); b.reduce(o, 1); b.execute(o, 1); b.cancel(o); b.l2(5); b.l3(); b.check()\n"
        "b.apply(synthetic_flow(1000, 'mix', 1)[0], strict=False)\n"
        "print(time.perf_counter() - t)\n"
    )
    out = []
    with tempfile.TemporaryDirectory(prefix="lobkit-numba-cache-") as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d, PYTHONPATH=str(ROOT))
        for _ in range(2):
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
            if p.returncode != 0:
                raise RuntimeError(f"compile-time subprocess failed:\n{p.stderr}")
            out.append(float(p.stdout.strip().splitlines()[-1]))
    return out[0], out[1]


def replay() -> tuple[float | None, str]:
    try:
        from lobkit.engine.lobster import replay_throughput
    except ImportError as exc:
        return None, f"lobkit.engine.lobster.replay_throughput is not available ({exc})"
    files = sorted((shared_data_dir() / "lobster").glob("*.zip"), key=lambda p: p.stat().st_size)
    if not files:
        return None, f"no LOBSTER sample file in {shared_data_dir() / 'lobster'}"
    r = replay_throughput(files[-1])
    return float(r["messages_per_s"]), f"{files[-1].name}: {r['messages']} messages, best of {r['repeats']}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None,
                    help="also write the JSON object to this file (e.g. benchmarks/results/engine.json)")
    ap.add_argument("--runs", type=positive_int, default=5, help="timed runs per stream; the best counts (default 5)")
    ap.add_argument("--messages", type=positive_int, default=5_000_000, help="messages per synthetic stream")
    ap.add_argument("--reference-prefix", type=positive_int, default=200_000, help="messages given to ReferenceBook")
    ap.add_argument("--skip-compile", action="store_true", help="do not measure compile times")
    a = ap.parse_args(argv)
    if a.out is not None:
        try:
            a.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            ap.error(f"--out {a.out}: cannot create its directory ({exc.strerror})")
        if a.out.is_dir():
            ap.error(f"--out {a.out} is a directory")
    notes = []
    load_before = os.getloadavg()[0]
    out: dict = {
        "benchmark": "engine",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": a.runs,
        "threads": 1,
    }

    lb_path = shared_data_dir() / "bench" / "liquibook-5m-limit-stream.npz"
    lb = liquibook_messages(lb_path)
    lbc = message_columns(lb)
    run_engine({k: v[:1000] for k, v in lbc.items()}, 1000, 1024, 1500, 1000, 1)  # JIT warm-up
    r = run_engine(lbc, len(lb), 1024, 1500, len(lb), a.runs)
    if (r["fills"], r["volume"]) != (LIQUIBOOK_FILLS, LIQUIBOOK_SHARES):
        raise SystemExit(f"liquibook stream gave {r['fills']} fills / {r['volume']} shares, expected "
                         f"{LIQUIBOOK_FILLS} / {LIQUIBOOK_SHARES}")  # fmt: skip
    out["liquibook_orders_per_s"] = r["per_s"]
    out["liquibook_orders_per_cpu_s"] = r["per_cpu_s"]
    out["liquibook_fills"], out["liquibook_shares"] = r["fills"], r["volume"]
    OrderBook(capacity=1000, window=1024, keep_fills=False).apply(lb[:1000])  # JIT warm-up of the facade
    f = run_facade(lb, a.runs, capacity=LIQUIBOOK_CAPACITY, window=1024)
    if (f["fills"], f["volume"]) != (LIQUIBOOK_FILLS, LIQUIBOOK_SHARES):
        raise SystemExit(f"OrderBook.apply on the liquibook stream gave {f['fills']} fills / {f['volume']} shares")
    out["liquibook_apply_orders_per_s"] = f["per_s"]
    out["liquibook_apply_orders_per_cpu_s"] = f["per_cpu_s"]
    out["liquibook_apply_vs_kernel"] = out["liquibook_orders_per_s"] / f["per_s"]
    ref_lb = run_reference(lb, a.reference_prefix)
    out["reference_liquibook_orders_per_s"] = ref_lb["per_s"]

    for kind in ("mix", "match"):
        msgs, info = synthetic_flow(a.messages, kind, FLOW_SEED)
        c = message_columns(msgs)
        r = run_engine(c, 100_000, 4096, 100_000 - 2048, 1 << 20, a.runs)
        if r["errors"]:
            raise SystemExit(f"{kind}: {r['errors']} messages failed; a generated flow must be valid")
        out[f"{kind}_messages_per_s"] = r["per_s"]
        out[f"{kind}_messages_per_cpu_s"] = r["per_cpu_s"]
        out[f"{kind}_messages"] = r["messages"]
        out[f"{kind}_fills"] = r["fills"]
        out[f"{kind}_trade_share"] = round(info["trade_share"], 4)
        out[f"{kind}_shares"] = {k[:-6]: round(v, 4) for k, v in info.items() if k.endswith("_share")}
        f = run_facade(msgs, a.runs, capacity=100_000, window=4096, center=100_000)
        if f["fills"] != r["fills"]:
            raise SystemExit(f"{kind}: OrderBook.apply gave {f['fills']} fills, the bare kernel {r['fills']}")
        out[f"{kind}_apply_messages_per_s"] = f["per_s"]
        out[f"{kind}_apply_messages_per_cpu_s"] = f["per_cpu_s"]
        out[f"{kind}_apply_vs_kernel"] = r["per_s"] / f["per_s"]
        ref = run_reference(msgs, a.reference_prefix, capacity=100_000, window=4096, center=100_000)
        out[f"reference_{kind}_messages_per_s"] = ref["per_s"]
        out[f"{kind}_speedup_vs_reference"] = r["per_s"] / ref["per_s"]
    out["liquibook_speedup_vs_reference"] = out["liquibook_orders_per_s"] / ref_lb["per_s"]
    out["reference_prefix"] = a.reference_prefix
    notes.append(f"ReferenceBook runs on the first {a.reference_prefix:,} messages of each stream (it is slow)")

    rp, note = replay()
    out["replay_messages_per_s"] = rp
    out["replay_file"] = note
    if rp is None:
        notes.append(note)

    if a.skip_compile:
        out["compile_seconds_cold"] = out["compile_seconds_warm"] = None
    else:
        out["compile_seconds_cold"], out["compile_seconds_warm"] = compile_times()
    out["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]  # before, after
    out["targets"] = {k: v for k, v in TARGETS.items()}
    out["targets"]["liquibook_apply_vs_kernel_at_most"] = APPLY_VS_KERNEL
    out["pass"] = {k: (out[k] is not None and out[k] >= v) for k, v in TARGETS.items()}
    out["pass"]["liquibook_apply_vs_kernel_at_most"] = out["liquibook_apply_vs_kernel"] <= APPLY_VS_KERNEL
    out["notes"] = notes

    text = json.dumps(out, indent=None)
    if a.out is not None:
        try:
            write_result(a.out, out)
        except OSError as exc:
            print(f"benchmarks/engine.py: cannot write --out {a.out}: {exc.strerror}", file=sys.stderr)
            return 1
    if a.json:
        print(text)
        return 0
    print(f"lobkit engine benchmark ({out['machine']['description']}; {out['date']}; single-threaded, "
          f"best of {a.runs})")  # fmt: skip
    rows = [
        ("liquibook 5M limit stream", "liquibook_orders_per_s", "orders/s"),
        ("LOBSTER replay", "replay_messages_per_s", "msgs/s"),
        ("exchange-core style mix", "mix_messages_per_s", "msgs/s"),
        ("high-match stream", "match_messages_per_s", "msgs/s"),
    ]
    for label, key, unit in rows:
        v = out[key]
        shown = "n/a" if v is None else f"{v / 1e6:8.2f} M {unit}"
        status = "pass" if out["pass"][key] else "MISS"
        print(f"  {label:28s} {shown:>20s}   target >= {TARGETS[key] / 1e6:.0f} M   {status}")
    print(f"  liquibook fills / shares     {out['liquibook_fills']:,} / {out['liquibook_shares']:,} (exact)")
    for kind, unit in (("liquibook", "orders"), ("mix", "messages"), ("match", "messages")):
        v = out[f"{kind}_apply_{unit}_per_s"]
        ratio = out[f"{kind}_apply_vs_kernel"]
        print(f"  OrderBook.apply {kind:12s} {v / 1e6:8.2f} M {unit}/s   the bare kernel is {ratio:.2f}x faster")
    for kind, key in (("liquibook", "liquibook_orders_per_s"), ("mix", "mix_messages_per_s"),
                      ("match", "match_messages_per_s")):  # fmt: skip
        rk = "reference_liquibook_orders_per_s" if kind == "liquibook" else f"reference_{kind}_messages_per_s"
        print(f"  ReferenceBook {kind:14s} {out[rk] / 1e6:8.3f} M msgs/s   engine is {out[key] / out[rk]:6.0f}x faster")
    if out["compile_seconds_cold"] is not None:
        print(f"  compile (fresh cache)        {out['compile_seconds_cold']:8.2f} s")
        print(f"  warm start (cached)          {out['compile_seconds_warm']:8.2f} s")
    print(f"  per CPU-second (time actually scheduled): liquibook {out['liquibook_orders_per_cpu_s'] / 1e6:.2f} M, "
          f"mix {out['mix_messages_per_cpu_s'] / 1e6:.2f} M, match {out['match_messages_per_cpu_s'] / 1e6:.2f} M; "
          f"load average {out['load_average_1min'][0]:.1f} before, {out['load_average_1min'][1]:.1f} after, on "
          f"{os.cpu_count()} cores")  # fmt: skip
    for n in notes:
        print(f"  note: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
