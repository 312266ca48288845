"""The Algo-Gym: a Tkinter desktop app for one live, interactive run (``lobkit gui``).

The window drives the same engine, agents, flow models and result files as the CLI; nothing is implemented twice:

* :mod:`lobkit.gui.session`: :class:`~lobkit.gui.session.LiveRun`, the worker thread that advances a
  :class:`~lobkit.sim.simulation.Simulation` in chunks and posts updates to a queue (no Tk);
* :mod:`lobkit.gui.form`: the controls' fields, built from the agent's ``Params`` dataclass and the configuration's
  options, and their validation (no Tk);
* :mod:`lobkit.gui.app`: :class:`~lobkit.gui.app.AlgoGym`, the window; its parts in :mod:`~lobkit.gui.controls`,
  :mod:`~lobkit.gui.blotter`, :mod:`~lobkit.gui.status`, :mod:`~lobkit.gui.analysis`, :mod:`~lobkit.gui.runs`;
* :mod:`lobkit.gui.theme`: light and dark mode (sv-ttk) and the remembered choice;
* :mod:`lobkit.gui.xvfb`: a virtual X display for tests, screenshots and the responsiveness benchmark.
"""

from __future__ import annotations

__all__ = ["launch"]


def launch(**kw) -> None:
    """Open the Algo-Gym (see :class:`lobkit.gui.app.AlgoGym` for the keywords) until its window closes."""
    from lobkit.gui.app import launch as _launch

    _launch(**kw)
