"""Sweep results: load the Parquet dataset, aggregate per configuration, rank, and draw the heatmap.

The table has one row per simulation (see :mod:`lobkit.sweeps.runner`). :func:`aggregate` gives one row
per configuration with, for the ranked metric (``final_pnl`` by default): ``n`` (successful runs),
``n_errors``, ``mean``, ``std`` (ddof 1), ``sem``, ``t_stat`` (``mean / sem``: how many standard errors
the mean PnL is from zero; null with fewer than two runs or zero spread), ``ci95_low``/``ci95_high`` (the
Student-t 95% confidence interval of the mean) and ``mean_<key>`` of every other numeric summary key
(``mean_n_trades``, ...); the statistics are :mod:`lobkit.stats`. :func:`write_heatmap` draws
``heatmap.png``: mean PnL and its t-statistic over two swept parameters, two annotated panels on a diverging
colormap centred on zero.

Reading a part that is not a readable results part (truncated, overwritten, not Parquet) raises
:class:`~lobkit.errors.InputFormatError` naming the file and what to do (delete it and ``--resume``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from lobkit import stats
from lobkit.errors import ConfigError, InputFormatError

_META = ("config_index", "repeat", "status", "error")
#: What to do about a results part that cannot be read (the configurations in it are run again).
PART_ADVICE = "delete it and run the same sweep with --resume to run its configurations again"


def _reason(exc: BaseException) -> str:
    """The first line of a reader's error, without the library's prefixes, for a one-line message."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    for prefix in ("parquet: ", "File out of specification: "):
        line = line.removeprefix(prefix)
    return line if len(line) <= 160 else line[:157] + "..."


def read_part(path: str | Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Read one results part (``results/part-*.parquet``), checking that it is one.

    ``columns``: read only these (default: all). Raises :class:`~lobkit.errors.InputFormatError` naming the
    file when it is not readable Parquet, lacks ``config_index``/``repeat``/``status``, or has a null or
    non-integer ``config_index`` or ``repeat``.
    """
    path = Path(path)
    cols = list(columns) if columns is not None else None
    try:
        df = pl.read_parquet(path, columns=cols)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except FileNotFoundError:
        raise InputFormatError(path, None, "disappeared while the sweep read it (is another process writing "
                                           "to this directory?)") from None
    except BaseException as exc:  # noqa: BLE001 - Polars raises ComputeError, OSError, even a Rust panic
        raise InputFormatError(path, None, f"not a readable results part ({_reason(exc)}); {PART_ADVICE}") from None
    need = [c for c in ("config_index", "repeat", "status") if cols is None or c in cols]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputFormatError(path, None, f"not a results part (no {', '.join(missing)} column); {PART_ADVICE}")
    for c in ("config_index", "repeat"):
        if c in df.columns and (not df.schema[c].is_integer() or df[c].null_count()):
            raise InputFormatError(path, None, f"not a results part (column {c} is not a non-null integer); "
                                               f"{PART_ADVICE}")
    return df


def part_files(out: str | Path) -> list[Path]:
    """The results parts of the sweep in ``out`` (``results/part-*.parquet``), in name order."""
    d = Path(out) / "results"
    return sorted(d.glob("part-*.parquet")) if d.is_dir() else []


def load_results(out: str | Path) -> pl.DataFrame:
    """Every finished simulation of the sweep in ``out``, sorted by ``(config_index, repeat)``.

    Part files may differ in columns (a configuration whose runs all failed has no summary columns);
    they are concatenated diagonally with types relaxed. An empty frame when nothing finished yet.
    Raises :class:`ConfigError` when ``out`` is not a sweep directory, and
    :class:`~lobkit.errors.InputFormatError` naming the part for a part that cannot be read or that repeats
    a configuration of another part.
    """
    parts = part_files(out)
    if not parts:
        if not (Path(out) / "sweep.json").exists():
            raise ConfigError(f"{out}: not a sweep directory (no sweep.json)")
        return pl.DataFrame(schema={"config_index": pl.Int64, "repeat": pl.Int64, "status": pl.String,
                                    "error": pl.String})
    frames, owner = [], {}
    for p in parts:
        df = read_part(p)
        for index in df["config_index"].unique().to_list():
            if index in owner:
                raise InputFormatError(p, None, f"holds configuration {index}, which {owner[index].name} holds "
                                                "too; delete the one that should not be there")
            owner[index] = p
        frames.append(df)
    try:
        df = pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise InputFormatError(Path(out) / "results", None, f"the parts do not fit together ({_reason(exc)})"
                               ) from None
    return df.sort("config_index", "repeat")


def param_names(out: str | Path) -> tuple[str, ...]:
    """The swept parameters of the sweep in ``out`` (from ``sweep.json``), in grid order."""
    from lobkit.sweeps.runner import read_manifest

    return tuple(read_manifest(out)["grid"])


def load_invalid(out: str | Path) -> pl.DataFrame:
    """The combinations the configuration rejected: ``config_index``, ``params`` (JSON), ``error``.

    Raises :class:`~lobkit.errors.InputFormatError` naming the file and line for a line that is not such a
    record.
    """
    p = Path(out) / "invalid.jsonl"
    rows = []
    if p.exists():
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise InputFormatError(p, None, "not a text file; run the sweep again with --resume to rewrite it"
                                   ) from None
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                row = (int(r["config_index"]), json.dumps(r["params"]), str(r["error"]))
            except (ValueError, TypeError, KeyError):
                raise InputFormatError(p, i, "not a record {config_index, params, error}; run the sweep again "
                                             "with --resume to rewrite the file") from None
            rows.append(row)
    return pl.DataFrame(
        {"config_index": [r[0] for r in rows], "params": [r[1] for r in rows], "error": [r[2] for r in rows]},
        schema={"config_index": pl.Int64, "params": pl.String, "error": pl.String},
    )


def _stats(metric: str, extra: Sequence[str]) -> list[pl.Expr]:
    ok = pl.col("status") == "ok"
    m = pl.col(metric).filter(ok).cast(pl.Float64)
    exprs = [
        ok.sum().cast(pl.Int64).alias("n"),
        (~ok).sum().cast(pl.Int64).alias("n_errors"),
        m.mean().alias("mean"),
        m.std(ddof=1).alias("std"),
        pl.col("error").drop_nulls().first().alias("first_error"),
    ]
    exprs += [pl.col(c).filter(ok).cast(pl.Float64).mean().alias(f"mean_{c}") for c in extra]
    return exprs


def _with_t(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``sem``, ``t_stat``, ``ci95_low`` and ``ci95_high`` (:mod:`lobkit.stats`; null where undefined)."""
    mean = df["mean"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    std = df["std"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    n = df["n"].to_numpy()
    half = stats.ci_halfwidth(std, n)

    def col(name: str, values) -> pl.Series:
        return pl.Series(name, np.asarray(values, dtype=np.float64), dtype=pl.Float64, nan_to_null=True)

    return df.with_columns(col("sem", stats.sem(std, n)), col("t_stat", stats.t_statistic(mean, std, n)),
                           col("ci95_low", mean - half), col("ci95_high", mean + half))


def _numeric_summary_cols(df: pl.DataFrame, params: Sequence[str], metric: str) -> list[str]:
    skip = set(_META) | set(params) | {metric}
    return [c for c, t in df.schema.items() if c not in skip and t.is_numeric()]


def aggregate(df: pl.DataFrame, params: Sequence[str], metric: str = "final_pnl") -> pl.DataFrame:
    """One row per configuration: parameters, ``n``, ``n_errors``, ``mean``, ``std``, ``sem``, ``t_stat``,
    ``ci95_low``, ``ci95_high``, ``first_error`` and ``mean_<key>`` of the other numeric summary keys; sorted by
    ``config_index``."""
    params = list(params)
    if df.is_empty():
        return pl.DataFrame(schema={"config_index": pl.Int64, **{p: pl.Null for p in params}, "n": pl.Int64,
                                    "n_errors": pl.Int64, "mean": pl.Float64, "std": pl.Float64,
                                    "sem": pl.Float64, "t_stat": pl.Float64, "ci95_low": pl.Float64,
                                    "ci95_high": pl.Float64, "first_error": pl.String})
    if metric not in df.columns:
        if (df["status"] == "ok").any():
            known = ", ".join(_numeric_summary_cols(df, params, ""))
            raise ConfigError(f"metric '{metric}' is not in the results (numeric columns: {known})")
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(metric))
    extra = _numeric_summary_cols(df, params, metric)
    agg = _with_t(df.group_by(["config_index", *params], maintain_order=True).agg(_stats(metric, extra)))
    head = ["config_index", *params, "n", "n_errors", "mean", "std", "sem", "t_stat", "ci95_low", "ci95_high"]
    return agg.select([*head, *(c for c in agg.columns if c not in head)]).sort("config_index")


def best_configs(summary: pl.DataFrame, k: int = 10, by: str = "mean") -> pl.DataFrame:
    """The ``k`` configurations with the highest ``by`` (``"mean"`` or ``"t_stat"``) among those with runs."""
    if by not in ("mean", "t_stat"):
        raise ConfigError(f"rank by 'mean' or 't_stat', got '{by}'")
    other = "t_stat" if by == "mean" else "mean"
    ranked = summary.filter(pl.col("n") > 0).sort([by, other], descending=True, nulls_last=True)
    return ranked.head(k)


def format_table(df: pl.DataFrame, params: Sequence[str], metric: str = "final_pnl") -> str:
    """A plain-text table of configurations (the CLI prints it)."""
    cols = [*params, "n", "mean", "std", "t_stat"]
    cols += [c for c in ("mean_n_trades", "n_errors") if c in df.columns]
    heads = [*params, "n", f"mean {metric}", "std", "t", "trades", "errors"][: len(cols)]

    def fmt(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
        return str(v)

    body = [[fmt(v) for v in row] for row in df.select(cols).iter_rows()]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- heatmap


def _axis_values(grid, name: str, present: Sequence) -> list:
    if grid is not None and name in grid.names:
        return list(grid.axes[grid.names.index(name)].values)
    return sorted(set(present))


def heatmap_cells(df: pl.DataFrame, x: str, y: str | None, metric: str = "final_pnl", grid=None):
    """Per-cell mean, t-statistic and n over parameters ``x`` (columns) and ``y`` (rows; None: one row).

    Runs of all other swept parameters are pooled into their cell. Returns ``(xs, ys, mean, t, n,
    errors)`` with NaN where a cell has no successful run (an invalid combination, or only errors).
    """
    keys = [x] if y is None else [x, y]
    ok = pl.col("status") == "ok"
    m = pl.col(metric).filter(ok).cast(pl.Float64)
    cells = df.group_by(keys).agg(m.mean().alias("mean"), m.std(ddof=1).alias("std"),
                                  ok.sum().alias("n"), (~ok).sum().alias("n_errors"))
    xs = _axis_values(grid, x, df[x].to_list() if x in df.columns else [])
    ys = [None] if y is None else _axis_values(grid, y, df[y].to_list() if y in df.columns else [])
    mean = np.full((len(ys), len(xs)), np.nan)
    tstat = np.full_like(mean, np.nan)
    n = np.zeros_like(mean, dtype=np.int64)
    errors = np.zeros_like(n)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for row in cells.iter_rows(named=True):
        i, j = yi.get(row[y] if y else None), xi.get(row[x])
        if i is None or j is None:
            continue
        mean[i, j] = row["mean"] if row["mean"] is not None else np.nan
        n[i, j] = row["n"]
        errors[i, j] = row["n_errors"]
        s = row["std"]
        if row["mean"] is not None and s is not None:
            tstat[i, j] = stats.t_statistic(row["mean"], s, row["n"])
    return xs, ys, mean, tstat, n, errors


def choose_heatmap_params(grid) -> tuple[str, str | None]:
    """The first two swept parameters with more than one value (the second None if there is only one)."""
    multi = [a.name for a in grid.axes if len(a.values) > 1] or [grid.axes[0].name]
    return multi[0], (multi[1] if len(multi) > 1 else None)


def _blank_label(n: int, errors: int) -> str:
    """Why a heatmap cell has no value: never run or invalid, every run failed, too few runs, or no spread."""
    if not n:
        return "error" if errors else "n/a"
    return "n<2" if n < 2 else "sd=0"


def plot_heatmap(df: pl.DataFrame, path: str | Path, x: str, y: str | None, metric: str = "final_pnl",
                 grid=None, title: str | None = None) -> Path:
    """Draw mean ``metric`` and its t-statistic over ``x`` and ``y``: two annotated panels, a diverging
    colormap centred on zero. Grey cells: ``n/a`` (invalid combination, or not run yet), ``error`` (every
    run raised), ``n<2`` (a t-statistic needs two runs), ``sd=0`` (two or more runs, all with the same value: the
    t-statistic is undefined). Writes ``path`` (PNG) and returns it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    xs, ys, mean, tstat, n, errors = heatmap_cells(df, x, y, metric, grid)
    others = [c for c in (grid.names if grid is not None else ()) if c not in (x, y)]
    ncols, nrows = len(xs), len(ys)
    w = min(22.0, 2.0 + 2 * max(3.0, 0.75 * ncols))
    h = min(14.0, 1.8 + max(1.2, 0.55 * nrows))
    fig, axes = plt.subplots(1, 2, figsize=(w, h), constrained_layout=True)
    annotate = ncols * nrows <= 400
    for ax, data, label, fmt in ((axes[0], mean, f"mean {metric}", "{:.3g}"),
                                 (axes[1], tstat, "t-statistic of the mean", "{:.2f}")):
        finite = np.abs(data[np.isfinite(data)])
        lim = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        cmap = plt.get_cmap("RdBu").with_extremes(bad="#d9d9d9")
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, norm=Normalize(-lim, lim), aspect="auto",
                       origin="lower", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.9)
        ax.set_xticks(range(ncols), [_label(v) for v in xs], rotation=45 if ncols > 8 else 0)
        ax.set_yticks(range(nrows), [_label(v) for v in ys] if y else [""])
        ax.set_xlabel(x)
        if y:
            ax.set_ylabel(y)
        ax.set_title(label)
        if annotate:
            for i in range(nrows):
                for j in range(ncols):
                    v = data[i, j]
                    txt = fmt.format(v) if np.isfinite(v) else _blank_label(n[i, j], errors[i, j])
                    color = "white" if np.isfinite(v) and abs(v) > 0.6 * lim else "black"
                    ax.text(j, i, txt, ha="center", va="center", fontsize=8, color=color)
    note = f" (pooled over {', '.join(others)})" if others else ""
    fig.suptitle((title or f"sweep: {metric}") + note)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # a temporary file, then a rename: a stop mid-drawing never leaves half a PNG
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def _label(v) -> str:
    s = str(v)
    return s if len(s) <= 16 else "…" + s[-15:]


def write_heatmap(out: str | Path, grid=None, metric: str = "final_pnl",
                  params: tuple[str, str | None] | None = None) -> Path | None:
    """Write ``out/heatmap.png`` from the sweep's results; None when there is nothing to plot.

    ``params``: the ``(x, y)`` swept parameters (``y`` None: one row); default :func:`choose_heatmap_params`.
    """
    from lobkit.sweeps.grid import Grid
    from lobkit.sweeps.runner import manifest_grid

    out = Path(out)
    if grid is None:
        grid = manifest_grid(out)
    if not isinstance(grid, Grid):
        raise ConfigError(f"heatmap: grid must be a Grid, got {type(grid).__name__}")
    df = load_results(out)
    if df.is_empty() or metric not in df.columns or not (df["status"] == "ok").any():
        return None
    if params is not None:
        x, y = params
        for p in filter(None, params):
            if p not in grid.names:
                raise ConfigError(f"heatmap: '{p}' is not a swept parameter ({', '.join(grid.names)})")
    else:
        x, y = choose_heatmap_params(grid)
    return plot_heatmap(df, out / "heatmap.png", x, y, metric=metric, grid=grid)
