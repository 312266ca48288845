"""Where lobkit finds the shared real data (``../shared/data`` or ``$LOBKIT_DATA_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """The directory of the shared real data: ``$LOBKIT_DATA_DIR`` or ``../shared/data`` from the repo."""
    env = os.environ.get("LOBKIT_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent
    return repo.parent / "shared" / "data"
