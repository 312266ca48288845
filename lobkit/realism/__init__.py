"""Market realism: the statistics that say how much a simulated market looks like a real one, and the report that
sets them side by side (the future ``lobkit eval-market``).

The pipeline: a :class:`MarketRecord` (books sampled in time, in ticks and ns, and the order events) of the real
data (:func:`real_record`: lob-btc.db with its Bitstamp capture, a LOBSTER zip with its messages) and of
simulations (:func:`simulated_records`: as many hours as the real data covers, several seeds) -> their facts
(:func:`market_facts`, several records pooled) -> :func:`realism_report` -> a Markdown table, a JSON file and a
figure, with block-bootstrap intervals on the real figures, the noise floor of every distance, and the targets met
or missed.

The facts (exact definitions in :mod:`lobkit.realism.facts`) and where they come from:

* the spread distribution and the mean volume by level (the book's shape), compared by the total variation
  distance of their histograms, as LOB-Bench compares marginals (Nagy et al. 2025, "LOB-Bench: benchmarking
  generative AI for finance: an application to limit order book data");
* the kurtosis of 1- and 5-minute returns (heavy tails) and the autocorrelation of returns (none) and of absolute
  returns (volatility clustering) at lags 1 to 10: the stylised facts of Cont (2001), "Empirical properties of
  asset returns: stylized facts and statistical issues", Quantitative Finance 1(2);
* the signature plot, realised variance against the sampling interval (microstructure noise inflates it at short
  intervals): Andersen, Bollerslev, Diebold and Labys (2000), "Great realizations", Risk 13;
* the inter-event time distribution and the event-type mix (the order flow).

The targets of the Bitstamp day (:data:`TARGETS`): spread TV <= 0.2, 1-minute kurtosis >= 8, mean |r|
autocorrelation over lags 1-5 >= 0.05, lag-1 return autocorrelation within the real 95% interval, volume-by-level
TV <= 0.2.
"""

from lobkit.realism.facts import (
    bootstrap_facts,
    distances,
    intervals,
    market_facts,
    noise_floor,
    pearson_kurtosis,
    pooled_acf,
    scalar_facts,
    total_variation,
    vector_facts,
)
from lobkit.realism.record import (
    EVENT_NAMES,
    MarketRecord,
    find_capture,
    real_record,
    record_from_snapshots,
    simulated_record,
    simulated_records,
)
from lobkit.realism.report import TARGETS, RealismReport, realism_report

__all__ = [
    "EVENT_NAMES",
    "TARGETS",
    "MarketRecord",
    "RealismReport",
    "bootstrap_facts",
    "distances",
    "find_capture",
    "intervals",
    "market_facts",
    "noise_floor",
    "pearson_kurtosis",
    "pooled_acf",
    "real_record",
    "realism_report",
    "record_from_snapshots",
    "scalar_facts",
    "simulated_record",
    "simulated_records",
    "total_variation",
    "vector_facts",
]
