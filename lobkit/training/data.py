"""The training data of the learned models: snapshots from any data source, as book arrays, and their split.

:func:`load_books` streams the snapshots of a source (a SQLite file, a ``postgresql://`` URL with its table, a
LOBSTER zip: :func:`lobkit.data.sources.open_source`) in chunks and turns them into one
:class:`~lobkit.data.stream.BookArrays` in time order. :func:`split_indices` holds snapshots out for evaluation:
every ``every``-th block of ``block`` consecutive snapshots (interleaved, so that hours of drift do not pass for
model error), or the last ``1 / every`` of them (a plain time split).
"""

from __future__ import annotations

import numpy as np

from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.stream import BookArrays, to_arrays


def load_books(spec, *, levels: int = 20, tick_size: float = 0.01, chunk_size: int = 50_000, progress: bool = False,
               **options) -> tuple[BookArrays, str, int]:
    """All snapshots of a source as book arrays (``levels`` a side): ``(books, description, rejected)``, where
    ``rejected`` counts the snapshots the data layer's validation left out.

    Raises :class:`ConfigError` for an unknown source, :class:`InputFormatError` naming the source for an empty one
    (or one whose snapshots were all rejected) and for damaged files.
    """
    from lobkit.data.sources import open_source

    src = open_source(spec, **options)
    parts: list[BookArrays] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc=f"reading {src.description}", unit="snapshot", dynamic_ncols=True)
    stream = src.snapshots(chunk_size=chunk_size)
    try:
        for frame in stream:
            parts.append(to_arrays(frame, levels=levels, tick=tick_size))
            if bar is not None:
                bar.update(frame.height)
    finally:
        stream.close()
        if bar is not None:
            bar.close()
    rejected = int(getattr(stream, "rejected_snapshots", 0) or 0)
    if not parts:
        why = f"; all {rejected} were rejected, the first: {stream.rejections[0]}" if rejected else ""
        raise InputFormatError(src.description, None, f"no snapshots{why}")
    books = BookArrays(*[np.concatenate([getattr(p, f) for p in parts]) for f in BookArrays.__dataclass_fields__])
    return books, src.description, rejected


def split_indices(n: int, split: str, block: int = 100, every: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` index arrays of ``n`` snapshots in time order.

    ``"blocks"``: snapshot ``i`` is held out when ``(i // block) % every == every - 1`` (every ``every``-th block);
    ``"time"``: the last ``n // every`` are held out; ``"none"``: nothing is.
    """
    idx = np.arange(n)
    if split == "none":
        return idx, idx[:0]
    if split == "blocks":
        held = (idx // block) % every == every - 1
    elif split == "time":
        held = idx >= n - n // every
    else:
        raise ConfigError(f"split: blocks, time or none, got {split!r}")
    return idx[~held], idx[held]


def take(books: BookArrays, idx: np.ndarray) -> BookArrays:
    """The snapshots ``idx`` of ``books``."""
    return BookArrays(*[getattr(books, f)[idx] for f in BookArrays.__dataclass_fields__])
