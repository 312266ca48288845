"""The README's screenshots: the Algo-Gym, made from the real window on a virtual display, and the demo's report.

    .venv/bin/python scripts/screenshots.py            # writes docs/images/gui-light.png and gui-dark.png
    .venv/bin/python scripts/screenshots.py --out DIR
    .venv/bin/python scripts/screenshots.py --report runs/demo/report.html   # docs/images/report.png

The report's picture is its first screenful, rendered by ``wkhtmltoimage`` (``apt-get install -y wkhtmltopdf``).

Needs Xvfb and ImageMagick (``apt-get install -y xvfb x11-utils imagemagick``). The run shown: the momentum
strategy (short 5, long 20) on the default parametric market, one hour, seed 7, as fast as possible; the light
screenshot shows the Live tab after the run, the dark one the Analysis tab. The remembered settings are not
touched (a temporary configuration directory is used).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pump(root, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        if until is not None and until():
            return
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--report", type=Path, default=None, help="picture this report.html instead of the GUI")
    args = ap.parse_args(argv)
    if args.report is not None:
        return report_picture(args.report, args.out / "report.png")
    from PIL import Image

    from lobkit.gui.xvfb import screenshot, virtual_display

    with tempfile.TemporaryDirectory(prefix="lobkit-shots-") as tmp, virtual_display(1440, 900):
        os.environ["LOBKIT_CONFIG_DIR"] = str(Path(tmp) / "config")
        from lobkit.gui.app import AlgoGym

        app = AlgoGym(out=Path(tmp) / "exports", models={}, dark=False)
        root = app.root
        root.geometry("1440x900+0+0")
        for name, value in (("duration", "1h"), ("seed", "7")):
            app.controls.vars[name].set(value)
        app.start()
        _pump(root, 180, until=lambda: bool(app.runs))
        if not app.runs:
            print("error: the run did not finish within 3 minutes", file=sys.stderr)
            return 1
        _pump(root, 1.0)
        shots = {}
        shots["light"] = screenshot(root, Path(tmp) / "gui-light.png")
        app.set_dark(True)
        app.tabs.select(1)
        _pump(root, 1.5)
        shots["dark"] = screenshot(root, Path(tmp) / "gui-dark.png")
        app.close()
        args.out.mkdir(parents=True, exist_ok=True)
        for mode, p in shots.items():
            dest = args.out / f"gui-{mode}.png"
            Image.open(p).convert("RGB").save(dest, optimize=True)
            print(f"wrote {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
    return 0


def report_picture(report: Path, dest: Path, width: int = 1100, height: int = 1500) -> int:
    """The first ``height`` pixels of ``report`` at ``width`` pixels wide, as a PNG at ``dest``."""
    import shutil
    import subprocess

    from PIL import Image

    exe = shutil.which("wkhtmltoimage")
    if exe is None:
        print("error: wkhtmltoimage is not installed (apt-get install -y wkhtmltopdf)", file=sys.stderr)
        return 1
    if not report.is_file():
        print(f"error: {report}: no such file (run make demo first)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "full.png"
        r = subprocess.run([exe, "--quiet", "--width", str(width), "--height", str(height), str(report), str(raw)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not raw.is_file():
            print(f"error: wkhtmltoimage failed: {r.stderr.strip()[:300]}", file=sys.stderr)
            return 1
        dest.parent.mkdir(parents=True, exist_ok=True)
        Image.open(raw).convert("RGB").save(dest, optimize=True)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
