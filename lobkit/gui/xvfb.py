"""A virtual X display (Xvfb) for the GUI's tests, its screenshots and its responsiveness benchmark, and window
screenshots with ImageMagick's ``import``.

``apt-get install -y xvfb x11-utils imagemagick`` provides the programs (``.ci/run`` installs them when missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from lobkit.errors import ConfigError

__all__ = ["screenshot", "virtual_display"]


def _free_display(start: int = 90) -> int:
    for n in range(start, start + 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise ConfigError("no free X display number between :90 and :289")


@contextlib.contextmanager
def virtual_display(width: int = 1600, height: int = 1000, depth: int = 24):
    """Start Xvfb on a free display, point ``DISPLAY`` at it, yield the display name (``":90"``), and stop it
    (restoring ``DISPLAY``) on exit. Raises :class:`ConfigError` when Xvfb is not installed or does not start
    within 10 s."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise ConfigError("Xvfb is not installed (apt-get install -y xvfb x11-utils imagemagick)")
    for _attempt in range(5):
        n = _free_display()
        name = f":{n}"
        proc = subprocess.Popen([exe, name, "-screen", "0", f"{width}x{height}x{depth}", "-nolisten", "tcp",
                                 "-noreset"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        raise ConfigError("Xvfb did not start (tried 5 display numbers)")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = name
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def screenshot(widget, path: str | Path) -> Path:
    """A PNG of the top-level window of ``widget`` (Tk) at ``path``, taken with ImageMagick's ``import`` from the
    X server. Raises :class:`ConfigError` when ``import`` is missing or fails."""
    exe = shutil.which("import")
    if exe is None:
        raise ConfigError("ImageMagick's import is not installed (apt-get install -y imagemagick)")
    top = widget.winfo_toplevel()
    top.update()
    wid = top.winfo_id()
    # the window manager-less Xvfb: Tk's toplevel id is the wrapper's child; its frame() is the X window
    frame = int(top.wm_frame(), 16) if top.wm_frame() else wid
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([exe, "-window", hex(frame), str(path)], capture_output=True, text=True, timeout=30,
                       env=os.environ.copy())
    if r.returncode != 0 or not path.is_file():
        raise ConfigError(f"screenshot {path}: import failed ({r.stderr.strip()[:200]})")
    return path
