"""What every benchmark script shares: its argument type for counts and the atomic write of its JSON result."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _plain(value):
    """NumPy scalars (a numpy bool, an int64) as the Python values JSON knows."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_result(path: Path, doc: dict) -> None:
    """Write ``doc`` as indented JSON to ``path`` whole or not at all (a temporary file renamed over it).
    Raises OSError when the file cannot be written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2, default=_plain) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def print_result(res: dict, as_json: bool, skip: tuple[str, ...] = (), unit: str = "") -> None:
    """Print a benchmark's result: the JSON object (``as_json``), else one line per figure (but ``skip`` and the
    machine) and each target with met or MISSED (every target here is an upper bound: ``at most``)."""
    if as_json:
        print(json.dumps(res, indent=2, default=_plain))
        return
    for k, v in res.items():
        if k not in ("machine", "targets", "pass", *skip):
            print(f"{k:32s} {v}")
    for k, v in res["targets"].items():
        print(f"{k:32s} {res[k]}{unit} (target at most {v:g}{unit}: {'met' if res['pass'][k] else 'MISSED'})")
