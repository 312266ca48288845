"""Calibration of the parametric flow to a real event stream (``lobkit calibrate``; ``--flow calibrated:PATH.toml``).

:func:`calibrate` fits every parameter of :class:`lobkit.flows.hawkes.HawkesParams` and the market's tick size, lot
size, initial mid and price window to an :class:`~lobkit.training.events.EventStream` (and, when given, the
snapshots of its book); :func:`write_calibration` writes the result as TOML and :func:`read_calibration` reads it back
(what :class:`lobkit.flows.calibrated.CalibratedFlow` does). The file::

    # lobkit calibrated market: written by lobkit calibrate ...
    [market]   tick_size (currency per tick), lot_size (data units per lot), initial_mid (currency), window (ticks),
               capacity (orders), init_levels, init_orders_per_level: MarketConfig fields, the defaults of a run
    [flow]     every field of HawkesParams (rates per second, distances in ticks, sizes in lots)
    [fit]      format (``lobkit-calibration``) and format_version, lobkit_version, created, source, fingerprint
               (sha256 of the stream), n_events, duration_s, and what the estimators found:
    [fit.standard_errors]  one standard error per estimated flow field (same units)

Estimators (``T`` the stream's duration in seconds, ``N_k`` its events of type ``k``):

* **Event rates** per side, ``N_k / T`` with Poisson standard errors ``sqrt(N_k) / T`` ([fit.rates]; the model is
  symmetric, so a side's figure is the mean of the two sides').
* **Base rates and excitation**: the four order types (limit buy/sell, market buy/sell) as a four-dimensional Hawkes
  process with exponential kernels of one decay ``beta`` and the flow's *structured* intensities (module docstring
  of :mod:`lobkit.flows.hawkes`)::

      limit buy   a + c' R_m(t) / mean(R_m) + beta (excite_limit_limit R_LB(t) + excite_limit_refill R_MS(t))
      market buy  market_rate + beta (excite_market_same R_MB(t) + excite_market_cross R_MS(t))

  (sell sides mirrored), ``R_j(t) = sum over past type-j events of exp(-beta (t - t_l))`` and
  ``R_m = R_MB + R_MS``. ``a + c' R_m / mean(R_m)`` is the flow's ``limit_rate c(t)`` with the activity coupling
  ``c(t) = 1 - kappa + kappa e_m(t) / mean(e_m)``: ``limit_rate = a + c'``, ``activity_coupling = c' / (a + c')``.
  The intensities are linear in ``(a, c', market_rate, the four branching ratios)``, so for a given ``beta`` the
  log-likelihood (Ozaki 1979; Daley & Vere-Jones 2003, eq. 7.2.2)
  ``sum_i log lambda_{k_i}(t_i) - sum_k integral_0^T lambda_k`` is concave: it is maximised exactly (L-BFGS-B,
  bounds >= 0) and ``beta`` by profiling it (a grid of decays 0.01-100 per second, then a bounded search in
  ``log beta``). These are the immigrant rates of the cluster representation: the mean rate of a type is
  ``mu / (1 - branching)``, not ``mu``. ``tick``'s ``HawkesSumExpKern`` (the repo's
  :func:`lobkit.training.hawkes.fit_sumexp`) fits the unconstrained 4 x 4 process at the same decay as a cross-check;
  its adjacency and its values mapped onto the structure (means of the symmetric entries) go to [fit.hawkes].
  Standard errors: the observed Fisher information (the analytic Hessian of the log-likelihood,
  ``sum_i x_i x_i^T / lambda_i^2``) at the maximum, with the delta method for ``limit_rate`` and
  ``activity_coupling``; ``hawkes_beta``'s from the curvature of the profile log-likelihood in ``log beta``
  (finite differences). Constraints of HawkesParams (``excite_market_same + excite_market_cross < 1``,
  ``excite_limit_limit < 1``) are kept by scaling down to 0.98, with a warning in [fit].
* **Cancellation rate** per resting order: ``cancel_rate = C / integral of n(t) dt`` (the maximum-likelihood rate
  of exponential lifetimes; standard error ``cancel_rate / sqrt(C)``), with ``n(t)`` the resting orders a side.
  L2 data do not show orders, only volumes: with a ``book`` (a snapshot source), ``n(t)`` is the volume within
  ``D`` ticks of the side's best divided by the mean limit-order size (an approximation: resting orders are assumed
  to be of the mean size), and ``C`` counts the cancellations within ``D`` ticks, ``D`` the depth the book's last
  level reaches in 90% of the snapshots (so that numerator and denominator see the same part of the book).
  Without a book, ``n(t)`` is the stream's own running count: limits less cancels less the orders market orders
  executed (a market order's size over the mean limit-order size), from the smallest starting count that keeps it
  >= 0, over all depths.
* ``target_orders``: the mean resting orders a side (with a book: the covered count divided by the share of limit
  orders placed within ``D``). Not identified by the event counts, set by rule (stated in [fit.rules]):
  ``refill_boost = 0.5`` (a side at half its usual depth gets 1.25 times the base rate: a mild stabiliser of thin
  books), ``min_orders = max(1, target_orders / 10)``.
* **Limit-order distance**: an event's ``distance`` is from its own side's best price (0 at the touch, < 0 inside
  the spread); the flow's is ``d >= 1`` ticks (geometric, mean ``limit_depth_mean``) from the efficient price (a share
  ``s = efficient_price_share`` of orders, about the mid: ``d = distance + S / 2``) or from the opposite best
  (``d = distance + S``), ``S`` the mean spread in ticks (the book's, time-weighted; else ``spread_ticks``). So
  ``limit_depth_mean = mean(distance) + S (1 - s / 2)`` (the geometric's maximum-likelihood mean; standard error
  ``sd / sqrt(n)``), with distances winsorised to ``[1 - S, max_depth]``; ``max_depth`` is the 99.9th percentile of
  ``d`` (at most a quarter of the initial mid in ticks, which the flow requires, and at most
  :data:`MAX_DEPTH`).
* **Sizes** in lots, ``max(1, round(size / lot_size))``: ``limit_size_mean`` and ``market_size_mean`` their means
  (geometric maximum likelihood; ``sd / sqrt(n)``), ``max_market_size`` the 99.9th percentile of market orders
  (their mean taken below it). ``lot_size`` when not given: the power of ten that makes the median market order
  10 to 99 lots (0.01 BTC on Bitstamp, 10 shares on LOBSTER AMZN).
* **Simulated moments** (only with a ``book`` and ``moments=True``; ``lobkit calibrate --quick`` skips them):
  ``efficient_price_share``, ``efficient_price_impact``, ``limit_depth_mean`` and ``refill_boost`` are fitted by the
  method of simulated moments (McFadden 1989) to the book's market facts as the realism report measures them
  (:mod:`lobkit.realism`; nothing is re-computed here). *Why these four:* share and impact do not show in event
  streams at all (where orders rest relative to an unobserved efficient price, and how far that price moves per
  unexpected market order); together they set how much of the mid's variance is the efficient price's random walk
  and how much is the book's bounce around it, so the scale of the returns and their lag-1 autocorrelation.
  ``limit_depth_mean``'s distance-based value depends on the share and, on a LOBSTER level-L file, sees only the top
  L levels: a factor ``f`` on it is searched (``limit_depth_mean = f`` times the value for ``s``; the estimate and
  its standard error stay in [fit.distance]). ``refill_boost`` is a rule, not identified by events; it sets how
  fast a thin side refills, so the spread's tail. Not searched: the rates, excitations, cancellation rate, activity
  coupling and sizes (the events estimate them, with standard errors: moments would only trade them against the
  book), ``target_orders`` (the book's count) and ``min_orders`` (a rule; in pilot random searches on the Bitstamp
  and LOBSTER AMZN days neither they nor the coupling lowered the spread distance the flow reaches).

  *Moments and loss* (:data:`MOMENTS`, :func:`moment_target`, :func:`moment_terms`, :func:`moment_loss`): the
  book's record (:func:`lobkit.realism.real_record`, as ``lobkit eval-market`` reads it) is read once and its facts
  and :data:`MOMENT_BOOTSTRAP` circular block bootstrap replicates computed once. The loss is
  ``sum_k w_k z_k^2 + 10 x`` (``x`` the share of samples with an empty side) over the standardised differences
  ``z_k`` of the simulated facts from the book's: the total variation distances of the spread distributions and of
  the mean volume by level (on the levels the data shows: 5 for a level-5 LOBSTER file) over
  :data:`MOMENT_TV_SCALE` = 0.1 (a TV of 0.2, the realism report's threshold, costs as much as a fact two
  standard deviations off); the lag-1 autocorrelation of 1-minute returns and the mean autocorrelation of their
  absolute values over lags 1-5, differences over the fact's bootstrap standard deviation; the standard deviation
  (the returns' scale) and the Pearson kurtosis of 1-minute returns, log ratios over the bootstrap standard
  deviation of the log. Equal weights: a diagonal inverse-variance weighting. These are the realism report's five
  targets and the returns' scale (without it, a flow whose mid hardly moves could match the autocorrelations
  cheaply).

  *Simulations:* an evaluation pools about :data:`MOMENT_HOURS` simulated hours, ``round(MOMENT_HOURS / hours)``
  simulations (at least one) with a null agent, each as long as the book's record (as ``eval-market`` simulates)
  after a :data:`MOMENT_WARMUP` warm-up from the generated initial book, on fixed seeds, the same at every point
  (common random numbers: two points differ by their parameters, not by seed noise): children ``i`` of the branch
  :data:`MOMENT_SEED_KEY` of the calibration's seed, which ``eval-market`` never uses (its runs are children
  ``0, 1, ...`` of its seed).

  *Search* over ``(logit s, log impact, log f, log refill_boost)``, from ``(0.9, impact_0, 1, 0.5)``, ``impact_0``
  putting all the 1-minute variance on the efficient price. The loss is noisy (20 simulated hours give the lag-1
  autocorrelation a standard deviation of about 0.03) and flat along a ridge, where Nelder-Mead chases noise; so a
  response-surface search (Box & Wilson 1951; Kleijnen 2008, "Design and analysis of simulation experiments"):
  a Latin hypercube of 55% of the ``moment_evals`` evaluations over the box :data:`MOMENT_BOX` around the start, a
  second of 45% over a box half as wide around the best evaluation so far; then a full quadratic fitted to each
  ``z_k`` by least squares over every evaluation, weighted ``exp(-|(x - c) / h|^2 / 2)`` (``c`` and ``h`` the
  second box's centre and half-widths: a local fit that still sees past the box), and the loss of the fitted
  moments minimised (L-BFGS-B) within ``2 h`` of ``c``. That minimum is evaluated once more and taken. 100
  evaluations take one to two minutes on the shared data. No standard errors for the four (a search's values on
  fixed seeds: another calibration seed moves them along the ridge).

  *What the flow cannot reach* (measured with these moments): the data's spread distributions are narrower than
  the flow's, whose best quotes are minima of geometric distances (gamma-like spreads with many small and some
  wide values; the smallest spread TV found in random searches was about 0.20 on Bitstamp, reached only with
  strong bid-ask bounce, and 0.34 on LOBSTER AMZN); and with geometric market-order sizes the efficient price's
  1-minute returns are light-tailed, so the kurtosis and the volatility clustering come mostly from the book's
  bounce, which the lag-1 autocorrelation limits. The loss trades these off; [fit.moments] records every ``z``.

  Recorded in [fit.moments]: the objective (kind, weight, scale of every moment), the book's facts (``real``) and
  the chosen point's (``simulated``, with the two distances), its ``z``, loss and predicted loss, the best
  evaluation's loss, the seed, runs, duration and levels, and the trace of every evaluation. Without the stage,
  share and impact keep HawkesParams' defaults and ``refill_boost`` the rule (stated in [fit.warnings]).

LOBSTER level-L files show only the events within the top L levels: the calibrated market is that visible part of
the book (its depth and distances are those of the top L levels). Its volume profile is fitted on those L levels;
``lobkit eval-market`` compares 20 by default, where the data shows nothing beyond the L-th (``--levels L``
compares what the data shows).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from lobkit.errors import ConfigError, InputFormatError, LobkitError
from lobkit.flows.hawkes import HawkesParams
from lobkit.sim.config import parse_duration
from lobkit.training.events import (
    CANCEL_BUY,
    CANCEL_SELL,
    EVENT_TYPES,
    LIMIT_BUY,
    LIMIT_SELL,
    MARKET_BUY,
    MARKET_SELL,
    EventStream,
)

#: The file's kind and version ([fit] format, format_version).
FORMAT = "lobkit-calibration"
FORMAT_VERSION = 1
#: [market] fields a calibration file must have, and those it may have (MarketConfig field names).
MARKET_REQUIRED = ("tick_size", "lot_size", "initial_mid")
MARKET_OPTIONAL = ("window", "capacity", "init_levels", "init_orders_per_level")
#: [fit] fields: name -> (type, required).
FIT_FIELDS: dict[str, tuple[type, bool]] = {
    "format": (str, True),
    "format_version": (int, True),
    "lobkit_version": (str, True),
    "created": (str, True),
    "source": (str, True),
    "fingerprint": (str, True),
    "n_events": (int, True),
    "duration_s": (float, True),
    "standard_errors": (dict, True),
    "book": (str, False),
    "seed": (str, False),
    "seconds": (float, False),
    "rates": (dict, False),
    "hawkes": (dict, False),
    "cancellation": (dict, False),
    "distance": (dict, False),
    "sizes": (dict, False),
    "rules": (dict, False),
    "moments": (dict, False),
    "warnings": (list, False),
}
_FLOW_FIELDS = {f.name: f.type for f in fields(HawkesParams)}
_INT_FLOW = tuple(n for n, t in _FLOW_FIELDS.items() if t in (int, "int"))
#: Decays (per second) of the profile's first grid.
BETA_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
MAX_BRANCHING = 0.98
#: The largest max_depth written (ticks): a quarter of the default MarketConfig window. apply_options validates a
#: new flow against the default market before it applies the file's [market] fields, so a deeper flow would be
#: refused there (window < 4 x max_depth) whatever the file's window.
MAX_DEPTH = 2048
REFILL_BOOST = 0.5
NS = 1_000_000_000

# the simulated moments (module docstring)
#: The moments matched: name (a distance of :func:`lobkit.realism.distances` or a fact of
#: :func:`lobkit.realism.scalar_facts`) -> (kind, weight). Kinds: ``"tv"`` a total variation distance over
#: :data:`MOMENT_TV_SCALE`; ``"level"`` the difference, ``"log"`` the log ratio, over the fact's bootstrap sd.
MOMENTS: dict[str, tuple[str, float]] = {
    "spread_tv": ("tv", 1.0),
    "volume_by_level_tv": ("tv", 1.0),
    "acf_lag1": ("level", 1.0),
    "abs_acf_mean_lags_1_5": ("level", 1.0),
    "std_1min": ("log", 1.0),
    "kurtosis_1min": ("log", 1.0),
}
#: The scale of a total variation distance in the loss: a TV of 0.2 (the realism report's threshold) costs as much
#: as a scalar fact two bootstrap sds off (the edge of its 95% interval).
MOMENT_TV_SCALE = 0.1
#: The smallest scale of a scalar moment (a record too short for a bootstrap sd, or one with no variance).
MOMENT_MIN_SCALE = {"level": 0.01, "log": 0.02}
#: The parameters searched, in the order of the search's coordinates.
MOMENT_SEARCH = ("logit efficient_price_share", "log efficient_price_impact",
                 "log of a factor on the distance-based limit_depth_mean", "log refill_boost")
#: Simulated hours an evaluation pools (whole runs as long as the book's record: a null agent, the generated initial
#: book), the runs' warm-up, the levels a side sampled (the volume profile is compared on the levels the data shows),
#: and the evaluations of a search.
MOMENT_HOURS = 20.0
MOMENT_WARMUP = "10min"
MOMENT_LEVELS = 20
MOMENT_EVALS = 100
#: The search's two stages (module docstring): the shares of the evaluations each runs; the first stage's box, as
#: offsets from the start in the search's coordinates (share 0.77 to 0.9945, impact and depth factor e^-1 to e^1
#: and e^-1 to e^1.5 times the start's, refill boost 0.1 to 10 times); the second's is MOMENT_SHRINK as wide.
MOMENT_STAGES = (0.55, 0.45)
MOMENT_BOX = (np.array([-1.0, -1.0, -1.0, -2.3]), np.array([3.0, 1.0, 1.5, 2.3]))
MOMENT_SHRINK = 0.5
#: Block bootstrap replicates of the book's record for the scales of the scalar moments.
MOMENT_BOOTSTRAP = 100
#: The loss added per unit share of samples with an empty side, and the loss of a simulation that fails.
MOMENT_EMPTY_PENALTY = 10.0
MOMENT_FAIL_LOSS = 1e6
#: The branch of the calibration's seed that the moment simulations (``seed/MOMENT_SEED_KEY/i``) and the
#: bootstrap (``seed/MOMENT_SEED_KEY+1``) use: never one that ``eval-market`` (children 0 to runs) uses.
MOMENT_SEED_KEY = 1000


@dataclass(frozen=True, eq=True)
class Calibration:
    """A calibrated market: ``params`` (the flow's parameters), ``market`` (MarketConfig fields: ``tick_size``
    currency per tick, ``lot_size`` data units per lot, ``initial_mid`` currency, optionally ``window`` ticks,
    ``capacity`` orders, ``init_levels``, ``init_orders_per_level``) and ``fit`` (how it was fitted: standard errors,
    source, fingerprint, counts, ...; see the module docstring). Validated on construction
    (:class:`ConfigError` naming the field)."""

    params: HawkesParams
    market: dict
    fit: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.params, HawkesParams):
            raise ConfigError(f"params: expected HawkesParams, got {type(self.params).__name__}")
        _check_market(self.params, self.market)


def _check_market(params: HawkesParams, market: dict) -> None:
    from lobkit.flows.hawkes import HawkesFlow
    from lobkit.sim.config import MarketConfig

    if not isinstance(market, dict):
        raise ConfigError(f"market: expected a table of MarketConfig fields, got {type(market).__name__}")
    for name in MARKET_REQUIRED:
        if name not in market:
            raise ConfigError(f"{name}: missing")
    for name in market:
        if name not in MARKET_REQUIRED + MARKET_OPTIONAL:
            raise ConfigError(f"{name}: unknown field (known: {', '.join(MARKET_REQUIRED + MARKET_OPTIONAL)})")
    m = MarketConfig(**market)
    HawkesFlow.check_market(params, m)


# ------------------------------------------------------------------------------------------------ the file
def read_calibration(path: str | Path) -> Calibration:
    """The :class:`Calibration` in the TOML file ``path``.

    Raises :class:`InputFormatError` naming the file and the field (``flow.limit_rate: missing``) for a missing file,
    one that is not TOML, of another format or version, a missing, unknown or bad field."""
    p = Path(path) if path is not None else None
    if p is None or not p.is_file():
        raise InputFormatError(path, None, "no such calibration file (write one with lobkit calibrate)"
                               if p is None or not p.is_dir() else "a directory, not a calibration file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputFormatError(p, None, "not a calibration file (not text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFormatError(p, None, f"not TOML ({exc})") from None

    def bad(msg: str):
        return InputFormatError(p, None, msg)

    for name in doc:
        if name not in ("market", "flow", "fit"):
            raise bad(f"{name}: unknown section (a calibration file has [market], [flow] and [fit])")
    for name in ("fit", "market", "flow"):
        if name not in doc:
            raise bad(f"[{name}]: missing section")
        if not isinstance(doc[name], dict):
            raise bad(f"{name}: expected a table, got {_toml_kind(doc[name])}")
    fit = doc["fit"]
    fmt = fit.get("format")
    if fmt != FORMAT:
        raise bad(f"fit.format: expected {FORMAT!r}, got {fmt!r} (not a file of lobkit calibrate)"
                  if fmt is not None else "fit.format: missing (not a file of lobkit calibrate)")
    for name, (kind, required) in FIT_FIELDS.items():
        if name not in fit:
            if required:
                raise bad(f"fit.{name}: missing")
            continue
        v = fit[name]
        ok = isinstance(v, int | float) and not isinstance(v, bool) if kind is float else (
            isinstance(v, kind) and not isinstance(v, bool))
        if not ok:
            raise bad(f"fit.{name}: expected {_kind_name(kind)}, got {_toml_kind(v)}")
    for name in fit:
        if name not in FIT_FIELDS:
            raise bad(f"fit.{name}: unknown field")
    if fit["format_version"] != FORMAT_VERSION:
        raise bad(f"fit.format_version: this lobkit reads version {FORMAT_VERSION}, got {fit['format_version']}")
    for name, v in fit["standard_errors"].items():
        if name not in _FLOW_FIELDS:
            raise bad(f"fit.standard_errors.{name}: unknown field (standard errors are of [flow] fields)")
        if isinstance(v, bool) or not isinstance(v, int | float) or not (v >= 0 and math.isfinite(v)):
            raise bad(f"fit.standard_errors.{name}: expected a number >= 0, got {v!r}")

    flow = doc["flow"]
    values = {}
    for name in _FLOW_FIELDS:
        if name not in flow:
            raise bad(f"flow.{name}: missing")
        v = flow[name]
        if name in _INT_FLOW:
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad(f"flow.{name}: expected an integer, got {_toml_kind(v)} {v!r}")
        elif isinstance(v, bool) or not isinstance(v, int | float):
            raise bad(f"flow.{name}: expected a number, got {_toml_kind(v)} {v!r}")
        values[name] = v if name in _INT_FLOW else float(v)
    for name in flow:
        if name not in _FLOW_FIELDS:
            raise bad(f"flow.{name}: unknown field (the fields are HawkesParams': {', '.join(_FLOW_FIELDS)})")
    try:
        params = HawkesParams(**values)
    except ConfigError as exc:
        raise bad(f"flow.{exc}") from None

    market = doc["market"]
    for name in MARKET_REQUIRED:
        if name not in market:
            raise bad(f"market.{name}: missing")
    for name, v in market.items():
        if name not in MARKET_REQUIRED + MARKET_OPTIONAL:
            raise bad(f"market.{name}: unknown field (known: {', '.join(MARKET_REQUIRED + MARKET_OPTIONAL)})")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise bad(f"market.{name}: expected a number, got {_toml_kind(v)} {v!r}")
    try:
        return Calibration(params, dict(market), fit)
    except ConfigError as exc:
        raise bad(f"market.{exc}") from None


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", dict: "a table", list: "an array"}[kind]


def _toml_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    for kind in (str, int, float, dict, list):
        if isinstance(v, kind):
            return _kind_name(kind)
    return f"a {type(v).__name__}"


def _plain(v: Any) -> Any:
    """``v`` with numpy scalars and arrays as Python values, tuples as lists (what TOML can hold)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple | np.ndarray):
        return [_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_calibration(cal: Calibration, path: str | Path) -> Path:
    """Write ``cal`` to ``path`` (TOML: [market], [flow], [fit]) atomically: a temporary file in the same
    directory, then a rename. Returns the path. Raises :class:`ConfigError` if ``path`` is a directory."""
    import tomli_w

    from lobkit import __version__

    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"out: {p} is a directory; give a file name (market.toml)")
    doc = {"market": _plain(cal.market), "flow": _plain(asdict(cal.params)), "fit": _plain(cal.fit)}
    src = cal.fit.get("source", "?")
    head = (f"# lobkit calibrated market ({FORMAT} {FORMAT_VERSION}): the parametric Hawkes flow fitted by lobkit "
            f"calibrate (lobkit {cal.fit.get('lobkit_version', __version__)})\n"
            f"# to {src}, {cal.fit.get('created', '')}.\n"
            "# Use it as --flow calibrated:THIS_FILE. Rates per second, distances in ticks, sizes in lots;\n"
            "# [fit] says how every value was estimated (lobkit/training/calibrate.py).\n\n")
    text = head + tomli_w.dumps(doc)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


# ------------------------------------------------------------------------------------------------ Hawkes
def decayed_counts(t: np.ndarray, k: np.ndarray, n_types: int, beta: float, end: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(R, H)`` of events at times ``t`` (float64 seconds, sorted) of types ``k``: ``R[i, j]`` (float64[N, K]) the
    sum over earlier events ``l < i`` of type ``j`` of ``exp(-beta (t_i - t_l))`` (the state of an exponential
    kernel's recursion, Ozaki 1979), ``H[j]`` (float64[K]) the sum over type-``j`` events of
    ``1 - exp(-beta (end - t_l))`` (``beta`` times the integral of ``R_j`` over ``[0, end]``).

    Vectorised in blocks of ``600 / beta`` seconds: within a block, ``exp(beta (t - block start))`` (at most
    ``e^600``) is summed with a cumulative sum and scaled back; the state is carried from block to block."""
    n = len(t)
    R = np.zeros((n, n_types))
    if n == 0:
        return R, np.zeros(n_types)
    span = 600.0 / beta
    t0 = float(t[0])
    group = np.floor((t - t0) / span).astype(np.int64)
    cuts = np.flatnonzero(np.diff(group)) + 1
    bounds = np.r_[0, cuts, n]
    carry = np.zeros(n_types)  # the state at the current block's start
    ref_prev = t0
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        ref = t0 + group[lo] * span
        carry = carry * math.exp(-beta * (ref - ref_prev))
        ref_prev = ref
        x = t[lo:hi] - ref
        w = np.zeros((hi - lo, n_types))
        w[np.arange(hi - lo), k[lo:hi]] = np.exp(beta * x)
        excl = np.zeros_like(w)
        np.cumsum(w[:-1], axis=0, out=excl[1:])
        R[lo:hi] = np.exp(-beta * x)[:, None] * (carry[None, :] + excl)
        carry = carry + excl[-1] + w[-1]
    H = np.bincount(k, weights=-np.expm1(-beta * (end - t)), minlength=n_types)
    return R, H


#: Names of the structured parameters, in the order of the feature columns.
_PHI = ("a", "c", "market_rate", "excite_limit_limit", "excite_limit_refill", "excite_market_same",
        "excite_market_cross")
LB, LS, MB, MS = range(4)


def _features(t, k, beta, end):
    """The design of the structured log-likelihood: ``X`` (float64[N, 7]: the intensity at event ``i`` is
    ``X[i] @ phi``) and ``g`` (float64[7]: the compensator over ``[0, end]`` is ``g @ phi``)."""
    R, H = decayed_counts(t, k, 4, beta, end)
    rm = R[:, MB] + R[:, MS]
    rm_mean = (H[MB] + H[MS]) / (beta * end)  # time average of R_m over the window
    n = len(t)
    X = np.zeros((n, 7))
    lim = k <= LS
    X[lim, 0] = 1.0
    X[lim, 1] = rm[lim] / rm_mean if rm_mean > 0 else 0.0
    own = np.where(k == LB, R[:, LB], R[:, LS])
    refill = np.where(k == LB, R[:, MS], R[:, MB])  # a market sell consumed bids: bids refill
    X[lim, 3] = beta * own[lim]
    X[lim, 4] = beta * refill[lim]
    mkt = ~lim
    same = np.where(k == MB, R[:, MB], R[:, MS])
    cross = np.where(k == MB, R[:, MS], R[:, MB])
    X[mkt, 2] = 1.0
    X[mkt, 5] = beta * same[mkt]
    X[mkt, 6] = beta * cross[mkt]
    g = np.array([2 * end, 2 * end if rm_mean > 0 else 0.0, 2 * end, H[LB] + H[LS], H[MB] + H[MS], H[MB] + H[MS],
                  H[MB] + H[MS]])
    return X, g


def _mle(X, g, start=None):
    """Maximise ``sum log(X phi) - g phi`` over ``phi >= 0`` (concave): ``(phi, loglik, information)`` with the
    observed information ``X^T diag(1 / lambda^2) X``."""
    from scipy.optimize import minimize

    n_events = len(X)
    if start is None:
        start = np.array([0.5 * n_events / g[0], 0.1 * n_events / g[0], 0.5 * n_events / g[2], 0.1, 0.1, 0.1, 0.1])
        start[2] = max(start[2], 1e-6)
    scale = np.maximum(np.abs(start), 1e-3)

    def f(z):
        phi = z * scale
        lam = X @ phi
        if np.any(lam <= 0):
            return np.inf, np.zeros_like(z)
        val = -(np.log(lam).sum() - g @ phi)
        grad = -(X.T @ (1.0 / lam) - g)
        return val / n_events, grad * scale / n_events

    # base rates stay > 0 (an intensity with no history is its base rate alone); branching ratios >= 0
    lower = np.array([1e-10, 0.0, 1e-10, 0.0, 0.0, 0.0, 0.0]) / scale
    res = minimize(f, np.maximum(start / scale, lower), jac=True, method="L-BFGS-B",
                   bounds=[(lo, None) for lo in lower],
                   options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10})
    phi = res.x * scale
    lam = X @ phi
    info = (X / lam[:, None] ** 2).T @ X
    return phi, float(np.log(lam).sum() - g @ phi), info


def _profile(t, k, end, beta, start=None):
    X, g = _features(t, k, beta, end)
    phi, ll, info = _mle(X, g, start)
    return phi, ll, info


def fit_structured_hawkes(t: np.ndarray, k: np.ndarray, end: float, grid=BETA_GRID) -> dict:
    """The structured Hawkes fit of the module docstring on order events at ``t`` (float64 seconds) of types ``k``
    (0 limit buy, 1 limit sell, 2 market buy, 3 market sell) over ``[0, end]``.

    Returns a dict: ``beta`` (per second), ``phi`` (the seven parameters of ``_PHI``: ``a``, ``c'`` and
    ``market_rate`` per second, four branching ratios), ``cov`` (their covariance: the inverse observed information,
    over the parameters off their bound; NaN rows for those at 0), ``beta_se``, ``loglik``, ``grid`` (the
    profile's first grid and log-likelihoods)."""
    from scipy.optimize import minimize_scalar

    lls = []
    for b in grid:
        lls.append(_profile(t, k, end, b)[1])
    i = int(np.argmax(lls))
    lo = math.log(grid[max(i - 1, 0)])
    hi = math.log(grid[min(i + 1, len(grid) - 1)])
    cache: dict[float, tuple] = {}

    def neg(logb):
        r = _profile(t, k, end, math.exp(logb))
        cache[logb] = r
        return -r[1]

    at_edge = i in (0, len(grid) - 1)
    if not at_edge:
        res = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
        logb = float(res.x)
    else:  # the maximum is at the grid's end: kept there (no standard error)
        logb = math.log(grid[i])
    phi, ll, info = cache.get(logb) or _profile(t, k, end, math.exp(logb))
    beta = math.exp(logb)
    beta_se = float("nan")
    if not at_edge:  # profile curvature in log beta (central second difference)
        h = 0.05
        llp = _profile(t, k, end, math.exp(logb + h), phi)[1]
        llm = _profile(t, k, end, math.exp(logb - h), phi)[1]
        curv = -(llp - 2 * ll + llm) / h ** 2
        beta_se = beta / math.sqrt(curv) if curv > 0 else float("nan")
    free = phi > 1e-9 * np.maximum(1.0, np.abs(phi).max())
    cov = np.full((7, 7), np.nan)
    sub = info[np.ix_(free, free)]
    if np.linalg.cond(sub) < 1e14:
        cov[np.ix_(free, free)] = np.linalg.inv(sub)
    return {"beta": beta, "phi": phi, "cov": cov, "beta_se": beta_se, "loglik": ll, "at_edge": at_edge,
            "grid": [float(b) for b in grid], "grid_loglik": [float(v) for v in lls]}


def _tick_crosscheck(t, k, end, beta) -> dict:
    """tick's unconstrained 4 x 4 exponential Hawkes fit at decay ``beta`` (least squares,
    :func:`lobkit.training.hawkes.fit_sumexp`), and its adjacency mapped onto the structure."""
    from lobkit.training.events import make_stream
    from lobkit.training.hawkes import fit_sumexp

    s = make_stream(t, k, duration_s=end, n_types=4, source="order events")
    m = fit_sumexp(s, decays=np.array([beta]))
    A = m.A[:, :, 0]
    return {
        "tick_baseline": [float(v) for v in m.mu],
        "tick_adjacency": [[float(v) for v in row] for row in A],
        "tick_mapped": {
            "limit_rate": float((m.mu[LB] + m.mu[LS]) / 2),
            "market_rate": float((m.mu[MB] + m.mu[MS]) / 2),
            "excite_limit_limit": float((A[LB, LB] + A[LS, LS]) / 2),
            "excite_limit_refill": float((A[LB, MS] + A[LS, MB]) / 2),
            "excite_market_same": float((A[MB, MB] + A[MS, MS]) / 2),
            "excite_market_cross": float((A[MB, MS] + A[MS, MB]) / 2),
        },
    }


# ------------------------------------------------------------------------------------------------ the book
@dataclass(frozen=True)
class BookStats:
    """What the calibration takes from a snapshot source: ``initial_mid`` (currency), ``mean_spread`` (ticks,
    time-weighted), ``coverage`` (ticks from the best that the last level reaches in 90% of snapshots),
    ``volume`` (float64[2, G]: data units within ``coverage`` of the best, bids and asks, on a 1 s grid),
    ``description``. (The book's market facts, for the simulated moments, are :mod:`lobkit.realism`'s:
    :func:`moment_target`.)"""

    initial_mid: float
    mean_spread: float
    coverage: int
    volume: np.ndarray
    description: str


def book_stats(spec, tick_size: float) -> BookStats:
    """:class:`BookStats` of the snapshot source ``spec`` (a lob-btc.db-style SQLite file, a LOBSTER zip, a
    ``postgresql://`` URL: :func:`lobkit.data.sources.open_source`); prices in currency, ``tick_size`` currency per
    tick."""
    import polars as pl

    from lobkit.data.sources import open_source

    src = open_source(spec)
    with src.snapshots() as st:
        frames = list(st)
    if not frames:
        raise InputFormatError(src.description, None, "no snapshots")
    f = pl.concat(frames).filter((pl.col("bid_px").list.len() > 0) & (pl.col("ask_px").list.len() > 0))
    if f.height < 2:
        raise InputFormatError(src.description, None, "fewer than two snapshots with both sides")
    ts = f["ts"].dt.epoch("us").to_numpy().astype(np.int64) * 1000
    bb = f["bid_px"].list.first().to_numpy()
    ba = f["ask_px"].list.first().to_numpy()
    spread = np.round((ba - bb) / tick_size)
    mid = (ba + bb) / 2.0
    reach_b = np.round((bb - f["bid_px"].list.last().to_numpy()) / tick_size)
    reach_a = np.round((f["ask_px"].list.last().to_numpy() - ba) / tick_size)
    coverage = int(max(np.percentile(np.minimum(reach_b, reach_a), 10), 0))
    vols = []
    for side, best, sign in (("bid", bb, 1.0), ("ask", ba, -1.0)):
        px = f[f"{side}_px"].explode().to_numpy()
        q = f[f"{side}_qty"].explode().to_numpy()
        row = np.repeat(np.arange(f.height), f[f"{side}_px"].list.len().to_numpy())
        dist = np.round(sign * (best[row] - px) / tick_size)
        vols.append(np.bincount(row, weights=np.where(dist <= coverage, q, 0.0), minlength=f.height))
    grid = np.arange(ts[0], ts[-1] + 1, NS)
    at = np.searchsorted(ts, grid, side="right") - 1
    return BookStats(float(mid[0]), float(spread[at].mean()), coverage, np.vstack(vols)[:, at], src.description)


# ------------------------------------------------------------------------------------------------ calibrate
def _lot_rule(stream: EventStream) -> float:
    """The power of ten that makes the median market order 10-99 lots (limit orders when there is no market
    order)."""
    m = stream.size[(stream.type == MARKET_BUY) | (stream.type == MARKET_SELL)]
    if not len(m) or np.median(m) <= 0:
        m = stream.size[(stream.type == LIMIT_BUY) | (stream.type == LIMIT_SELL)]
    med = float(np.median(m)) if len(m) else 1.0
    if med <= 0:
        return 1.0
    return float(10.0 ** (math.floor(math.log10(med)) - 1))


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")


def _running_count(stream: EventStream, limit_mean_size: float) -> np.ndarray:
    """``float64[2, G]``: the stream's own count of resting orders a side on a 1 s grid (limits less cancels less
    executed orders: a market order's size over the mean limit-order size), from the smallest starting count that
    keeps it >= 0."""
    k = stream.type
    grid = np.arange(0, stream.duration_ns + 1, NS)
    out = []
    for lim, canc, mkt in ((LIMIT_BUY, CANCEL_BUY, MARKET_SELL), (LIMIT_SELL, CANCEL_SELL, MARKET_BUY)):
        step = (k == lim).astype(np.float64) - (k == canc) - np.where(k == mkt, stream.size / limit_mean_size, 0.0)
        level = np.cumsum(step)
        start = max(0.0, -float(level.min()))
        at = np.searchsorted(stream.time_ns, grid, side="right") - 1
        out.append(start + np.where(at >= 0, level[np.maximum(at, 0)], 0.0))
    return np.vstack(out)


def calibrate(stream: EventStream, *, tick_size: float, lot_size: float | None = None, book=None, seed=None,
              initial_mid: float | None = None, spread_ticks: float | None = None, moments: bool = True,
              moment_evals: int = MOMENT_EVALS, moment_duration: str | None = None,
              moment_hours: float = MOMENT_HOURS, progress: bool = False, source: str | None = None) -> Calibration:
    """Fit the parametric flow to ``stream`` (the estimators of the module docstring).

    tick_size: currency per tick of the data (the stream's distances are in these ticks). lot_size: data units
    (shares, BTC) per lot; None: the module docstring's rule. book: a snapshot source of the same market (its
    depth gives the cancellation rate, its spread the distance mapping, its first mid the initial mid, and its
    market facts the simulated moments); None: the stream's own running count, ``spread_ticks`` and
    ``initial_mid`` (both required then). seed: of the moment simulations and their bootstrap weights
    (:mod:`lobkit.seeds`). moments: fit ``efficient_price_share``, ``efficient_price_impact``, ``limit_depth_mean``
    and ``refill_boost`` by simulated moments (needs ``book``), ``moment_evals`` evaluations, each of simulations
    pooling about ``moment_hours`` hours, each simulation ``moment_duration`` long after its warm-up (a duration
    such as ``"1h"``; None: as long as the book's record, as ``lobkit eval-market`` simulates). source: what to
    record as the source (default the stream's). Raises :class:`ConfigError` for bad arguments."""
    from lobkit import __version__
    from lobkit.seeds import label, seed_sequence
    from lobkit.validate import check_value

    started = time.perf_counter()
    check_value("tick_size", tick_size, "number", lo=0.0, lo_open=True)
    if lot_size is not None:
        check_value("lot_size", lot_size, "number", lo=0.0, lo_open=True)
    check_value("moment_evals", moment_evals, "int", lo=1, hi=10_000)
    if moment_duration is not None:
        parse_duration(moment_duration, "moment_duration")
    check_value("moment_hours", moment_hours, "number", lo=0.0, lo_open=True)
    ss = seed_sequence(seed)
    warnings: list[str] = []
    T = stream.duration_ns / NS
    if T <= 0:
        raise ConfigError(f"{stream.source}: the stream lasts no time")
    counts = np.bincount(stream.type, minlength=6)
    n_lim, n_mkt = int(counts[LIMIT_BUY] + counts[LIMIT_SELL]), int(counts[MARKET_BUY] + counts[MARKET_SELL])
    if n_lim < 10 or n_mkt < 4:
        raise InputFormatError(stream.source, None, f"too few orders to calibrate ({n_lim} limit and {n_mkt} market "
                                                     "orders; at least 10 and 4)")
    bs = None
    if book is not None:
        bs = book_stats(book, tick_size)
        if initial_mid is None:
            initial_mid = bs.initial_mid
        if spread_ticks is None:
            spread_ticks = bs.mean_spread
    if initial_mid is None:
        raise ConfigError("initial_mid: give the data's first mid (currency) or a book")
    if spread_ticks is None:
        raise ConfigError("spread_ticks: give the data's mean spread (ticks) or a book")
    check_value("initial_mid", initial_mid, "number", lo=0.0, lo_open=True)
    check_value("spread_ticks", spread_ticks, "number", lo=0.0)
    rule_lot = lot_size is None
    if rule_lot:
        lot_size = _lot_rule(stream)
    mid_ticks = initial_mid / tick_size

    # --- rates (Poisson)
    rates = {}
    for j, name in enumerate(EVENT_TYPES):
        rates[name] = float(counts[j] / T)
        rates[f"{name}_se"] = float(math.sqrt(counts[j]) / T)
    for kind, a, b in (("limit", LIMIT_BUY, LIMIT_SELL), ("market", MARKET_BUY, MARKET_SELL),
                       ("cancel", CANCEL_BUY, CANCEL_SELL)):
        rates[f"{kind}_per_side"] = float((counts[a] + counts[b]) / (2 * T))
        rates[f"{kind}_per_side_se"] = float(math.sqrt(counts[a] + counts[b]) / (2 * T))

    # --- the Hawkes part: the four order types
    order = stream.type <= MARKET_SELL
    t_ord = stream.time_ns[order] / NS
    k_ord = stream.type[order].astype(np.int64)
    hk = fit_structured_hawkes(t_ord, k_ord, T)
    phi, cov, beta = hk["phi"], hk["cov"], hk["beta"]
    a, c = phi[0], phi[1]
    limit_rate = a + c
    kappa = c / limit_rate if limit_rate > 0 else 0.0
    ses: dict[str, float] = {}
    grad_mu = np.array([1.0, 1.0])
    grad_kappa = np.array([-c, a]) / limit_rate ** 2 if limit_rate > 0 else np.zeros(2)
    cov_ac = cov[:2, :2]

    def put(name, v):
        if v is not None and np.isfinite(v):
            ses[name] = float(v)

    if np.isfinite(cov_ac).all():
        put("limit_rate", math.sqrt(max(grad_mu @ cov_ac @ grad_mu, 0.0)))
        put("activity_coupling", math.sqrt(max(grad_kappa @ cov_ac @ grad_kappa, 0.0)))
    elif np.isfinite(cov[0, 0]):
        put("limit_rate", math.sqrt(cov[0, 0]))
    for i, name in enumerate(_PHI[2:], start=2):
        if np.isfinite(cov[i, i]):
            put(name, math.sqrt(max(cov[i, i], 0.0)))
    put("hawkes_beta", hk["beta_se"])
    for i, name in enumerate(_PHI):
        if i >= 2 and not phi[i] > 1e-9:
            warnings.append(f"{name}: at its bound (0), no standard error")
    if hk["at_edge"]:
        warnings.append(f"hawkes_beta: the profile likelihood is largest at the grid's end ({beta:g} per second: "
                        "simultaneous events or bursts faster than the grid); kept there, no standard error")
    exc = {n: float(phi[i]) for i, n in enumerate(_PHI) if i >= 3}
    rho = exc["excite_market_same"] + exc["excite_market_cross"]
    if rho >= MAX_BRANCHING:
        f = MAX_BRANCHING / rho
        warnings.append(f"excite_market_same + excite_market_cross = {rho:.4g} >= {MAX_BRANCHING} (explosive or "
                        f"nearly): both scaled by {f:.4g}")
        exc["excite_market_same"] *= f
        exc["excite_market_cross"] *= f
    if exc["excite_limit_limit"] >= MAX_BRANCHING:
        warnings.append(f"excite_limit_limit = {exc['excite_limit_limit']:.4g} >= {MAX_BRANCHING}: clipped")
        exc["excite_limit_limit"] = MAX_BRANCHING
    market_rate = float(phi[2])
    if market_rate <= 0:
        market_rate = 1e-6
        warnings.append("market_rate: the fit's immigrant rate is 0; set to 1e-6 per second")
    if limit_rate <= 0:
        limit_rate = 1e-6
        warnings.append("limit_rate: the fit's immigrant rate is 0; set to 1e-6 per second")
    hawkes_doc = {"method": "structured exponential Hawkes MLE (4 order types), beta by profile likelihood",
                  "loglik": hk["loglik"], "n_order_events": int(len(t_ord)), "beta_grid": hk["grid"],
                  "beta_grid_loglik": hk["grid_loglik"], "limit_base_a": float(a), "limit_coupled_c": float(c)}
    try:
        hawkes_doc.update(_tick_crosscheck(t_ord, k_ord, T, beta))
    except (LobkitError, ValueError, RuntimeError, AttributeError) as exc_:
        warnings.append(f"tick cross-check failed: {exc_}")

    # --- sizes (lots)
    lim_mask = (stream.type == LIMIT_BUY) | (stream.type == LIMIT_SELL)
    mkt_mask = (stream.type == MARKET_BUY) | (stream.type == MARKET_SELL)
    lim_lots = np.maximum(1.0, np.round(stream.size[lim_mask] / lot_size))
    mkt_lots = np.maximum(1.0, np.round(stream.size[mkt_mask] / lot_size))
    max_market = int(max(1, math.ceil(np.quantile(mkt_lots, 0.999))))
    limit_size_mean, ses["limit_size_mean"] = _mean_se(lim_lots)
    market_size_mean, ses["market_size_mean"] = _mean_se(np.minimum(mkt_lots, max_market))
    limit_size_mean = max(limit_size_mean, 1.0)
    market_size_mean = max(market_size_mean, 1.0)
    limit_mean_units = float(stream.size[lim_mask].mean())

    # --- distances
    dist = stream.distance[lim_mask].astype(np.float64)
    S = float(spread_ticks)
    depth_cap = max(1, min(int(mid_ticks // 4), MAX_DEPTH))

    def depth_of(share: float) -> tuple[float, float, int]:
        offset = S * (1.0 - share / 2.0)
        d = dist + offset
        max_depth = int(min(max(math.ceil(np.quantile(d, 0.999)), 1), depth_cap))
        w = np.clip(d, 1.0 - S + offset, max_depth)
        m, se = _mean_se(w)
        return min(max(m, 1.0), float(max_depth)), se, max_depth

    share0 = HawkesParams.efficient_price_share
    depth_mean, depth_se, max_depth = depth_of(share0)
    ses["limit_depth_mean"] = depth_se
    if max_depth == depth_cap:
        warnings.append(f"max_depth: capped at {depth_cap} ticks (at most a quarter of the initial mid, as the flow "
                        f"needs, and at most {MAX_DEPTH}: see MAX_DEPTH)")

    # --- cancellations and resting orders
    lim_dist = stream.distance
    if bs is not None:
        cov_d = bs.coverage
        n_side = bs.volume / limit_mean_units
        cancels = int((((stream.type == CANCEL_BUY) | (stream.type == CANCEL_SELL)) & (lim_dist <= cov_d)).sum())
        n_mean = float(n_side.mean(axis=1).mean())
        placed_within = float((dist <= cov_d).mean())
        target = n_mean / max(placed_within, 1e-9)
        canc_doc = {"method": f"book: volume within {cov_d} ticks of the best / mean limit size "
                              f"({limit_mean_units:.6g}); cancels within {cov_d} ticks",
                    "coverage_ticks": cov_d, "share_placed_within": placed_within}
    else:
        n_side = _running_count(stream, limit_mean_units)
        cancels = int(counts[CANCEL_BUY] + counts[CANCEL_SELL])
        n_mean = float(n_side.mean(axis=1).mean())
        target = n_mean
        canc_doc = {"method": "the stream's running count (limits - cancels - executed orders), all depths"}
    if n_mean <= 0 or cancels == 0:
        raise InputFormatError(stream.source, None, "cannot estimate the cancellation rate (no resting orders or no "
                                                     "cancellations)")
    cancel_rate = cancels / (T * 2 * n_mean)  # C / integral of n(t) dt over both sides
    rel_var = 1.0 / cancels
    if bs is None:
        # the executed-order count is estimated (size / mean size): with geometric order sizes each lot a market
        # order takes completes an order with probability 1 / m, so its error is a martingale with increments of
        # variance s (1/m)(1 - 1/m) (s, m in lots), and an increment at t_i moves the integral of n by (T - t_i)
        m_lots = max(limit_size_mean, 1.0)
        t_m = stream.time_ns[mkt_mask] / NS
        var_int = float((mkt_lots / m_lots * (1.0 - 1.0 / m_lots) * (T - t_m) ** 2).sum())
        rel_var += var_int / (T * 2 * n_mean) ** 2
        canc_doc["se_method"] = "Poisson and the running count's execution error (geometric sizes)"
    else:
        canc_doc["se_method"] = "Poisson (the book's order count taken as exact)"
    ses["cancel_rate"] = cancel_rate * math.sqrt(rel_var)
    canc_doc.update({"cancels_counted": cancels, "mean_resting_orders_per_side": n_mean,
                     "mean_resting_orders_per_side_all_depths": float(target)})
    target_orders = int(max(1, round(target)))
    min_orders = int(max(1, round(target_orders / 10)))

    params = HawkesParams(
        limit_rate=float(limit_rate), market_rate=market_rate, cancel_rate=float(cancel_rate),
        hawkes_beta=float(beta), activity_coupling=float(min(max(kappa, 0.0), 1.0)),
        limit_depth_mean=float(depth_mean), max_depth=max_depth, limit_size_mean=float(limit_size_mean),
        market_size_mean=float(market_size_mean), max_market_size=max_market, target_orders=target_orders,
        refill_boost=REFILL_BOOST, min_orders=min_orders, **exc)
    window = _window(max_depth)
    capacity = int(max(1 << 15, 1 << math.ceil(math.log2(max(16 * target_orders, 2)))))
    init_levels = int(min(max(1, target_orders), window // 4, 10_000))
    market = {"tick_size": float(tick_size), "lot_size": float(lot_size), "initial_mid": float(initial_mid),
              "window": window, "capacity": capacity, "init_levels": init_levels, "init_orders_per_level": 1}

    moments_doc: dict[str, Any] = {}
    if moments and bs is not None:
        from lobkit.seeds import child

        target = moment_target(book, tick_size, child(ss, MOMENT_SEED_KEY + 1))
        duration_ns = target.record.duration_ns if moment_duration is None else parse_duration(moment_duration)
        params, moments_doc = _fit_moments(params, market, target, ss, moment_evals, duration_ns, progress,
                                           depth_of, depth_cap, moment_hours)
        # limit_depth_mean is now a simulated-moment value: its distance-based estimate and SE are kept in [fit]
        ses.pop("limit_depth_mean", None)
    elif moments:
        warnings.append("efficient_price_share, efficient_price_impact, refill_boost: HawkesParams' defaults and "
                        "the rule (no book to match simulated moments to)")
    else:
        warnings.append("efficient_price_share, efficient_price_impact, refill_boost: HawkesParams' defaults and "
                        "the rule (moments skipped)")
    if params.max_depth != max_depth:  # the moment search widened it
        market["window"] = _window(params.max_depth)

    fit = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "lobkit_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "source": source or stream.source, "fingerprint": stream.fingerprint(), "n_events": len(stream),
        "duration_s": float(T), "standard_errors": ses, "seed": label(ss),
        "book": bs.description if bs is not None else None,
        "rates": {**rates, "counts": {n: int(counts[j]) for j, n in enumerate(EVENT_TYPES)}},
        "hawkes": hawkes_doc,
        "cancellation": canc_doc,
        "distance": {"mean_spread_ticks": S, "mean_distance_from_own_best": float(dist.mean()),
                     "limit_depth_mean_from_distances": float(depth_mean), "limit_depth_mean_se": float(depth_se),
                     "rule": "limit_depth_mean = mean(distance) + S (1 - efficient_price_share / 2)"},
        "sizes": {"lot_size_rule": "median market order 10-99 lots (power of ten)" if rule_lot else "given",
                  "limit_size_units_mean": limit_mean_units,
                  "market_size_units_mean": float(stream.size[mkt_mask].mean())},
        "rules": {"refill_boost": f"{REFILL_BOOST}: not identified by event counts (a mild refill of thin books)"
                                  + ("; the start of the simulated-moment search, which fits it" if moments_doc
                                     else ""),
                  "min_orders": "target_orders / 10",
                  "target_orders": "mean resting orders a side",
                  "market": "window >= 4 max_depth; generated initial book of target_orders one-order levels"},
        "moments": moments_doc,
        "warnings": warnings,
        "seconds": float(time.perf_counter() - started),
    }
    return Calibration(params, market, _plain(fit))


@dataclass(frozen=True, eq=False)
class MomentTarget:
    """What the simulated moments are matched to: the book's :class:`~lobkit.realism.MarketRecord` (``record``, read
    as ``lobkit eval-market`` reads it, without events), its facts (``facts``: :func:`lobkit.realism.market_facts`),
    ``levels`` (the levels a side the data shows: 20 for lob-btc.db, 5 for a LOBSTER level-5 file; the volume
    profiles are compared on these) and ``scales`` (moment name -> what its difference is divided by: the block
    bootstrap sd of the fact for the scalar moments, :data:`MOMENT_TV_SCALE` for the distances)."""

    record: Any
    facts: dict
    levels: int
    scales: dict


def moment_target(book, tick_size: float, seed, replicates: int = MOMENT_BOOTSTRAP) -> MomentTarget:
    """The :class:`MomentTarget` of the snapshot source ``book`` (prices in currency, ``tick_size`` currency per
    tick): its record (:func:`lobkit.realism.real_record`, no events: the moments are the book's), its facts, and
    the scales of the scalar moments: the standard deviation (of the log for ``"log"`` moments) of the fact over
    ``replicates`` circular block bootstrap replicates of the record (:func:`lobkit.realism.bootstrap_facts`, drawn
    with ``seed``), at least :data:`MOMENT_MIN_SCALE`."""
    from lobkit.realism import bootstrap_facts, market_facts, real_record, scalar_facts

    rec = real_record(book, tick_size=tick_size, levels=MOMENT_LEVELS, events="none")
    shown = max(int(np.isfinite(v).any(axis=0).sum()) for v in (rec.bid_volume, rec.ask_volume))
    facts = market_facts(rec)
    reps = [scalar_facts(f) for f in bootstrap_facts(rec, seed, replicates=replicates)]
    scales = {}
    for name, (kind, _) in MOMENTS.items():
        if kind == "tv":
            scales[name] = MOMENT_TV_SCALE
            continue
        v = np.array([r[name] for r in reps], dtype=np.float64)
        if kind == "log":
            v = np.log(v[v > 0])
        v = v[np.isfinite(v)]
        sd = float(v.std(ddof=1)) if len(v) > 2 else math.nan
        scales[name] = max(sd, MOMENT_MIN_SCALE[kind]) if math.isfinite(sd) else 10 * MOMENT_MIN_SCALE[kind]
    return MomentTarget(rec, facts, max(shown, 1), scales)


def simulated_facts(params: HawkesParams, market: dict, seed, runs: int, *, duration_ns: int,
                    warmup: str = MOMENT_WARMUP, levels: int = MOMENT_LEVELS) -> tuple[dict, float]:
    """``(facts, empty_share)``: :func:`lobkit.realism.market_facts` of ``runs`` simulations of the flow ``params``
    in ``market`` (MarketConfig fields) with a null agent, pooled (:func:`lobkit.realism.simulated_records`: run
    ``i`` seeded with child ``i`` of ``seed``; the generated initial book, ``warmup`` left out, then
    ``duration_ns`` sampled every second, ``levels`` levels a side); and the share of the samples with an empty
    side (which every fact skips)."""
    from lobkit.realism import market_facts, simulated_records
    from lobkit.realism.record import EMPTY
    from lobkit.sim.options import apply_options

    cfg = apply_options(None, {"flow": "hawkes", "agent": "null", "warmup": warmup, **market, **asdict(params),
                               "duration_ns": parse_duration(warmup, "warmup") + int(duration_ns)})
    recs = simulated_records(cfg, seed, runs, levels=levels)
    empty = float(np.mean(np.concatenate([(r.bid == EMPTY) | (r.ask == EMPTY) for r in recs])))
    return market_facts(recs), empty


def moment_terms(target: MomentTarget, sim_facts: dict) -> dict[str, float]:
    """The standardised differences ``z`` of :data:`MOMENTS` between simulated facts and the target's: a distance
    of :func:`lobkit.realism.distances` (``"tv"``), the difference (``"level"``) or the log ratio (``"log"``) of a
    fact of :func:`lobkit.realism.scalar_facts`, over the moment's scale. NaN where a fact cannot be computed."""
    from lobkit.realism import distances, scalar_facts

    d = distances(target.facts, sim_facts)
    real, sim = scalar_facts(target.facts), scalar_facts(sim_facts)
    out = {}
    for name, (kind, _) in MOMENTS.items():
        if kind == "tv":
            v = d[name]
        elif kind == "level":
            v = sim[name] - real[name]
        else:
            v = math.log(sim[name] / real[name]) if sim[name] > 0 and real[name] > 0 else math.nan
        out[name] = float(v / target.scales[name])
    return out


def moment_loss(terms: dict[str, float], empty_share: float = 0.0) -> float:
    """The objective: ``sum_k w_k z_k^2`` over :data:`MOMENTS` (weights ``w_k``) plus :data:`MOMENT_EMPTY_PENALTY`
    times the share of samples with an empty side; :data:`MOMENT_FAIL_LOSS` when a term is not finite."""
    z = np.array([terms[n] for n in MOMENTS])
    if not np.isfinite(z).all():
        return MOMENT_FAIL_LOSS
    return float(sum(w * terms[n] ** 2 for n, (_, w) in MOMENTS.items()) + MOMENT_EMPTY_PENALTY * empty_share)


def _quadratic_features(u: np.ndarray) -> np.ndarray:
    """``[1, u_i, u_i u_j (i <= j)]`` of the rows of ``u`` (float64[n, d]): a full quadratic's design."""
    n, d = u.shape
    cols = [np.ones(n)] + [u[:, i] for i in range(d)]
    cols += [u[:, i] * u[:, j] for i in range(d) for j in range(i, d)]
    return np.column_stack(cols)


def _surface(points: np.ndarray, values: np.ndarray, centre: np.ndarray, half: np.ndarray,
             weights: np.ndarray | None = None):
    """The (weighted) least-squares quadratic through ``(points, values)`` in the coordinates
    ``(x - centre) / half``, as a function of ``x`` (float64[d] -> float); None with too few finite values (an
    effective count, ``(sum w)^2 / sum w^2``) for its coefficients."""
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(values) & (w > 0)
    u, w, y = (points[ok] - centre) / half, w[ok], values[ok]
    X = _quadratic_features(u)
    if not len(w) or w.sum() ** 2 / (w ** 2).sum() < X.shape[1] + 3:
        return None
    r = np.sqrt(w)
    coef = np.linalg.lstsq(X * r[:, None], y * r, rcond=None)[0]
    return lambda x: float(_quadratic_features(((np.asarray(x) - centre) / half)[None, :])[0] @ coef)


def _fit_moments(params, market, target: MomentTarget, ss, evals, duration_ns, progress, depth_of, depth_cap,
                 hours: float = MOMENT_HOURS):
    """The method of simulated moments over :data:`MOMENT_SEARCH` (module docstring): Latin hypercubes of
    evaluations in two boxes (the second around the first's best evaluation), then the minimum of the loss of
    quadratic response surfaces of the moments (weighted around the last box), evaluated once more.
    ``evals`` evaluations, each of ``round(hours / duration)`` simulations (at least one) of ``duration_ns``.
    Returns ``(params, [fit.moments])``."""
    from scipy.optimize import minimize
    from scipy.stats import qmc

    from lobkit.realism import distances, scalar_facts
    from lobkit.seeds import child, label

    seed = child(ss, MOMENT_SEED_KEY)
    rng = np.random.default_rng(child(ss, MOMENT_SEED_KEY + 2))
    runs = max(1, round(hours * 3600 * NS / duration_ns))
    real = scalar_facts(target.facts)
    # a first guess of the impact: all of the 1-minute variance from the efficient price, which moves by impact
    # sqrt(size) ticks a market order: variance of a minute = 60 (two sides' stationary rate) E[size] impact^2
    sigma_ticks = real["std_1min"] * market["initial_mid"] / market["tick_size"]
    lam_m = params.market_rate / max(1e-9, 1 - params.excite_market_same - params.excite_market_cross)
    eta0 = sigma_ticks / math.sqrt(max(120 * lam_m * params.market_size_mean, 1e-9))
    eta0 = float(min(max(eta0, 0.01), 100.0)) if math.isfinite(eta0) else params.efficient_price_impact
    history: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=evals, desc="simulated moments", unit="eval", dynamic_ncols=True)

    def build(x):
        share = 1.0 / (1.0 + math.exp(-float(np.clip(x[0], -12.0, 12.0))))
        eta = float(np.clip(math.exp(min(x[1], 10.0)), 1e-4, 1000.0))
        depth, _, max_depth = depth_of(share)
        depth = depth * math.exp(float(np.clip(x[2], -5.0, 5.0)))
        # room for the geometric's tail (its 99.9th percentile is about 6.9 means)
        max_depth = int(min(max(max_depth, math.ceil(6.9 * depth)), depth_cap))
        depth = float(min(max(depth, 1.0), max_depth))
        boost = float(np.clip(math.exp(min(x[3], 10.0)), 1e-3, 100.0))
        return _replace(params, efficient_price_share=share, efficient_price_impact=eta, limit_depth_mean=depth,
                        max_depth=max_depth, refill_boost=boost)

    def evaluate(x, stage):
        p = build(x)
        facts, terms, empty = None, {}, 1.0
        try:
            facts, empty = simulated_facts(p, {**market, "window": _window(p.max_depth)}, seed, runs,
                                           duration_ns=duration_ns, levels=target.levels)
            terms = moment_terms(target, facts)
            val = moment_loss(terms, empty)
        except (LobkitError, ValueError, ZeroDivisionError):
            val = MOMENT_FAIL_LOSS
        history.append({"x": np.asarray(x, dtype=np.float64), "loss": val, "terms": terms, "facts": facts,
                        "empty": empty, "params": p, "stage": stage})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{min(h['loss'] for h in history):.3g}")

    def model_minimum(centre, half):
        """The minimum, within twice ``half`` of ``centre``, of the loss of quadratics fitted to every evaluation
        with Gaussian weights ``exp(-|(x - centre) / half|^2 / 2)`` (None: too few)."""
        pts = np.array([h["x"] for h in history])
        w = np.exp(-0.5 * (((pts - centre) / half) ** 2).sum(axis=1))
        surfaces = {}
        for name in MOMENTS:
            vals = np.array([h["terms"].get(name, math.nan) for h in history], dtype=np.float64)
            surfaces[name] = _surface(pts, vals, centre, half, w)
            if surfaces[name] is None:
                return None, None
        empty = _surface(pts, np.array([h["empty"] if h["terms"] else math.nan for h in history]), centre, half, w)

        def predicted(x):
            z = {n: s(x) for n, s in surfaces.items()}
            return moment_loss(z, max(empty(x), 0.0) if empty is not None else 0.0)

        starts = [centre] + [h["x"] for h in sorted(history, key=lambda h: h["loss"])[:3]]
        bounds = list(zip(centre - 2 * half, centre + 2 * half, strict=True))
        best = min((minimize(predicted, np.clip(s, *zip(*bounds, strict=True)), method="L-BFGS-B", bounds=bounds)
                    for s in starts), key=lambda r: r.fun)
        return np.asarray(best.x), float(best.fun)

    # the start: share 0.9, the impact's first guess, the distance-based depth, the rule's refill boost
    x0 = np.array([math.log(0.9 / 0.1), math.log(eta0), 0.0, math.log(params.refill_boost)])
    centre, half = x0 + (MOMENT_BOX[0] + MOMENT_BOX[1]) / 2, (MOMENT_BOX[1] - MOMENT_BOX[0]) / 2
    budget = evals - 1  # the last simulation is of the chosen point
    sizes = [int(budget * f) for f in MOMENT_STAGES[:-1]]
    sizes.append(budget - sum(sizes))
    chosen, predicted_loss, how = None, None, "the best simulation (too few for a response surface)"
    try:
        evaluate(x0, 0)
        for stage, n in enumerate(sizes):
            if stage:  # the next box: around the best simulation so far, MOMENT_SHRINK as wide
                centre, half = min(history, key=lambda h: h["loss"])["x"], half * MOMENT_SHRINK
            n -= stage == 0
            for u in qmc.LatinHypercube(d=4, seed=rng).random(n) if n > 0 else []:
                evaluate(centre - half + 2 * half * u, stage)
        x_min, fun = model_minimum(centre, half)
        if x_min is not None:
            chosen, predicted_loss, how = x_min, fun, "the minimum of the response surface"
        else:
            chosen = min(history, key=lambda h: h["loss"])["x"]
        if not np.array_equal(history[-1]["x"], chosen):
            evaluate(chosen, len(sizes))
    finally:
        if bar is not None:
            bar.close()
    final = history[-1]
    if final["loss"] >= MOMENT_FAIL_LOSS:  # the surface's minimum does not run: the best evaluation instead
        final = min(history, key=lambda h: h["loss"])
        how = "the best simulation (the response surface's minimum failed)"
    p = final["params"]
    sim = scalar_facts(final["facts"]) if final["facts"] is not None else {}
    dist = distances(target.facts, final["facts"]) if final["facts"] is not None else {}
    shown = [n for n, (kind, _) in MOMENTS.items() if kind != "tv"] + ["spread_q50", "spread_q90"]
    doc = {"method": "simulated moments: a response-surface search over " + ", ".join(MOMENT_SEARCH)
                     + " on fixed seeds (common random numbers), loss sum_k w_k z_k^2 of the realism facts",
           "chosen": how,
           "objective": {n: {"kind": kind, "weight": w, "scale": target.scales[n]}
                         for n, (kind, w) in MOMENTS.items()},
           "real": {n: real[n] for n in shown},
           "simulated": {**{n: sim.get(n, math.nan) for n in shown},
                         **{n: dist.get(n, math.nan) for n, (kind, _) in MOMENTS.items() if kind == "tv"},
                         "empty_side_share": final["empty"]},
           "z": final["terms"], "loss": final["loss"], "predicted_loss": predicted_loss,
           "best_simulated_loss": min(h["loss"] for h in history), "evaluations": len(history),
           "runs": runs, "seed": label(seed), "levels": target.levels, "duration_s": duration_ns / NS,
           "warmup": MOMENT_WARMUP, "depth_factor": math.exp(float(final["x"][2])),
           "trace_stage": [h["stage"] for h in history],
           "trace_share": [h["params"].efficient_price_share for h in history],
           "trace_impact": [h["params"].efficient_price_impact for h in history],
           "trace_depth": [h["params"].limit_depth_mean for h in history],
           "trace_refill_boost": [h["params"].refill_boost for h in history],
           "trace_loss": [h["loss"] for h in history]}
    return p, _nan_free(doc)


def _nan_free(v: Any) -> Any:
    """``v`` without the NaN and infinite floats of its dicts (a fact that could not be computed is left out)."""
    if isinstance(v, dict):
        return {k: _nan_free(x) for k, x in v.items() if not (isinstance(x, float) and not math.isfinite(x))}
    if isinstance(v, list):
        return [_nan_free(x) for x in v]
    return v


def _window(max_depth: int) -> int:
    """The engine's price window (ticks) for ``max_depth``: four times it (what the flow needs), at least 8192."""
    return int(min(max(8192, 64 * math.ceil(4 * max_depth / 64)), 1 << 20))


def _replace(params: HawkesParams, **changes) -> HawkesParams:
    from dataclasses import replace

    return replace(params, **changes)


def summary_rows(cal: Calibration) -> list[tuple[str, Any, float | None]]:
    """``(field, value, standard error or None)`` for every flow field, then the market's fields."""
    ses = cal.fit.get("standard_errors", {})
    rows = [(f.name, getattr(cal.params, f.name), ses.get(f.name)) for f in fields(HawkesParams)]
    rows += [(f"market.{k}", v, None) for k, v in cal.market.items()]
    return rows


__all__ = ["Calibration", "calibrate", "read_calibration", "write_calibration", "fit_structured_hawkes",
           "decayed_counts", "book_stats", "MomentTarget", "moment_target", "simulated_facts", "moment_terms",
           "moment_loss", "summary_rows", "FORMAT", "FORMAT_VERSION"]
