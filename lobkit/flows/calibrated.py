"""The parametric flow fitted to a real event stream (``--flow calibrated:market.toml``).

``lobkit calibrate`` (:mod:`lobkit.training.calibrate`) fits the parameters of the parametric Hawkes flow
(:mod:`lobkit.flows.hawkes`: base rates, excitation, limit-order distance and size distributions, cancellation
rates) and the market's tick and lot size to a real event stream and its book, and writes them to a TOML file. This
model reads that file: it *is* the Hawkes flow (the same state type and kernels, so the simulation loop compiled for
``hawkes`` serves it too), with the fitted parameters as its defaults and the file's tick and lot size as the
market's defaults (:meth:`CalibratedFlow.market_defaults`, applied by :func:`lobkit.sim.options.apply_options` to
the fields a user did not set). Every parameter can still be overridden like any flow parameter
(``--set limit_rate=5``).
"""

from __future__ import annotations

from lobkit.flows.base import register_flow
from lobkit.flows.hawkes import HawkesFlow, HawkesParams


@register_flow
class CalibratedFlow(HawkesFlow):
    """The Hawkes flow with parameters read from a calibration file (module docstring).

    Raises :class:`~lobkit.errors.InputFormatError` naming the file and the field for a file that is missing,
    not TOML, of another kind, or lacks a field."""

    name = "calibrated"
    Params = HawkesParams
    needs_path = True

    @classmethod
    def default_params(cls, path: str | None = None) -> HawkesParams:
        from lobkit.training.calibrate import read_calibration

        return read_calibration(path).params

    @classmethod
    def market_defaults(cls, path: str | None = None) -> dict:
        from lobkit.training.calibrate import read_calibration

        return dict(read_calibration(path).market)
