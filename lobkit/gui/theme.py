"""Light and dark mode: the Sun Valley ttk theme (``sv-ttk``) for every ttk widget, one palette for what ttk does
not style (the blotter's row colours, the depth ladder's canvas, the plots), and the remembered choice.

The choice is kept in ``settings.json`` in lobkit's configuration directory: ``$LOBKIT_CONFIG_DIR`` when set, else
``$XDG_CONFIG_HOME/lobkit``, else ``~/.config/lobkit``. A settings file that cannot be read is ignored (the
defaults are used) and rewritten on the next change; writing is atomic (a temporary file renamed).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DARK", "LIGHT", "Palette", "apply_theme", "config_dir", "load_settings", "palette", "save_settings"]


@dataclass(frozen=True)
class Palette:
    """Colours (Tk colour strings) that ttk's theme does not set."""

    name: str
    background: str
    foreground: str
    muted: str
    grid: str
    buy: str  # bids, buy orders
    sell: str  # asks, sell orders
    trade: str  # trades
    strategy_bg: str  # rows of the strategic agent
    buy_bar: str
    sell_bar: str
    pnl: str
    mid: str
    error: str


LIGHT = Palette("light", background="#fafafa", foreground="#1c1c1c", muted="#6b6b6b", grid="#d9d9d9",
                buy="#1a7f37", sell="#c62828", trade="#1f5fbf", strategy_bg="#fff3c4", buy_bar="#9fd8a9",
                sell_bar="#f3a9a9", pnl="#1f5fbf", mid="#444444", error="#c62828")
DARK = Palette("dark", background="#1c1c1c", foreground="#e6e6e6", muted="#a0a0a0", grid="#3a3a3a",
               buy="#5fd37a", sell="#ff6b6b", trade="#6aa9ff", strategy_bg="#4a3f12", buy_bar="#2e6b3a",
               sell_bar="#7a2e2e", pnl="#6aa9ff", mid="#cfcfcf", error="#ff6b6b")


def palette(dark: bool) -> Palette:
    return DARK if dark else LIGHT


def apply_theme(root, dark: bool) -> Palette:
    """Set the ttk theme of ``root``'s application (sv-ttk's dark or light theme) and return the palette for
    everything else. Raises nothing: without a display, Tk itself has already failed."""
    import sv_ttk

    sv_ttk.set_theme("dark" if dark else "light", root)
    return palette(dark)


def config_dir() -> Path:
    """Where lobkit keeps the GUI's settings (see the module's docstring)."""
    if os.environ.get("LOBKIT_CONFIG_DIR"):
        return Path(os.environ["LOBKIT_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lobkit"


def _settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> dict:
    """The remembered settings (``dark``: bool, ...); ``{}`` when there are none or they cannot be read."""
    try:
        doc = json.loads(_settings_path().read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def save_settings(**changes) -> None:
    """Remember ``changes`` (merged into the current settings), atomically. A read-only home is not an error:
    the choice is then not remembered."""
    doc = load_settings() | changes
    path = _settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass
