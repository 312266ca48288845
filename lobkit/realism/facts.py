"""The statistics of a market record ("stylised facts"), their distances, and block-bootstrap intervals.

:func:`market_facts` turns one :class:`~lobkit.realism.record.MarketRecord`, or several pooled, into a dict of plain
floats and lists (JSON-able; NaN where a fact cannot be computed). Definitions (every statistic skips samples with
an empty side):

* **spread** (ticks, ``ask - bid``): a histogram on the fixed integer bins :data:`SPREAD_EDGES` (``[e_i, e_{i+1})``,
  the last open: ``>= 200``), the quantiles 10/50/90 (the *inverted CDF* definition: the smallest spread whose
  cumulative share reaches q; spreads are integers, so quantiles are too) and the mean. Every sample counts once:
  records must be sampled evenly in time (:func:`~lobkit.realism.record.record_from_snapshots`' ``sample_ns``).
* **mean volume by level**: the mean volume at the k-th occupied level of each side (k = 1..L, an absent level
  counts 0), in the source's units, and its *profile*, the means divided by their sum (units cancel), per side
  and both sides averaged.
* **returns** at 1 and 5 minutes: log mid-price ``log((bid + ask) / 2)`` on the grid ``0, h, 2h, ...`` from the
  record's start, taking at each grid time the **previous sample's** value (the last sample at or before it);
  returns are differences of consecutive grid values. **Kurtosis** is Pearson's (not excess: a normal
  distribution has 3), the biased moment ratio ``m4 / m2**2`` (:func:`scipy.stats.kurtosis` with ``fisher=False``,
  ``bias=True``; NaN with fewer than :data:`MIN_RETURNS` returns). The autocorrelations of returns and of
  absolute returns at lags 1..10 are of the 1-minute returns, the sample autocorrelation of Box and Jenkins,
  ``sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)**2`` (the same as
  ``statsmodels.tsa.stattools.acf(adjusted=False)``). Cont (2001), "Empirical properties of asset
  returns: stylized facts and statistical issues", Quantitative Finance 1: heavy tails (high kurtosis at minutes),
  no linear autocorrelation of returns, slowly decaying autocorrelation of |returns| (volatility clustering).
* **inter-event times** (seconds between consecutive events of any type): quantiles 10/25/50/75/90 (linear
  interpolation), the share of zero gaps (simultaneous events), and a histogram on the log bins
  :data:`IET_EDGES_S` (a bin ``[0, 1 µs)``, then half-decades to 1000 s, the last open); and the **event-type mix**,
  the shares of the six types. Not available (None, never faked) when a record has no events. Sources differ in
  time resolution (the Bitstamp capture: ms; LOBSTER and the simulator: ns), so gaps below a millisecond and the
  share of simultaneous events compare only between sources of the same resolution.
* **signature plot**: realised variance per hour, ``sum r**2 / (n * Δ)`` (Δ in hours), of the log-mid returns on
  the grids Δ = :data:`SIGNATURE_S` (1 s to 30 min); Andersen, Bollerslev, Diebold and Labys (2000), "Great
  realizations", Risk 13. A Δ finer than the record's median sampling interval, or with fewer than
  :data:`MIN_SIGNATURE_RETURNS` returns, is NaN ("where the record allows").

**Pooling** several records (seeds of a simulation, blocks of a bootstrap): histograms and sums add; returns are
computed within each record and then pooled, so no return crosses records, and the pooled autocorrelation sums the
lagged products within each record over the pooled mean and variance.

**Distances** (:func:`distances`): the total variation distance ``TV(p, q) = 1/2 sum |p_i - q_i|`` (0 to 1) of the
spread histograms, the volume profiles (on the levels both have, renormalised), the inter-event histograms and
the event mixes, the distributional distance of LOB-Bench (Nagy et al. 2025, "LOB-Bench: benchmarking generative
AI for finance"); and the difference ``b - a`` of every scalar fact.

**Intervals** (:func:`bootstrap_facts`, :func:`intervals`): a block bootstrap in time, circular (Politis and
Romano 1992, "A circular block-resampling procedure for stationary data"; moving blocks, Künsch 1989, that wrap
around the record's end, so that every moment of the record is equally likely to be drawn: with plain moving
blocks a jump near the start or the end of the day is almost never resampled): a replicate pools ``ceil(T / B)``
blocks of duration ``B`` (default 30 min), whose start times are drawn uniformly in ``[0, T)`` by an explicit
:class:`numpy.random.Generator`; 95% percentile intervals over the replicates. The **noise floor** of each
distance (:func:`noise_floor`): its quantiles over pairs of independent replicates (what the distance between two
samples of the same market, as long as the record, looks like), and its value between the record's two halves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lobkit.errors import ConfigError
from lobkit.realism.record import EMPTY, EVENT_NAMES, NS, MarketRecord

#: Lower edges of the spread histogram's bins, in ticks (the last bin is open: >= 200).
SPREAD_EDGES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200)
#: The return horizons, name -> seconds.
HORIZONS_S = {"1min": 60, "5min": 300}
#: Autocorrelation lags (of 1-minute returns).
ACF_LAGS = tuple(range(1, 11))
#: Lower edges of the inter-event time histogram's bins, seconds: 0, 1 µs, then half-decades to 1000 s (open).
IET_EDGES_S = (0.0, *(10.0 ** (k / 2) for k in range(-12, 7)))
#: The signature plot's sampling intervals, seconds.
SIGNATURE_S = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800)
MIN_SIGNATURE_RETURNS = 10
#: Fewer returns than this at a horizon: its kurtosis is NaN (a fourth moment of a handful of values says nothing).
MIN_RETURNS = 20
SPREAD_QUANTILES = (10, 50, 90)
IET_QUANTILES = (10, 25, 50, 75, 90)
DEFAULT_BLOCK_NS = 30 * 60 * NS
DEFAULT_REPLICATES = 200


# ------------------------------------------------------------------------------------------------- pieces
@dataclass(frozen=True, eq=False)
class _Prepared:
    """A record's two-sided samples, ready for segments."""

    t: np.ndarray  # int64 ns
    logmid: np.ndarray  # float64
    spread: np.ndarray  # int64 ticks
    vb: np.ndarray  # float64 (n, L), absent levels 0
    va: np.ndarray
    duration: int
    gap_ns: float  # median sampling interval
    ev_t: np.ndarray | None
    ev_k: np.ndarray | None


def _prepare(rec: MarketRecord) -> _Prepared:
    if not isinstance(rec, MarketRecord):
        raise ConfigError(f"records: expected MarketRecord objects, got {type(rec).__name__}")
    ok = (rec.bid != EMPTY) & (rec.ask != EMPTY)
    t = rec.t_ns[ok]
    bid, ask = rec.bid[ok], rec.ask[ok]
    gap = float(np.median(np.diff(t))) if len(t) > 1 else math.inf
    return _Prepared(t, np.log((bid + ask) * (0.5 * rec.tick_size)), ask - bid,
                     np.nan_to_num(rec.bid_volume[ok], nan=0.0), np.nan_to_num(rec.ask_volume[ok], nan=0.0),
                     rec.duration_ns, gap, rec.event_t_ns, rec.event_type)


@dataclass
class _Pieces:
    """Sufficient statistics of one segment (a record, or a block of one)."""

    spreads: np.ndarray
    vol_bid: np.ndarray
    vol_ask: np.ndarray
    n_book: int
    returns: dict  # horizon name -> returns (float64)
    sig: np.ndarray  # (len(SIGNATURE_S), 2): sum r**2, count
    gap_ns: float
    gaps: np.ndarray | None  # inter-event times, s
    type_counts: np.ndarray | None
    seconds: float


def _grid_returns(p: _Prepared, s: int, e: int, step: int) -> np.ndarray:
    """Log-mid returns on the grid s, s + step, ... <= e (previous sample's value at each grid time)."""
    grid = np.arange(s, e + 1, step, dtype=np.int64)
    idx = np.searchsorted(p.t, grid, side="right") - 1
    x = p.logmid[idx[idx >= 0]]
    return np.diff(x)


def _segment(p: _Prepared, s: int, e: int) -> _Pieces:
    """The pieces of ``[s, e]`` of a prepared record (book samples and events in ``[s, e)``; ``[s, e]`` when ``e``
    is the record's end)."""
    side = "right" if e >= p.duration else "left"
    lo, hi = int(np.searchsorted(p.t, s, side="left")), int(np.searchsorted(p.t, e, side=side))
    rets = {name: _grid_returns(p, s, e, sec * NS) for name, sec in HORIZONS_S.items()}
    sig = np.zeros((len(SIGNATURE_S), 2))
    for j, sec in enumerate(SIGNATURE_S):
        r = _grid_returns(p, s, e, sec * NS)
        sig[j] = (float(np.dot(r, r)), len(r))
    gaps = counts = None
    if p.ev_t is not None:
        a, b = int(np.searchsorted(p.ev_t, s, side="left")), int(np.searchsorted(p.ev_t, e, side=side))
        gaps = np.diff(p.ev_t[a:b]) / NS
        counts = np.bincount(p.ev_k[a:b], minlength=len(EVENT_NAMES)).astype(np.float64)
    return _Pieces(p.spread[lo:hi], p.vb[lo:hi].sum(axis=0), p.va[lo:hi].sum(axis=0), hi - lo, rets, sig, p.gap_ns,
                   gaps, counts, (e - s) / NS)


# ------------------------------------------------------------------------------------------------- statistics
def total_variation(p, q) -> float:
    """Total variation distance ``1/2 sum |p_i - q_i|`` of two histograms on the same bins, each normalised to
    sum 1 first (0: the same distribution, 1: disjoint). NaN when either is empty or contains NaN."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ConfigError(f"total_variation: histograms on different bins ({p.shape} and {q.shape})")
    sp, sq = p.sum(), q.sum()
    if not (np.isfinite(sp) and np.isfinite(sq)) or sp <= 0 or sq <= 0:
        return math.nan
    return float(0.5 * np.abs(p / sp - q / sq).sum())


def pooled_acf(series: Sequence[np.ndarray], lags=ACF_LAGS) -> np.ndarray:
    """Autocorrelation at ``lags`` of several series pooled: the lagged products within each series, over the
    pooled mean and sum of squares (for one series, the Box-Jenkins sample acf). NaN where undefined."""
    xs = [np.asarray(x, np.float64) for x in series]
    allx = np.concatenate(xs) if xs else np.zeros(0)
    out = np.full(len(lags), math.nan)
    if len(allx) < 2:
        return out
    m = allx.mean()
    den = float(np.dot(allx - m, allx - m))
    if den <= 0:
        return out
    for j, k in enumerate(lags):
        num, pairs = 0.0, 0
        for x in xs:
            if len(x) > k:
                d = x - m
                num += float(np.dot(d[:-k], d[k:]))
                pairs += len(x) - k
        out[j] = num / den if pairs else math.nan
    return out


def pearson_kurtosis(x) -> float:
    """Pearson's kurtosis ``m4 / m2**2`` (normal: 3), biased moments (:func:`scipy.stats.kurtosis` with
    ``fisher=False, bias=True``); NaN with fewer than 4 values or no variance."""
    from scipy.stats import kurtosis

    x = np.asarray(x, np.float64)
    if len(x) < 4 or not np.ptp(x) > 0:
        return math.nan
    return float(kurtosis(x, fisher=False, bias=True))


def _bin(values: np.ndarray, edges) -> np.ndarray:
    """Counts of ``values`` in the bins ``[e_i, e_{i+1})`` (last open); values below the first edge count in it."""
    idx = np.clip(np.searchsorted(np.asarray(edges, np.float64), values, side="right") - 1, 0, len(edges) - 1)
    return np.bincount(idx, minlength=len(edges)).astype(np.float64)


def _nan_list(a) -> list:
    return [float(v) for v in np.asarray(a, np.float64)]


def _pool(pieces: list[_Pieces]) -> dict:
    """The facts dict of pooled pieces (see the module docstring)."""
    spreads = np.concatenate([pc.spreads for pc in pieces])
    n_book = sum(pc.n_book for pc in pieces)
    if n_book == 0:
        raise ConfigError("market facts: no sample with both sides of the book")
    L = min(len(pc.vol_bid) for pc in pieces)
    vb = sum(pc.vol_bid[:L] for pc in pieces) / n_book
    va = sum(pc.vol_ask[:L] for pc in pieces) / n_book
    pb = vb / vb.sum() if vb.sum() > 0 else np.full(L, math.nan)
    pa = va / va.sum() if va.sum() > 0 else np.full(L, math.nan)
    hist = _bin(spreads, SPREAD_EDGES)
    q = {f"q{k}": float(np.quantile(spreads, k / 100, method="inverted_cdf")) for k in SPREAD_QUANTILES}
    facts = {
        "samples": int(n_book),
        "hours": float(sum(pc.seconds for pc in pieces) / 3600),
        "records": len(pieces),
        "spread": {"edges_ticks": list(SPREAD_EDGES), "hist": _nan_list(hist / hist.sum()), **q,
                   "mean": float(spreads.mean())},
        "volume_by_level": {"levels": int(L), "mean_bid": _nan_list(vb), "mean_ask": _nan_list(va),
                            "bid": _nan_list(pb), "ask": _nan_list(pa), "both": _nan_list((pb + pa) / 2)},
        "returns": {},
    }
    for name in HORIZONS_S:
        rs = [pc.returns[name] for pc in pieces]
        allr = np.concatenate(rs)
        facts["returns"][name] = {"n": len(allr), "std": float(allr.std()) if len(allr) > 1 else math.nan,
                                  "kurtosis": pearson_kurtosis(allr) if len(allr) >= MIN_RETURNS else math.nan}
    r1 = [pc.returns["1min"] for pc in pieces]
    acf, acf_abs = pooled_acf(r1), pooled_acf([np.abs(r) for r in r1])
    facts["acf"] = {"lags": list(ACF_LAGS), "r": _nan_list(acf), "abs_r": _nan_list(acf_abs),
                    "abs_mean_lags_1_5": float(np.mean(acf_abs[:5]))}
    sig = sum(pc.sig for pc in pieces)
    gap = max(pc.gap_ns for pc in pieces)
    dt_h = np.asarray(SIGNATURE_S, np.float64) / 3600
    with np.errstate(invalid="ignore", divide="ignore"):
        rv = sig[:, 0] / (sig[:, 1] * dt_h)
    allowed = (np.asarray(SIGNATURE_S) * NS >= gap * (1 - 1e-9)) & (sig[:, 1] >= MIN_SIGNATURE_RETURNS)
    facts["signature"] = {"interval_s": list(SIGNATURE_S), "rv_per_hour": _nan_list(np.where(allowed, rv, math.nan)),
                          "n_returns": [int(v) for v in sig[:, 1]], "sampling_s": gap / NS}
    if all(pc.gaps is not None for pc in pieces):
        gaps = np.concatenate([pc.gaps for pc in pieces])
        counts = sum(pc.type_counts for pc in pieces)
        n_ev = int(counts.sum())
        ih = _bin(gaps, IET_EDGES_S)
        facts["inter_event"] = {
            "available": len(gaps) > 0, "n": len(gaps),
            **{f"q{k}": float(np.quantile(gaps, k / 100)) if len(gaps) else math.nan for k in IET_QUANTILES},
            "zero_share": float(np.mean(gaps == 0)) if len(gaps) else math.nan,
            "edges_s": list(IET_EDGES_S), "hist": _nan_list(ih / ih.sum() if ih.sum() else ih * math.nan)}
        facts["event_mix"] = {"available": n_ev > 0, "n": n_ev, "types": list(EVENT_NAMES),
                              "shares": _nan_list(counts / n_ev if n_ev else counts * math.nan)}
    else:
        facts["inter_event"] = {"available": False, "n": 0}
        facts["event_mix"] = {"available": False, "n": 0, "types": list(EVENT_NAMES)}
    return facts


def market_facts(records: MarketRecord | Sequence[MarketRecord]) -> dict:
    """The facts of one record, or of several pooled (see the module docstring for every definition).

    Returns a JSON-able dict: ``samples``, ``hours``, ``records``; ``spread`` (``edges_ticks``, ``hist`` shares,
    ``q10``/``q50``/``q90``/``mean`` ticks); ``volume_by_level`` (``levels``, ``mean_bid``/``mean_ask`` in the
    source's units, profiles ``bid``/``ask``/``both`` summing to 1); ``returns`` (``1min``/``5min``: ``n``,
    ``std`` of log returns, Pearson ``kurtosis``); ``acf`` (``lags``, ``r``, ``abs_r``, ``abs_mean_lags_1_5``);
    ``signature`` (``interval_s``, ``rv_per_hour``, ``n_returns``, ``sampling_s``); ``inter_event``
    (``available``, ``n``, quantiles ``q10``..``q90`` s, ``zero_share``, ``edges_s``, ``hist``) and
    ``event_mix`` (``available``, ``n``, ``types``, ``shares``). Records with different ``levels`` pool on the
    levels all have. Raises :class:`ConfigError` for no record or no two-sided sample.
    """
    recs = [records] if isinstance(records, MarketRecord) else list(records)
    if not recs:
        raise ConfigError("market facts: no record")
    return _pool([_segment(p, 0, p.duration) for p in map(_prepare, recs)])


# ------------------------------------------------------------------------------------------------- flat views
def scalar_facts(facts: dict) -> dict[str, float]:
    """The headline scalar facts of a facts dict, by name (the rows of the report's table): ``spread_q10``,
    ``spread_q50``, ``spread_q90``, ``spread_mean`` (ticks); ``std_1min``, ``std_5min``, ``kurtosis_1min``,
    ``kurtosis_5min``; ``acf_lag1``..``acf_lag10``, ``abs_acf_lag1``..``abs_acf_lag10``, ``abs_acf_mean_lags_1_5``;
    ``iet_q10``, ``iet_q50``, ``iet_q90`` (s), ``iet_zero_share``; ``share_<type>`` for the six types; ``rv_<Δ>s``
    (per hour). Event facts are NaN when not available."""
    out = {f"spread_q{k}": facts["spread"][f"q{k}"] for k in SPREAD_QUANTILES}
    out["spread_mean"] = facts["spread"]["mean"]
    for name in HORIZONS_S:
        out[f"std_{name}"] = facts["returns"][name]["std"]
    for name in HORIZONS_S:
        out[f"kurtosis_{name}"] = facts["returns"][name]["kurtosis"]
    for k, v in zip(ACF_LAGS, facts["acf"]["r"], strict=True):
        out[f"acf_lag{k}"] = v
    for k, v in zip(ACF_LAGS, facts["acf"]["abs_r"], strict=True):
        out[f"abs_acf_lag{k}"] = v
    out["abs_acf_mean_lags_1_5"] = facts["acf"]["abs_mean_lags_1_5"]
    ie, mix = facts["inter_event"], facts["event_mix"]
    for k in (10, 50, 90):
        out[f"iet_q{k}"] = ie[f"q{k}"] if ie["available"] else math.nan
    out["iet_zero_share"] = ie["zero_share"] if ie["available"] else math.nan
    for j, name in enumerate(EVENT_NAMES):
        out[f"share_{name}"] = mix["shares"][j] if mix["available"] else math.nan
    for sec, v in zip(SIGNATURE_S, facts["signature"]["rv_per_hour"], strict=True):
        out[f"rv_{sec}s"] = v
    return {k: float(v) for k, v in out.items()}


def vector_facts(facts: dict) -> dict[str, np.ndarray]:
    """Every number of a facts dict that intervals are given for, as 1-d arrays by name: the scalar facts (length
    1) and ``spread_hist``, ``volume_both``, ``volume_bid``, ``volume_ask``, ``acf_r``, ``acf_abs_r``,
    ``iet_hist``, ``event_shares``, ``rv_per_hour`` (NaN where not available)."""
    out = {k: np.array([v]) for k, v in scalar_facts(facts).items()}
    out["spread_hist"] = np.asarray(facts["spread"]["hist"])
    for s in ("both", "bid", "ask"):
        out[f"volume_{s}"] = np.asarray(facts["volume_by_level"][s])
    out["acf_r"] = np.asarray(facts["acf"]["r"])
    out["acf_abs_r"] = np.asarray(facts["acf"]["abs_r"])
    ie, mix = facts["inter_event"], facts["event_mix"]
    out["iet_hist"] = np.asarray(ie["hist"]) if ie["available"] else np.full(len(IET_EDGES_S), math.nan)
    out["event_shares"] = np.asarray(mix["shares"]) if mix["available"] else np.full(len(EVENT_NAMES), math.nan)
    out["rv_per_hour"] = np.asarray(facts["signature"]["rv_per_hour"])
    return out


# ------------------------------------------------------------------------------------------------- distances
DISTANCE_NAMES = ("spread_tv", "volume_by_level_tv", "volume_by_level_bid_tv", "volume_by_level_ask_tv",
                  "inter_event_tv", "event_mix_tv")


def _profile_tv(a: dict, b: dict, side: str) -> float:
    L = min(a["volume_by_level"]["levels"], b["volume_by_level"]["levels"])
    return total_variation(a["volume_by_level"][side][:L], b["volume_by_level"][side][:L])


def distances(a: dict, b: dict) -> dict:
    """Distances between two facts dicts (:func:`market_facts`): the total variation distances
    :data:`DISTANCE_NAMES` (``spread_tv`` of the spread histograms; ``volume_by_level_tv`` of the both-sides
    profiles and per side, on the first ``min(L_a, L_b)`` levels renormalised; ``inter_event_tv`` and
    ``event_mix_tv``, NaN unless both have events), and ``diff``: ``b - a`` for every scalar fact."""
    out = {"spread_tv": total_variation(a["spread"]["hist"], b["spread"]["hist"]),
           "volume_by_level_tv": _profile_tv(a, b, "both"),
           "volume_by_level_bid_tv": _profile_tv(a, b, "bid"),
           "volume_by_level_ask_tv": _profile_tv(a, b, "ask")}
    both = a["inter_event"]["available"] and b["inter_event"]["available"]
    out["inter_event_tv"] = total_variation(a["inter_event"]["hist"], b["inter_event"]["hist"]) if both else math.nan
    both = a["event_mix"]["available"] and b["event_mix"]["available"]
    out["event_mix_tv"] = total_variation(a["event_mix"]["shares"], b["event_mix"]["shares"]) if both else math.nan
    sa, sb = scalar_facts(a), scalar_facts(b)
    out["diff"] = {k: sb[k] - sa[k] for k in sa}
    return out


# ------------------------------------------------------------------------------------------------- bootstrap
def as_generator(seed) -> np.random.Generator:
    """``seed`` as a :class:`numpy.random.Generator`: a Generator (used as is), a SeedSequence, or a non-negative
    integer (through :func:`lobkit.seeds.seed_sequence`). Never a global generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    from lobkit.seeds import seed_sequence

    if seed is None:
        raise ConfigError("seed: give the bootstrap's seed explicitly (an integer, a SeedSequence or a Generator)")
    return np.random.Generator(np.random.PCG64(seed_sequence(seed)))


def _check_boot(record, replicates, block_ns) -> int:
    if not isinstance(record, MarketRecord):
        raise ConfigError(f"bootstrap: expected a MarketRecord, got {type(record).__name__}")
    if isinstance(replicates, bool) or not isinstance(replicates, int | np.integer) or not 2 <= replicates <= 100_000:
        raise ConfigError(f"replicates must be an integer from 2 to 100,000, got {replicates!r}")
    if isinstance(block_ns, bool) or not isinstance(block_ns, int | np.integer) or block_ns < NS:
        raise ConfigError(f"block_ns must be an integer number of ns >= 1 s, got {block_ns!r}")
    return int(min(int(block_ns), record.duration_ns // 2))


def bootstrap_facts(record: MarketRecord, rng, *, replicates: int = DEFAULT_REPLICATES,
                    block_ns: int = DEFAULT_BLOCK_NS) -> list[dict]:
    """Circular block bootstrap replicates of a record's facts (the module docstring): each replicate pools
    ``ceil(T / B)`` blocks ``[s, s + B]``, ``s`` uniform in ``[0, T)`` (integer ns), a block that passes the end
    going on at the start (as two segments: no return crosses the wrap), drawn with ``rng`` (a Generator,
    SeedSequence or integer: :func:`as_generator`). ``B = min(block_ns, T / 2)``. Returns the replicates' facts
    dicts."""
    B = _check_boot(record, replicates, block_ns)
    gen = as_generator(rng)
    p = _prepare(record)
    T = record.duration_ns
    n_blocks = -(-T // B)
    out = []
    for _ in range(int(replicates)):
        segments = []
        for s in gen.integers(0, T, size=n_blocks):
            s = int(s)
            segments.append(_segment(p, s, min(s + B, T)))
            if s + B > T:  # the block wraps around: its rest is the record's start (a segment of its own)
                segments.append(_segment(p, 0, s + B - T))
        out.append(_pool(segments))
    return out


def intervals(replicates: list[dict], level: float = 0.95) -> dict[str, list]:
    """Percentile intervals of every number of :func:`vector_facts` over bootstrap replicates: name ->
    ``[lo, hi]`` (lists of the vector's length; NaN where no replicate has the number)."""
    if not replicates:
        raise ConfigError("intervals: no replicates")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level!r}")
    vecs = [vector_facts(f) for f in replicates]
    out = {}
    for name in vecs[0]:
        width = min(len(v[name]) for v in vecs)
        a = np.vstack([v[name][:width] for v in vecs])
        lo, hi = np.full(width, math.nan), np.full(width, math.nan)
        ok = np.isfinite(a).any(axis=0)
        if ok.any():
            q = np.nanpercentile(a[:, ok], [50 * (1 - level), 50 * (1 + level)], axis=0)
            lo[ok], hi[ok] = q[0], q[1]
        out[name] = [_nan_list(lo), _nan_list(hi)]
    return out


def noise_floor(replicates: list[dict], halves: tuple[dict, dict] | None = None) -> dict:
    """How large each distance is between two samples of the same market: for every name of
    :data:`DISTANCE_NAMES` and every scalar fact (as ``|b - a|``), the median (``q50``) and 95th percentile
    (``q95``) over pairs of independent replicates (1st with 2nd, 3rd with 4th, ...), and ``halves``: its value
    between the facts of the record's two halves (when given)."""
    pairs = [distances(replicates[i], replicates[i + 1]) for i in range(0, len(replicates) - 1, 2)]
    if not pairs:
        raise ConfigError("noise floor: at least two replicates")
    half = distances(*halves) if halves is not None else None

    def entry(values: list[float], h: float | None) -> dict:
        v = np.asarray(values, np.float64)
        v = v[np.isfinite(v)]
        e = {"q50": float(np.median(v)) if len(v) else math.nan,
             "q95": float(np.percentile(v, 95)) if len(v) else math.nan}
        if halves is not None:
            e["halves"] = float(h)
        return e

    out = {name: entry([d[name] for d in pairs], None if half is None else half[name]) for name in DISTANCE_NAMES}
    for k in pairs[0]["diff"]:
        out[k] = entry([abs(d["diff"][k]) for d in pairs], None if half is None else abs(half["diff"][k]))
    return out
