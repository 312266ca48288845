"""lobkit: a market-microstructure lab.

A Numba-jitted limit order book (:mod:`lobkit.engine`), order flow learned from real data
(:mod:`lobkit.training`), agents and a jitted simulation loop (:mod:`lobkit.agents`, :mod:`lobkit.sim`),
counterfactual experiments and parameter sweeps (:mod:`lobkit.sweeps`), a data layer over SQLite and
TimescaleDB (:mod:`lobkit.data`) and a Tkinter "Algo-Gym" (:mod:`lobkit.gui`).
"""

__version__ = "0.1.0"
