"""docs/engine.md stays true: its Python examples run as written, and what they say they print is printed.

Its figures (rendered from benchmarks/results/engine.json, none typed by hand) are checked for every doc by
tests/test_docs.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_python_example_of_the_engine_doc_runs():
    found = blocks()
    assert len(found) >= 2
    for code in found:
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - the doc's own examples


def test_the_batch_example_gives_what_the_doc_says():
    code = next(b for b in blocks() if "book.apply(m)" in b)
    ns: dict = {}
    exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102
    r = ns["r"]
    assert r.status.tolist() == [0, 0, 0] and r.qty.tolist() == [0, 0, 7]
    assert np.array_equal(r.fills["price"], [10002, 10003])
    assert ns["book"].limit("buy", price=9_990, size=1).oid == 5  # the doc's call took 4

