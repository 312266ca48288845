"""Saving and loading the learned models: plain tensors and Python values, read back with
``torch.load(weights_only=True)`` (no pickled code runs on load).

Every file is a dict with ``format`` (what it is), ``format_version``, ``lobkit_version``, the model's ``config``
and the fingerprint of its training data. Written to a temporary file and renamed, so a file is whole or absent.
A file of another kind, format version or configuration, or a damaged one, is one clear error naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lobkit.errors import ConfigError, InputFormatError

FORMAT_VERSION = 1


def ensure_dir(path: str | Path) -> Path:
    """``path`` as a directory that exists (created with its parents): checked before any long work starts.
    Raises :class:`ConfigError` naming it when it is a file or cannot be created."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    return path


def save(path: str | Path, doc: dict) -> Path:
    """Write ``doc`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            torch.save(doc, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return path


_CACHE: dict[tuple, object] = {}


def cached(path: str | Path, loader, missing: str):
    """``loader(path)``, kept per file (resolved path, size, modification time): a model the simulator reads for
    every run is read once a process, and again when the file changes. ``missing``: the message when there is no
    such file. Raises :class:`InputFormatError` naming the file, or what ``loader`` raises."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise InputFormatError(path, None, missing) from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, loader)
    if key not in _CACHE:
        _CACHE[key] = loader(path)
    return _CACHE[key]


def load(path: str | Path, kind: str, device: str | torch.device = "cpu") -> dict:
    """The dict of a file written by :func:`save` whose ``format`` is ``kind``.

    Raises :class:`InputFormatError` naming ``path`` when it is missing, damaged, not a lobkit file, of another
    kind, or of another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, None, "no such file")
    try:
        doc = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged or foreign file
        raise InputFormatError(path, None, f"not a readable model file ({_torch_reason(exc)})") from None
    if not isinstance(doc, dict) or "format" not in doc:
        raise InputFormatError(path, None, "not a lobkit model file")
    if doc["format"] != kind:
        raise InputFormatError(path, None, f"is a {doc['format']} file, not a {kind} file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputFormatError(path, None, f"format version {doc.get('format_version')} (made by lobkit "
                                           f"{doc.get('lobkit_version')}); this lobkit reads version {FORMAT_VERSION}")
    return doc


def _torch_reason(exc: BaseException) -> str:
    """A short reason from what ``torch.load`` raised: its first line, without PyTorch's advice about
    ``weights_only`` (a lobkit file never needs it off), at most 120 characters."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "weights_only" in text or "Weights only load failed" in first:
        return "not a file of weights and plain values"
    return first[:120]


def file_format(path: str | Path) -> str | None:
    """The ``format`` of a lobkit model file (``"lobkit-nhp"``, ``"lobkit-wgan-generator"``, ...), or None when
    ``path`` is not a readable lobkit model file (never raises for a bad file: for listing candidates)."""
    try:
        doc = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a candidate
        return None
    fmt = doc.get("format") if isinstance(doc, dict) else None
    return fmt if isinstance(fmt, str) else None
