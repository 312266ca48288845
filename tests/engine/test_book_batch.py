"""Batches (``apply``), bad message arrays, synthetic flows and the liquibook standard stream."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from lobkit.engine import (
    ERR_BAD_OP,
    ERR_BAD_SIDE,
    ERR_BAD_SIZE,
    ERR_UNKNOWN_ID,
    FLAG_POST_ONLY,
    MESSAGE_DTYPE,
    OK,
    OP_CANCEL,
    OP_EXECUTE,
    OP_LIMIT,
    OP_MARKET,
    OP_MODIFY,
    POST_ONLY_REJECTED,
    OrderBook,
    ReferenceBook,
)
from lobkit.engine.messages import ERR_BAD_FLAGS, ERR_BAD_PRICE, message_columns
from lobkit.engine.synthetic import FLOWS, synthetic_flow
from lobkit.errors import BookError, ConfigError

try:
    from tests.conftest import require_data
except ImportError:  # pytest run from elsewhere: load the root conftest by path
    _path = Path(__file__).resolve().parents[1] / "conftest.py"
    _spec = importlib.util.spec_from_file_location("_root_conftest", _path)
    _root = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_root)
    require_data = _root.require_data


def msgs(*rows):
    """Messages from (op, side, flags, price, size, oid, owner) rows; ts is the row number."""
    a = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for i, r in enumerate(rows):
        a[i] = (i, *r)
    return a


STREAM = msgs(
    (OP_LIMIT, -1, 0, 101, 5, 1, 1),
    (OP_LIMIT, 1, 0, 99, 5, 2, 2),
    (OP_CANCEL, 0, 0, 0, 0, 77, 0),  # unknown id
    (OP_LIMIT, 1, FLAG_POST_ONLY, 101, 1, 3, 3),  # post-only that would cross
    (OP_MARKET, 1, 0, 0, 2, 4, 4),
    (OP_LIMIT, 0, 0, 100, 1, 5, 5),  # bad side
    (OP_MODIFY, 0, 0, 100, 5, 2, 0),
    (OP_LIMIT, -1, 0, 2**62, 1, 6, 6),  # beyond the supported price range
    (OP_LIMIT, -1, 4, 102, 1, 7, 7),  # unknown flag bit
    (9, 1, 0, 100, 1, 8, 8),  # unknown op
    (OP_LIMIT, -1, 0, 102, 2**41, 9, 9),  # size beyond the supported maximum
    (OP_LIMIT, -1, 0, 100, 0, 10, 10),  # size 0
    (OP_MARKET, -1, 0, 0, 9, 11, 11),
)
EXPECTED_STATUS = [OK, OK, ERR_UNKNOWN_ID, POST_ONLY_REJECTED, OK, ERR_BAD_SIDE, OK, ERR_BAD_PRICE, ERR_BAD_FLAGS,
                   ERR_BAD_OP, ERR_BAD_SIZE, ERR_BAD_SIZE, OK]  # fmt: skip


@pytest.mark.parametrize("cls", [OrderBook, ReferenceBook], ids=lambda c: c.__name__)
def test_non_strict_batch_statuses_and_fills(cls):
    book = cls(capacity=16, window=128, center=100)
    r = book.apply(STREAM, strict=False)
    assert r.status.tolist() == EXPECTED_STATUS and r.applied == len(STREAM)
    assert r.qty.tolist() == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5]
    assert r.fills[["price", "size", "maker_oid", "taker_oid"]].tolist() == [(101, 2, 1, 4), (100, 5, 2, 11)]
    assert book.l3()[["price", "oid", "size"]].tolist() == [(101, 1, 3)]
    assert r.to_polars().height == len(STREAM) and r.fills_frame().height == 2


@pytest.mark.parametrize("cls", [OrderBook, ReferenceBook], ids=lambda c: c.__name__)
def test_strict_batch_stops_at_the_failing_message_and_names_it(cls):
    book = cls(capacity=16, window=128, center=100)
    with pytest.raises(BookError, match=r"message 2 \(cancel order 77\): unknown order id") as ei:
        book.apply(STREAM)
    assert (ei.value.index, ei.value.status) == (2, ERR_UNKNOWN_ID)
    assert book.l3()[["oid"]].tolist() == [(2,), (1,)]  # the two messages before it were applied
    book2 = cls(capacity=16, window=128, center=100)
    with pytest.raises(BookError, match=r"message 5 \(limit order 6\): price 4611686018427387904 ticks is not a val"):
        book2.apply(np.concatenate([STREAM[:2], STREAM[3:5], STREAM[6:8]]).copy())
    with pytest.raises(BookError, match=r"message 0 \(limit order 7\): unknown flag bits 4"):
        book2.apply(STREAM[8:9].copy())


def test_apply_rejects_arrays_of_the_wrong_type():
    book = OrderBook(capacity=4)
    with pytest.raises(BookError, match="MESSAGE_DTYPE"):
        book.apply(np.zeros(3, dtype=np.int64))
    with pytest.raises(BookError, match="MESSAGE_DTYPE"):
        book.apply([(0, 1, 1, 0, 100, 1, 1, 0)])
    with pytest.raises(BookError, match="MESSAGE_DTYPE"):
        book.apply(np.zeros((2, 2), dtype=MESSAGE_DTYPE))
    assert book.apply(np.zeros(0, dtype=MESSAGE_DTYPE)).applied == 0


def test_small_fill_buffer_is_drained_and_resumed():
    """fill_capacity == capacity: one aggressive order may fill the buffer; apply drains it and goes on."""
    rows = [(OP_LIMIT, -1, 0, 100 + i % 3, 1, i + 1, i % 5) for i in range(8)]
    rows += [(OP_MARKET, 1, 0, 0, 3, 100 + k, 9) for k in range(3)] * 1
    rows += [(OP_LIMIT, -1, 0, 101, 1, 200 + i, 1) for i in range(8)] + [(OP_LIMIT, 1, 0, 105, 20, 300, 2)]
    stream = msgs(*rows)
    ob = OrderBook(capacity=8, window=64, center=100, fill_capacity=8)
    ref = ReferenceBook(capacity=8, window=64, center=100)
    a, b = ob.apply(stream, strict=False), ref.apply(stream, strict=False)
    assert np.array_equal(a.status, b.status) and np.array_equal(a.fills, b.fills)
    # the 3 market orders take the 8 resting lots (the 9th lot finds nothing), the last buy takes the other 8
    assert len(a.fills) == 16 and a.qty[8:11].tolist() == [3, 3, 2] and np.array_equal(ob.l3(), ref.l3())


@pytest.mark.parametrize("kind", sorted(FLOWS))
def test_synthetic_flows_are_valid_seeded_and_shaped_as_documented(kind):
    m, info = synthetic_flow(20_000, kind, seed=5)
    m2, _ = synthetic_flow(20_000, kind, seed=5)
    m3, _ = synthetic_flow(20_000, kind, seed=6)
    assert np.array_equal(m, m2) and not np.array_equal(m, m3)
    book = OrderBook(capacity=10_000, window=4096)
    r = book.apply(m)  # strict: every message of a generated flow is valid
    traded = np.unique(np.searchsorted(m["ts"], r.fills["ts"])).size
    assert traded == info["traded"]
    if kind == "mix":
        assert 0.78 < info["modify_share"] < 0.86 and 0.02 < info["ioc_share"] < 0.04
        assert 0.04 < info["trade_share"] < 0.08 and 800 < len(book) < 1100
        assert sum(book.depth()) > 500
    else:
        assert info["trade_share"] > 0.35


def test_message_columns_and_bad_flow_arguments():
    m, _ = synthetic_flow(10, "match", 1)
    c = message_columns(m)
    assert c["price"].flags.c_contiguous and np.array_equal(c["oid"], m["oid"])
    with pytest.raises(ConfigError, match="unknown flow kind 'nope'; choose from match, mix"):
        synthetic_flow(10, "nope")
    for kw, match in (({"n": -1}, "n must be"), ({"seed": -1}, "seed must be"), ({"n_owners": 0}, "n_owners"),
                      ({"mid": 0}, "mid must be"), ({"n": 2.5}, "n must be")):  # fmt: skip
        args = {"n": 10, **kw}
        with pytest.raises(ConfigError, match=match):
            synthetic_flow(args.pop("n"), "mix", **args)


def _engine_imports() -> dict[str, set[str]]:
    """Module -> the lobkit.engine modules it imports (anywhere in the file, function bodies included)."""
    import ast

    import lobkit.engine

    root = Path(lobkit.engine.__file__).parent
    graph = {}
    for path in root.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lobkit.engine"):
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                deps.update(n.split(".")[2] for n in names if n.count(".") >= 2)
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[2] for a in node.names if a.name.startswith("lobkit.engine."))
        graph[path.stem] = deps - {path.stem}
    return graph


def test_engine_modules_import_no_cycle_and_the_generators_live_apart():
    graph = _engine_imports()
    assert "synthetic" not in graph["nb"] | graph["messages"] | graph["state"] | graph["book"]
    assert graph["messages"] == set(), "messages.py is the vocabulary: it imports no other engine module"

    def reach(m, seen):
        for d in graph.get(m, ()):
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    cycles = sorted(m for m in graph if m != "__init__" and m in reach(m, set()))
    assert not cycles, f"import cycles through {cycles}"


def test_liquibook_stream_gives_the_exact_fill_totals():
    """liquibook's 5M-order performance stream: exactly 2,297,421 fills and 697,199,900 shares, as the C and C++
    engines give (see the shared data README)."""
    d = np.load(require_data("bench/liquibook-5m-limit-stream.npz"))
    n = len(d["side"])
    m = np.zeros(n, dtype=MESSAGE_DTYPE)
    m["op"], m["side"], m["price"], m["size"] = OP_LIMIT, d["side"], d["price"], d["qty"]
    m["oid"] = np.arange(1, n + 1)
    m["owner"] = m["oid"] % 7
    m["ts"] = np.arange(n)
    book = OrderBook(capacity=2**22, window=1024, keep_fills=False)  # at most 2,465,112 orders rest at once
    r = book.apply(m)
    assert len(r.fills) == 2_297_421
    assert int(r.fills["size"].sum()) == 697_199_900
    assert int(r.qty.sum()) == 697_199_900
    assert np.all(r.fills["price"] >= 1884) and np.all(r.fills["price"] <= 1889)
    assert np.all(r.fills["aggressor"] == m["side"][r.fills["taker_oid"] - 1])


@pytest.mark.parametrize("cls", [OrderBook, ReferenceBook], ids=lambda c: c.__name__)
def test_a_batch_whose_fills_outgrow_one_buffer_resumes_in_another(cls, monkeypatch):
    """8 orders rest before the batch; 10 executions (a fill each) and a market order that sweeps all 8: the
    first buffer (max(fill_capacity 8, 11 messages) rows) cannot hold 10 + 8 fills, so the kernel stops before
    the market order and resumes it in a second buffer."""
    book = cls(capacity=8, window=64, center=100, fill_capacity=8)
    for i in range(8):
        book.limit(-1, 100 + i, 10, oid=i + 1, owner=i)
    book.clear_fills()
    targets = list(range(1, 9)) + [1, 2]
    rows = [(OP_EXECUTE, 0, 0, 0, 1, t, 7) for t in targets] + [(OP_MARKET, 1, 0, 0, 70, 20, 9)]
    calls = []
    if cls is OrderBook:
        from lobkit.engine import nb

        kernel = nb.apply_messages
        monkeypatch.setattr(nb, "apply_messages", lambda *a: calls.append(a[4]) or kernel(*a))
    r = book.apply(msgs(*rows))
    assert calls == ([0, 10] if cls is OrderBook else [])  # resumed at the market order
    assert r.qty.tolist() == [1] * 10 + [70] and len(book) == 0
    assert r.fills["maker_oid"].tolist() == targets + list(range(1, 9))
    assert r.fills["taker_oid"].tolist() == [-1] * 10 + [20] * 8
    assert r.fills["size"].tolist() == [1] * 10 + [8, 8, 9, 9, 9, 9, 9, 9]
    assert np.array_equal(book.fills, r.fills)


@pytest.mark.parametrize("cls", [OrderBook, ReferenceBook], ids=lambda c: c.__name__)
def test_apply_takes_strided_and_read_only_message_arrays(cls):
    m, _ = synthetic_flow(3_000, "match", 4)
    expected = cls(capacity=10_000, window=4096).apply(m, strict=False)
    ro = m.copy()
    ro.flags.writeable = False
    r = cls(capacity=10_000, window=4096).apply(ro, strict=False)
    assert np.array_equal(r.status, expected.status) and np.array_equal(r.fills, expected.fills)
    wide = np.zeros(2 * len(m), dtype=MESSAGE_DTYPE)
    wide[::2] = m
    r = cls(capacity=10_000, window=4096).apply(wide[::2], strict=False)
    assert np.array_equal(r.status, expected.status) and np.array_equal(r.fills, expected.fills)


def test_batch_fills_are_the_results_own_and_survive_later_operations():
    book = OrderBook(capacity=16, window=64, center=100)
    r = book.apply(msgs((OP_LIMIT, -1, 0, 101, 5, 1, 1), (OP_MARKET, 1, 0, 0, 2, 2, 2)))
    first = r.fills.copy()
    book.limit(-1, 101, 5, oid=3)
    book.market(1, 6, oid=4)
    book.apply(msgs((OP_MARKET, 1, 0, 0, 2, 5, 2)))
    assert np.array_equal(r.fills, first) and r.fills["size"].tolist() == [2]
    assert book.fills["size"].tolist() == [2, 3, 3, 2]
