"""The GUI's tests drive the real Tk window on a virtual X display (Xvfb), started here.

Xvfb and ImageMagick come from ``apt-get install -y xvfb x11-utils imagemagick`` (``.ci/run`` installs them).
Without them the window tests skip with that reason, except under ``CI=true``, where they fail. Screenshots of
the main states go to each test's temporary folder (``<tmp>/screenshots/*.png``), printed at the end of the test.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.conftest import IN_CI


@pytest.fixture(scope="session")
def display():
    """A virtual X display for the whole session (``DISPLAY`` points at it)."""
    missing = [p for p in ("Xvfb", "import") if shutil.which(p) is None]
    if missing:
        msg = f"{', '.join(missing)} not installed (apt-get install -y xvfb x11-utils imagemagick)"
        if IN_CI:
            pytest.fail(msg + " -- under CI=true the GUI tests must run")
        pytest.skip(msg)
    from lobkit.gui.xvfb import virtual_display

    with virtual_display() as name:
        yield name


@pytest.fixture
def settings_dir(tmp_path, monkeypatch):
    """A fresh place for the remembered settings (dark mode), never the user's."""
    d = tmp_path / "config"
    monkeypatch.setenv("LOBKIT_CONFIG_DIR", str(d))
    return d


class Driver:
    """Pumps Tk's event loop from the test (no mainloop) and takes screenshots."""

    def __init__(self, app, shots):
        self.app = app
        self.root = app.root
        self.shots = shots
        self.saved = []

    def pump(self, seconds: float = 0.1) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.root.update()
            time.sleep(0.005)

    def until(self, cond, timeout: float = 60.0, what: str = "condition") -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.root.update()
            if cond():
                return
            time.sleep(0.005)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; messages: {self.app.messages[-3:]}")

    def key(self, keysym: str, widget=None) -> None:
        """Press a key as a person would: on the focused widget (default: the runs table, not a text field)."""
        w = widget or self.app.runs_table.tree
        w.focus_force()
        self.root.update()
        w.event_generate(f"<{keysym}>", when="tail")
        self.pump(0.05)

    def shot(self, name: str, window=None):
        """A PNG of the main window (or of ``window``, e.g. a dialog) in the test's screenshots folder."""
        from lobkit.gui.xvfb import screenshot

        self.pump(0.3)
        p = screenshot(window or self.root, self.shots / f"{name}.png")
        self.saved.append(p)
        return p


@pytest.fixture
def gym(display, tmp_path, settings_dir):
    """An Algo-Gym window (light mode, exports under ``tmp_path/exports``, no learned models offered)."""
    from lobkit.gui.app import AlgoGym

    app = AlgoGym(out=tmp_path / "exports", models={"calibrated": [], "nhp": [], "wgan": [], "snapshot": []},
                  dark=False)
    drv = Driver(app, tmp_path / "screenshots")
    drv.pump(0.2)
    yield drv
    if drv.saved:
        print("\nscreenshots:", *map(str, drv.saved), sep="\n  ")
    if not app.closed:
        app.close()
