"""How realistic are generated books? (``lobkit eval-wgan``)

Generated books (turned back into prices and quantities) are compared with real snapshots held out of training
(every fifth block of 100 snapshots by default: interleaved, so that hours of drift do not pass for model error).
Every generated book counts, one-sided ones too (their missing side has no price, which the classifier sees).
The same figures are computed for three references: the real training snapshots themselves (the noise floor),
books whose levels are drawn independently from random real books, and a per-level Gaussian fit.

* **Marginals** in the manner of LOB-Bench (Nagy et al. 2025): the spread (ticks), the volume at each of the first 10
  levels of each side, the depth imbalance of the top 5 levels ``(bid - ask) / (bid + ask)``, the total depth of the
  top 10; each as the total variation ``sum |p - q| / 2`` between histograms on common bins (50 equal bins over the
  pooled 1st to 99th percentiles, plus one bin each side for the rest; one bin per tick for the spread) and as the
  Wasserstein-1 distance over the pooled standard deviation.
* **Joint structure**: ``corr_distance``, the root mean square difference of the off-diagonal entries of the
  correlation matrices of the 20 log level volumes; and a classifier two-sample test (``c2st``): scikit-learn's
  ``HistGradientBoostingClassifier``, 5-fold cross-validated accuracy at telling the books from the held-out real
  ones, on the price offsets from the mid (ticks) and the log quantities of the top 10 levels a side (a missing
  level is missing, which the classifier handles). 0.5: indistinguishable; 1: always told apart.
* **Memorisation**: ``nn_ratio``, the median distance from a generated book to its nearest training book over the
  same for held-out real books (standardised features, missing values at the training mean). A generator that
  copies its training set scores far below 1.

Targets: ``c2st`` at most 0.60, ``corr_distance`` below both naive references, ``nn_ratio`` at least 0.8.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lobkit.errors import ConfigError

LEVELS = 10
TARGET_C2ST = 0.60
TARGET_NN_RATIO = 0.8
#: Fewer generated books than this cannot be told from real ones (the classifier's leaves hold 20 books each).
MIN_GENERATED = 200


@dataclass(frozen=True)
class BookFeatures:
    """The top ``LEVELS`` levels a side of n books: offsets from the mid in ticks (bids negative) and quantities;
    NaN where a book has fewer levels."""

    bid_off: np.ndarray
    ask_off: np.ndarray
    bid_q: np.ndarray
    ask_q: np.ndarray

    def __len__(self) -> int:
        return self.bid_off.shape[0]

    @classmethod
    def of_books(cls, books, tick_size: float, levels: int = LEVELS) -> BookFeatures:
        """From :class:`~lobkit.data.stream.BookArrays` (exact half-tick offsets from each book's own mid)."""
        mid_t = np.round(np.asarray(books.mid, np.float64) / tick_size * 2.0) / 2.0
        k = min(levels, books.bid_ticks.shape[1])
        j = np.arange(levels)[None, :]
        bid_p = books.bid_ticks[:, :k] + np.ceil(mid_t)[:, None]
        ask_p = books.ask_ticks[:, :k] + np.floor(mid_t)[:, None]

        def pad(a):
            return np.pad(a.astype(np.float64), ((0, 0), (0, levels - k)), constant_values=np.nan)

        has_b = j < np.minimum(books.n_bids, levels)[:, None]
        has_a = j < np.minimum(books.n_asks, levels)[:, None]
        return cls(np.where(has_b, pad(bid_p - mid_t[:, None]), np.nan),
                   np.where(has_a, pad(ask_p - mid_t[:, None]), np.nan),
                   np.where(has_b, pad(books.bid_vol[:, :k]), np.nan),
                   np.where(has_a, pad(books.ask_vol[:, :k]), np.nan))

    def take(self, idx) -> BookFeatures:
        return BookFeatures(self.bid_off[idx], self.ask_off[idx], self.bid_q[idx], self.ask_q[idx])

    def matrix(self) -> np.ndarray:
        """``(n, 40)``: bid offsets, ask offsets, log bid quantities, log ask quantities."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.hstack([self.bid_off, self.ask_off, np.log(self.bid_q), np.log(self.ask_q)])

    # --- the marginals ------------------------------------------------------------------------------------
    def spread(self) -> np.ndarray:
        return self.ask_off[:, 0] - self.bid_off[:, 0]

    def imbalance(self, k: int = 5) -> np.ndarray:
        b, a = np.nansum(self.bid_q[:, :k], axis=1), np.nansum(self.ask_q[:, :k], axis=1)
        with np.errstate(invalid="ignore"):
            return (b - a) / (b + a)

    def depth(self, k: int = 10) -> np.ndarray:
        return np.nansum(self.bid_q[:, :k], axis=1) + np.nansum(self.ask_q[:, :k], axis=1)

    def marginals(self) -> dict[str, np.ndarray]:
        out = {"spread": self.spread()}
        for i in range(self.bid_q.shape[1]):
            out[f"bid_volume_{i + 1}"] = self.bid_q[:, i]
        for i in range(self.ask_q.shape[1]):
            out[f"ask_volume_{i + 1}"] = self.ask_q[:, i]
        out["imbalance_5"] = self.imbalance(5)
        out["depth_10"] = self.depth(10)
        return out


def concat(*fs: BookFeatures) -> BookFeatures:
    return BookFeatures(*(np.concatenate([getattr(f, a) for f in fs]) for a in ("bid_off", "ask_off", "bid_q",
                                                                                 "ask_q")))


# ------------------------------------------------------------------------------------------------ references
def independent_levels(train: BookFeatures, n: int, rng: np.random.Generator) -> BookFeatures:
    """Books whose every level (offset and quantity) comes from an independently drawn random training book."""
    m = len(train)
    cols = {a: np.empty((n, train.bid_off.shape[1])) for a in ("bid_off", "ask_off", "bid_q", "ask_q")}
    for side in ("bid", "ask"):
        for j in range(train.bid_off.shape[1]):
            pick = rng.integers(0, m, n)
            cols[f"{side}_off"][:, j] = getattr(train, f"{side}_off")[pick, j]
            cols[f"{side}_q"][:, j] = getattr(train, f"{side}_q")[pick, j]
    return BookFeatures(**cols)


def gaussian_levels(train: BookFeatures, n: int, rng: np.random.Generator) -> BookFeatures:
    """A per-level Gaussian fit: each level's (offset, log quantity) drawn from the bivariate normal fitted to that
    level in the training books, independently across levels."""
    cols = {a: np.full((n, train.bid_off.shape[1]), np.nan) for a in ("bid_off", "ask_off", "bid_q", "ask_q")}
    for side in ("bid", "ask"):
        off, q = getattr(train, f"{side}_off"), getattr(train, f"{side}_q")
        for j in range(off.shape[1]):
            ok = np.isfinite(off[:, j]) & np.isfinite(q[:, j])
            if ok.sum() < 3:
                continue
            x = np.stack([off[ok, j], np.log(q[ok, j])], axis=1)
            draw = rng.multivariate_normal(x.mean(axis=0), np.cov(x.T), n)
            cols[f"{side}_off"][:, j] = draw[:, 0]
            cols[f"{side}_q"][:, j] = np.exp(draw[:, 1])
    return BookFeatures(**cols)


# ------------------------------------------------------------------------------------------------ distances
def total_variation(a: np.ndarray, b: np.ndarray, integer: bool = False) -> float:
    """``sum |p - q| / 2`` between the histograms of ``a`` and ``b`` on common bins (NaNs left out)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    pooled = np.concatenate([a, b])
    if integer:
        lo, hi = math.floor(pooled.min()), math.ceil(pooled.max())
        edges = np.arange(lo - 0.25, hi + 0.75, 0.5)  # half-tick values each in a bin of their own
    else:
        lo, hi = np.percentile(pooled, [1, 99])
        if hi <= lo:
            hi = lo + 1e-12
        edges = np.concatenate([[-np.inf], np.linspace(lo, hi, 51), [np.inf]])
    p = np.histogram(a, edges)[0] / len(a)
    q = np.histogram(b, edges)[0] / len(b)
    return float(np.abs(p - q).sum() / 2)


def w1_over_std(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between ``a`` and ``b`` over their pooled standard deviation."""
    from scipy.stats import wasserstein_distance

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    sd = float(np.concatenate([a, b]).std())
    return float(wasserstein_distance(a, b) / sd) if sd > 0 else 0.0


def corr_distance(a: BookFeatures, b: BookFeatures) -> float:
    """Root mean square difference of the off-diagonal entries of the two log-volume correlation matrices."""
    ca, cb = _pairwise_corr(a), _pairwise_corr(b)
    diff = (ca - cb)[~np.eye(ca.shape[0], dtype=bool)]
    diff = diff[np.isfinite(diff)]
    return float(np.sqrt(np.mean(diff ** 2))) if len(diff) else float("nan")


def _pairwise_corr(f: BookFeatures) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(np.hstack([f.bid_q, f.ask_q]))
    k = x.shape[1]
    c = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            ok = np.isfinite(x[:, i]) & np.isfinite(x[:, j])
            if ok.sum() > 2 and x[ok, i].std() > 0 and x[ok, j].std() > 0:
                c[i, j] = c[j, i] = np.corrcoef(x[ok, i], x[ok, j])[0, 1]
            else:
                c[i, j] = c[j, i] = np.nan
    return c


def c2st(a: BookFeatures, b: BookFeatures, seed: int = 0, folds: int = 5, groups_a: np.ndarray | None = None,
         groups_b: np.ndarray | None = None) -> float:
    """Cross-validated accuracy of a classifier telling ``a`` from ``b`` (equal numbers of each).

    Consecutive snapshots are nearly the same book, so real books carry their time block as a group
    (``groups_a``/``groups_b``: equal values never straddle a training and a test fold); without this the
    classifier would recognise the blocks, not the distribution (real vs real would score near 1, not 0.5).
    Books without a group (generated ones) are independent samples: each is its own group."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

    n = min(len(a), len(b))
    if n < 2 * folds:
        raise ConfigError(f"the classifier test needs at least {2 * folds} books a side, got {n}")
    rng = np.random.default_rng(seed)
    pa, pb = rng.permutation(len(a))[:n], rng.permutation(len(b))[:n]
    x = np.vstack([a.matrix()[pa], b.matrix()[pb]])
    y = np.r_[np.zeros(n), np.ones(n)]
    # groups: the given ones (offset so that the two sets never share one), else one per book
    ga = groups_a[pa] if groups_a is not None else np.arange(n) + 2 * 10**9
    gb = groups_b[pb] + 10**9 if groups_b is not None else np.arange(n) + 3 * 10**9
    groups = np.r_[ga, gb]
    x[~np.isfinite(x)] = np.nan
    # a column with fewer than two distinct values (levels that neither set has, as in a 1-level LOBSTER file) is
    # replaced by whether it is present: scikit-learn cannot bin an all-missing column
    for j in range(x.shape[1]):
        col = x[:, j]
        if len(np.unique(col[np.isfinite(col)])) < 2:
            x[:, j] = np.isfinite(col).astype(np.float64)
    clf = HistGradientBoostingClassifier(random_state=seed)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv, groups=groups, scoring="accuracy").mean())


def nn_ratio(gen: BookFeatures, held: BookFeatures, train: BookFeatures) -> float:
    """Median nearest-training-book distance of generated books over that of held-out real books."""
    import warnings

    from sklearn.neighbors import NearestNeighbors

    xt = train.matrix()
    with warnings.catch_warnings():  # levels that no training book has: their mean and spread are NaN, set below
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(np.where(np.isfinite(xt), xt, np.nan), axis=0)
        sd = np.nanstd(np.where(np.isfinite(xt), xt, np.nan), axis=0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)

    def z(x):
        x = np.where(np.isfinite(x), x, mu)
        return np.nan_to_num((x - mu) / sd)

    nn = NearestNeighbors(n_neighbors=1).fit(z(xt))
    dg = nn.kneighbors(z(gen.matrix()))[0][:, 0]
    dh = nn.kneighbors(z(held.matrix()))[0][:, 0]
    return float(np.median(dg) / np.median(dh)) if np.median(dh) > 0 else float("nan")


# ------------------------------------------------------------------------------------------------ the evaluation
@dataclass
class EvalResult:
    """The evaluation's figures (``summary``, what ``--json`` prints) and the marginals table (``marginals``: one row
    per marginal and compared set: ``tv``, ``w1_std``)."""

    summary: dict
    marginals: list[dict] = field(default_factory=list)

    def table_markdown(self) -> str:
        s = self.summary
        lines = ["| books | c2st | corr_distance | nn_ratio |", "| --- | ---: | ---: | ---: |"]
        for name, key in (("generated", ""), ("real training snapshots", "_real"),
                          ("independent levels", "_independent"), ("per-level Gaussian", "_gaussian")):
            nn = f"{s['nn_ratio']:.3f}" if key == "" else ""
            cd = s.get(f"corr_distance{key}")
            lines.append(f"| {name} | {s[f'c2st{key}']:.3f} | {'' if cd is None else f'{cd:.3f}'} | {nn} |")
        lines += ["", "| marginal | " + " | ".join(f"{w} TV | {w} W1/sd" for w in SETS) + " |",
                  "| --- |" + " ---: | ---: |" * len(SETS)]
        by = {}
        for r in self.marginals:
            by.setdefault(r["marginal"], {})[r["set"]] = r
        for m, sets in by.items():
            cells = []
            for w in SETS:
                r = sets.get(w)
                cells += ["", ""] if r is None else [f"{r['tv']:.3f}", f"{r['w1_std']:.3f}"]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


SETS = ("generated", "real", "independent", "gaussian")


def evaluate_wgan(model, data=None, *, n: int | None = None, seed=0, out: str | Path | None = None,
                  plot: bool = True, progress: bool = False, **data_options) -> EvalResult:
    """Evaluate the generator ``model`` (a :class:`~lobkit.training.wgan_training.WGANModel` or the path of its
    ``generator.pth``) on the snapshots of ``data`` (default: the file it was trained on) with its training split
    (module docstring). ``n``: generated books (default: as many as held-out ones). With ``out``, writes
    ``eval.json``, ``eval.md`` and ``eval.png`` there.

    Raises :class:`ConfigError` / :class:`InputFormatError` for a bad model, data or a split with nothing held out.
    """
    from lobkit.seeds import child, seed_sequence
    from lobkit.training.data import load_books, split_indices, take
    from lobkit.training.wgan_training import WGANModel, load_generator

    m = model if isinstance(model, WGANModel) else load_generator(model)
    cfg = m.config
    if data is None:
        if not m.data_spec:
            raise ConfigError(f"the model was trained on {m.source}: give the data to evaluate on (--data, or --dsn "
                              "for a database, whose password a model file does not keep)")
        data = m.data_spec
    books, source, _ = load_books(data, levels=cfg.levels, tick_size=cfg.tick_size, progress=progress,
                                  **data_options)
    split = cfg.split if cfg.split != "none" else "blocks"
    train_idx, held_idx = split_indices(len(books.mid), split, cfg.block_size, cfg.holdout_every)
    if len(held_idx) < 20:
        raise ConfigError(f"{source}: only {len(held_idx)} snapshots held out; the evaluation needs at least 20")
    two = (books.n_bids > 0) & (books.n_asks > 0)
    train_idx, held_idx = train_idx[two[train_idx]], held_idx[two[held_idx]]
    train_f = BookFeatures.of_books(take(books, train_idx), cfg.tick_size)
    held_f = BookFeatures.of_books(take(books, held_idx), cfg.tick_size)
    block = cfg.block_size
    held_groups = held_idx // block
    ss = seed_sequence(seed)
    n_gen = n or len(held_f)
    if n_gen < MIN_GENERATED:
        raise ConfigError(f"n: the classifier test needs at least {MIN_GENERATED} generated books, got {n_gen}")
    gen_books, gen_two = m.generate(n_gen, child(ss, 0))
    # every generated book, one-sided ones too (their missing side is NaN, which the classifier sees at once):
    # leaving them out would flatter a generator that often fails to draw a side
    gen_f = BookFeatures.of_books(gen_books, cfg.tick_size)
    rng = np.random.default_rng(child(ss, 1))
    real_pick = rng.permutation(len(train_f))[:len(held_f)]
    sets = {
        "generated": gen_f,
        "real": train_f.take(real_pick),
        "independent": independent_levels(train_f, len(held_f), rng),
        "gaussian": gaussian_levels(train_f, len(held_f), rng),
    }
    c2st_seed = int(child(ss, 2).generate_state(1)[0] % 2**31)
    summary: dict = {"model": str(getattr(model, "__fspath__", lambda: model)()) if not isinstance(model, WGANModel)
                     else "in memory", "data": source, "split": split, "n_train": len(train_f),
                     "n_held_out": len(held_f), "n_generated": n_gen, "generated_one_sided": int((~gen_two).sum()),
                     "model_step": m.step}
    suffix = {"generated": "", "real": "_real", "independent": "_independent", "gaussian": "_gaussian"}
    for name, f in sets.items():
        groups = train_idx[real_pick] // block if name == "real" else None
        summary[f"c2st{suffix[name]}"] = c2st(f, held_f, seed=c2st_seed, groups_a=groups, groups_b=held_groups)
        summary[f"corr_distance{suffix[name]}"] = corr_distance(f, held_f)
    summary["nn_ratio"] = nn_ratio(gen_f, held_f, train_f)
    # drift: the same real-versus-real test across a plain time split
    t_train, t_held = split_indices(len(books.mid), "time", cfg.block_size, cfg.holdout_every)
    t_train, t_held = t_train[two[t_train]], t_held[two[t_held]]
    summary["c2st_real_time_split"] = c2st(BookFeatures.of_books(take(books, t_train), cfg.tick_size),
                                           BookFeatures.of_books(take(books, t_held), cfg.tick_size),
                                           seed=c2st_seed, groups_a=t_train // block, groups_b=t_held // block)
    rows = []
    held_m = held_f.marginals()
    for name, f in sets.items():
        for key, values in f.marginals().items():
            rows.append({"marginal": key, "set": name, "tv": total_variation(values, held_m[key], key == "spread"),
                         "w1_std": w1_over_std(values, held_m[key])})
    summary["targets"] = {"c2st_at_most": TARGET_C2ST, "corr_distance_below": "independent and gaussian",
                          "nn_ratio_at_least": TARGET_NN_RATIO}
    summary["pass"] = {"c2st": summary["c2st"] <= TARGET_C2ST,
                       "corr_distance": summary["corr_distance"] < min(summary["corr_distance_independent"],
                                                                       summary["corr_distance_gaussian"]),
                       "nn_ratio": summary["nn_ratio"] >= TARGET_NN_RATIO}
    summary["marginals"] = {r["marginal"]: {"tv": r["tv"], "w1_std": r["w1_std"]} for r in rows
                            if r["set"] == "generated"}
    res = EvalResult(summary=summary, marginals=rows)
    if out is not None:
        from lobkit.training.checkpoint import ensure_dir

        out = ensure_dir(out)
        (out / "eval.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
        (out / "eval.md").write_text(res.table_markdown() + "\n")
        if plot:
            plot_evaluation(sets, held_f, out / "eval.png", summary)
    return res


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, float) and not math.isfinite(d):
        return None
    if isinstance(d, np.generic):
        return d.item()
    return d


def plot_evaluation(sets: dict, held: BookFeatures, path: Path, summary: dict) -> None:
    """Histograms of key marginals (held-out real vs generated vs the references) and the correlation matrices."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    keys = ["spread", "bid_volume_1", "ask_volume_1", "imbalance_5", "depth_10"]
    fig = plt.figure(figsize=(14, 7))
    grid = fig.add_gridspec(2, 6)
    held_m = held.marginals()
    colors = {"generated": "#2166ac", "independent": "#d6604d", "gaussian": "#4dac26"}
    for i, key in enumerate(keys):
        ax = fig.add_subplot(grid[i // 3, i % 3])
        h = held_m[key][np.isfinite(held_m[key])]
        log = key != "imbalance_5" and key != "spread"
        tr = (lambda v: np.log10(v[np.isfinite(v) & (v > 0)])) if log else (lambda v: v[np.isfinite(v)])
        lo, hi = np.percentile(tr(h), [0.5, 99.5])
        bins = np.linspace(lo, hi, 40)
        ax.hist(tr(h), bins=bins, density=True, color="0.75", label="held-out real")
        for name, c in colors.items():
            values = tr(sets[name].marginals()[key])
            if len(values) == 0:
                continue
            ax.hist(values, bins=bins, density=True, histtype="step", color=c, lw=1.3,
                    label=name)
        ax.set_title(("log10 " if log else "") + key.replace("_", " "), fontsize=9)
        if i == 0:
            ax.legend(fontsize=7, frameon=False)
    for j, (title, f) in enumerate((("held-out real", held), ("generated", sets["generated"]))):
        ax = fig.add_subplot(grid[j, 3:6])
        ax.imshow(np.nan_to_num(_pairwise_corr(f)), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_title(f"log-volume correlations, {title} (bid 1-10, ask 1-10)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"generated vs held-out real books: c2st {summary['c2st']:.3f} (real {summary['c2st_real']:.3f}, "
                 f"independent {summary['c2st_independent']:.3f}, Gaussian {summary['c2st_gaussian']:.3f}), "
                 f"corr distance {summary['corr_distance']:.3f}, nn ratio {summary['nn_ratio']:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
