"""LOBSTER replay: the shared sample files row for row, the out-of-view rules on hand-made files, hidden
executions, halts, exact parsing, bad input (errors naming file and line) and the CLI."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from lobkit.engine import lobster as lb
from lobkit.errors import ConfigError, InputFormatError
from tests.conftest import require_data

SHARED = [
    "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
    "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
    "lobster/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
]
EA, EB = 9999999999, -9999999999


# ---------------------------------------------------------------------------------------------- helpers
def row(asks=(), bids=(), L=1):
    """One orderbook row: ask price, ask size, bid price, bid size per level (prices in dollars x 10000)."""
    out = []
    for j in range(L):
        ap, az = asks[j] if j < len(asks) else (EA, 0)
        bp, bz = bids[j] if j < len(bids) else (EB, 0)
        out += [ap, az, bp, bz]
    return out


def write_pair(tmp_path, messages, rows, L=1, ticker="TEST", name_levels=None):
    """Write TICKER_..._message_L.csv and its orderbook csv; returns the message csv path."""
    nl = L if name_levels is None else name_levels
    stem = f"{ticker}_2012-06-21_34200000_57600000"
    mp = tmp_path / f"{stem}_message_{nl}.csv"
    bp = tmp_path / f"{stem}_orderbook_{nl}.csv"
    mp.write_text("".join(",".join(str(x) for x in m) + "\n" for m in messages))
    bp.write_text("".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return mp


def msg(t, typ, oid, size, price, side):
    return (f"{34200 + t:.9f}", typ, oid, size, price, side)


def cli(args):
    from click.testing import CliRunner

    from lobkit.cli import main

    return CliRunner().invoke(main, args)


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.parametrize("rel", SHARED)
def test_shared_files_reproduced_exactly(rel):
    path = require_data(rel)
    r = lb.replay(path, check=True)
    assert r.messages > 40_000
    assert r.rows_checked == r.messages
    assert r.rows_matched == r.rows_checked, r.mismatches[:2]
    assert r.unapplied == 0 and r.unresolved == 0
    assert r.levels_seeded > 0  # L-level files do bring volume into view that no message showed
    assert r.hidden_executions > 0
    assert r.tick == 100


def test_shared_file_as_csv_pair(tmp_path):
    path = require_data(SHARED[2])
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".csv")]
        zf.extractall(tmp_path, names)
    m = next(tmp_path.glob("*_message_1.csv"))
    r = lb.replay(m, check=True)
    assert r.rows_matched == r.rows_checked == r.messages
    # the orderbook csv may be named instead
    r2 = lb.replay(next(tmp_path.glob("*_orderbook_1.csv")), check=True)
    assert r2.rows_matched == r.rows_matched


def test_throughput_api():
    path = require_data(SHARED[1])
    t = lb.replay_throughput(path, repeats=3)
    assert t["messages"] == 155_935
    assert t["seconds"] > 0 and t["messages_per_s"] == pytest.approx(t["messages"] / t["seconds"])


# ---------------------------------------------------------------------------------------------- rules
def test_level_entering_from_below_is_seeded_and_consumed(tmp_path):
    """L=1: the best ask goes; 102 comes into view with 300 shares no message showed (a placeholder), then a
    cancel and an execution of ids the book never saw are taken from it."""
    msgs = [
        msg(0.0, 1, 1, 20, 1000000, -1),  # row 0: ask 100.00 x 20 (its id is unknown to the replay)
        msg(0.1, 3, 1, 20, 1000000, -1),  # delete it: id 1 unknown -> placeholder at 100
        msg(0.2, 4, 7, 100, 1020000, -1),  # execution of id 7, never seen: from the 102 placeholder
        msg(0.3, 2, 8, 50, 1020000, -1),  # partial cancel of id 8, never seen
        msg(0.4, 1, 9, 10, 1010000, -1),  # a new best ask
    ]
    rows = [
        row([(1000000, 20)], [(990000, 5)]),
        row([(1020000, 300)], [(990000, 5)]),
        row([(1020000, 200)], [(990000, 5)]),
        row([(1020000, 150)], [(990000, 5)]),
        row([(1010000, 10)], [(990000, 5)]),
    ]
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_matched == r.rows_checked == 5
    assert r.levels_seeded == 1
    assert r.initial_levels == 2
    assert r.placeholder_hits == 3
    assert r.unapplied == 0


def test_rule_is_needed_and_only_for_entering_levels(tmp_path):
    """A level that was in view is never patched from the row: a row contradicting the messages mismatches."""
    msgs = [msg(0.0, 1, 1, 20, 1000000, -1), msg(0.1, 2, 1, 5, 1000000, -1)]
    rows = [row([(1000000, 20)]), row([(1000000, 14)])]  # the message says 15 are left
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_checked == 2 and r.rows_matched == 1
    m = r.mismatches[0]
    assert m.line == 2 and m.engine_asks == ((1000000, 15),) and m.file_asks == ((1000000, 14),)


def test_stale_level_coming_back_is_reconciled(tmp_path):
    """L=1: ask 100 x 10 drops out of view under a new best ask at 99; out of view it grows to 40 (unseen);
    when 99 goes, 100 comes back with 40: re-based from the row, and its ids resolve through the placeholder."""
    msgs = [
        msg(0.0, 1, 1, 10, 1000000, -1),
        msg(0.1, 1, 5, 30, 990000, -1),
        msg(0.2, 3, 5, 30, 990000, -1),
        msg(0.3, 4, 1, 10, 1000000, -1),  # the old order, known only through row 0's placeholder
        msg(0.4, 3, 12, 30, 1000000, -1),  # an order added out of view
    ]
    rows = [
        row([(1000000, 10)]),
        row([(990000, 30)]),
        row([(1000000, 40)]),
        row([(1000000, 30)]),
        row(),
    ]
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_matched == r.rows_checked == 5, r.mismatches
    assert r.levels_reconciled == 1 and r.levels_seeded == 0


def test_stale_level_removed_when_another_comes_into_view(tmp_path):
    """The engine still holds 100 (cancelled out of view); the row shows 102 next: 100 goes, 102 is seeded."""
    msgs = [
        msg(0.0, 1, 1, 10, 1000000, -1),
        msg(0.1, 1, 5, 30, 990000, -1),
        msg(0.2, 3, 5, 30, 990000, -1),
    ]
    rows = [row([(1000000, 10)]), row([(990000, 30)]), row([(1020000, 60)])]
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_matched == 3
    assert r.levels_seeded == 1 and r.levels_reconciled == 1


def test_five_levels_entering_in_the_middle(tmp_path):
    """L=2 on both sides: the bid side's second level comes from below after the best bid is executed."""
    msgs = [
        msg(0.0, 1, 1, 10, 990000, 1),
        msg(0.1, 4, 1, 10, 990000, 1),
        msg(0.2, 1, 2, 5, 985000, 1),  # a new level between 98.80 (second) and 98.00 (entered)
    ]
    rows = [
        row([(1000000, 7), (1010000, 8)], [(990000, 10), (988000, 4)], L=2),
        row([(1000000, 7), (1010000, 8)], [(988000, 4), (980000, 70)], L=2),
        row([(1000000, 7), (1010000, 8)], [(988000, 4), (985000, 5)], L=2),
    ]
    r = lb.replay(write_pair(tmp_path, msgs, rows, L=2), check=True)
    assert r.rows_matched == 3, r.mismatches
    assert r.levels_seeded == 1


def test_hidden_executions_and_cross_trades_leave_the_book(tmp_path):
    msgs = [
        msg(0.0, 1, 1, 10, 1000000, -1),
        msg(0.1, 5, 0, 300, 995000, 1),
        msg(0.2, 6, 0, 5000, 995000, -1),
        msg(0.3, 5, 0, 1, 1000000, -1),
    ]
    rows = [row([(1000000, 10)])] * 4
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_matched == 4
    assert r.hidden_executions == 2 and r.cross_trades == 1


def test_halts_recorded_without_book_change(tmp_path):
    msgs = [
        msg(0.0, 1, 1, 10, 1000000, -1),
        msg(1.0, 7, 0, 0, -1, -1),
        msg(2.0, 7, 0, 0, 0, -1),
        msg(3.0, 7, 0, 0, 1, -1),
        msg(4.0, 3, 1, 10, 1000000, -1),
    ]
    rows = [row([(1000000, 10)])] * 4 + [row()]
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.rows_matched == 5
    assert [(ln, c) for ln, _, c in r.halts] == [(2, -1), (3, 0), (4, 1)]
    assert r.halts[0][1] == 34201 * 10**9
    assert [h["kind"] for h in r.to_dict()["halts"]] == ["halt", "quoting", "resume"]


# ---------------------------------------------------------------------------------------------- parsing
def test_times_exact_to_the_nanosecond(tmp_path):
    mp = tmp_path / "X_2012-06-21_0_1_message_1.csv"
    mp.write_text("34200,1,1,5,1000000,1\n34200.18960767,5,0,1,1000000,1\n34200.9999999996,5,0,1,1000000,1\n"
                  "43002.632812672004,5,0,1,1000000,1\n")
    (tmp_path / "X_2012-06-21_0_1_orderbook_1.csv").write_text(f"{EA},0,1000000,5\n" * 4)
    d = lb.load(mp)
    assert d.time_ns.tolist() == [34200 * 10**9, 34200189607670, 34201 * 10**9, 43002632812672]


def test_tick_is_exact_for_sub_penny_prices(tmp_path):
    msgs = [msg(0.0, 1, 1, 10, 12345, -1), msg(0.1, 1, 2, 10, 12340, 1)]
    rows = [row([(12345, 10)]), row([(12345, 10)], [(12340, 10)])]
    r = lb.replay(write_pair(tmp_path, msgs, rows), check=True)
    assert r.tick == 5 and r.rows_matched == 2
    d = lb.load(write_pair(tmp_path, msgs, rows))
    assert d.price.dtype == np.int64 and d.price.tolist() == [2469, 2468]


def test_levels_option(tmp_path):
    msgs = [msg(0.0, 1, 1, 10, 1000000, -1)]
    mp = write_pair(tmp_path, msgs, [row([(1000000, 10)], L=3)], L=3)
    assert lb.replay(mp, levels=2).levels_checked == 2
    with pytest.raises(ConfigError, match="levels"):
        lb.replay(mp, levels=4)


# ---------------------------------------------------------------------------------------------- bad input
GOOD = [msg(0.0, 1, 1, 10, 1000000, -1), msg(0.1, 1, 2, 5, 990000, 1), msg(0.2, 3, 2, 5, 990000, 1)]
GOOD_ROWS = [row([(1000000, 10)]), row([(1000000, 10)], [(990000, 5)]), row([(1000000, 10)])]


def _expect_error(path, line, match):
    with pytest.raises(InputFormatError, match=match) as ei:
        lb.replay(path)
    assert ei.value.line == line
    return ei.value


def test_truncated_message_file(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    data = mp.read_bytes()
    mp.write_bytes(data[: len(data) - 9])  # cut inside the last line
    e = _expect_error(mp, 3, "fields")
    assert mp.name in str(e) and ":3:" in str(e)


def test_truncated_orderbook_file(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    bp = tmp_path / mp.name.replace("message", "orderbook")
    bp.write_bytes(bp.read_bytes()[:-4])
    e = _expect_error(mp, 3, "fields")
    assert bp.name in str(e)


def test_malformed_field(tmp_path):
    bad = list(GOOD)
    bad[1] = (bad[1][0], 1, 2, "5x", 990000, 1)
    mp = write_pair(tmp_path, bad, GOOD_ROWS)
    e = _expect_error(mp, 2, "not an integer")
    assert "'5x'" in str(e)


def test_malformed_time(tmp_path):
    bad = list(GOOD)
    bad[2] = ("3420O.5", *bad[2][1:])
    _expect_error(write_pair(tmp_path, bad, GOOD_ROWS), 3, "time")


def test_wrong_column_count(tmp_path):
    bad = list(GOOD)
    bad[1] = (*bad[1], 7)
    _expect_error(write_pair(tmp_path, bad, GOOD_ROWS), 2, "expected 6 comma-separated fields, found 7")


def test_length_mismatch(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS[:2])
    e = _expect_error(mp, 3, "one row per message")
    assert "orderbook" in e.path


def test_unknown_event_type(tmp_path):
    bad = list(GOOD)
    bad[2] = (bad[2][0], 9, 2, 5, 990000, 1)
    _expect_error(write_pair(tmp_path, bad, GOOD_ROWS), 3, "unknown event type 9")


def test_bad_direction_and_level(tmp_path):
    bad = list(GOOD)
    bad[1] = (bad[1][0], 1, 2, 5, 990000, 0)
    _expect_error(write_pair(tmp_path, bad, GOOD_ROWS), 2, "direction")
    rows = list(GOOD_ROWS)
    rows[1] = row([(1000000, 0)])
    _expect_error(write_pair(tmp_path, GOOD, rows), 2, "bad level 1")


def test_zip_missing_a_member(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    z = tmp_path / "only_messages.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(mp, mp.name)
    with pytest.raises(InputFormatError, match="no \\*_orderbook_L.csv member") as ei:
        lb.replay(z)
    assert ei.value.path == str(z)


def test_csv_without_its_partner(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    (tmp_path / mp.name.replace("message", "orderbook")).unlink()
    with pytest.raises(InputFormatError, match="not found"):
        lb.replay(mp)


def test_zip_pair_replays(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    z = tmp_path / "pair.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(mp, mp.name)
        bp = tmp_path / mp.name.replace("message", "orderbook")
        zf.write(bp, bp.name)
    r = lb.replay(z)
    assert r.rows_matched == 3 and r.ticker == "TEST"


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_json_keys(tmp_path):
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    res = cli(["lobster", "replay", str(mp), "--check", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for k in ("messages", "rows_checked", "rows_matched", "levels_seeded", "seconds", "messages_per_s"):
        assert k in d
    assert d["messages"] == d["rows_checked"] == d["rows_matched"] == 3


def test_cli_mismatch_exit_code_and_report(tmp_path):
    rows = list(GOOD_ROWS)
    rows[2] = row([(1000000, 11)])
    mp = write_pair(tmp_path, GOOD, rows)
    res = cli(["lobster", "replay", str(mp), "--check"])
    assert res.exit_code == 1
    assert "mismatch at line 3" in res.output and "100.0000x10" in res.output and "100.0000x11" in res.output
    assert cli(["lobster", "replay", str(mp)]).exit_code == 0  # no check, no verdict


@pytest.mark.parametrize("case", ["truncated", "malformed", "length", "type"])
def test_cli_bad_input_one_line_exit_2(tmp_path, case):
    msgs, rows = list(GOOD), list(GOOD_ROWS)
    if case == "malformed":
        msgs[1] = (msgs[1][0], 1, 2, "x", 990000, 1)
    elif case == "length":
        rows = rows[:2]
    elif case == "type":
        msgs[1] = (msgs[1][0], 8, 2, 5, 990000, 1)
    mp = write_pair(tmp_path, msgs, rows)
    if case == "truncated":
        mp.write_bytes(mp.read_bytes()[:-9])
    res = cli(["lobster", "replay", str(mp), "--check"])
    assert res.exit_code == 2
    err = res.output.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert ".csv:" in err


def test_cli_lists_both_lobster_commands():
    res = cli(["lobster", "--help"])
    assert res.exit_code == 0
    assert "replay" in res.output and "import" in res.output  # lobster import: the data layer's command


def test_small_book_grows_and_gives_the_same_answer(tmp_path):
    """The replay starts with a small order pool and reruns with a larger one when it fills up."""
    msgs = [msg(0.0, 5, 0, 1, 1000000, 1)] + [msg(0.001 * k, 1, 100 + k, 1, 1000000 + 100 * k, -1)
                                              for k in range(1, 40)]
    rows = [row()] + [row([(1000100, 1)], L=1)] * 39
    d = lb.load(write_pair(tmp_path, msgs, rows))
    ctr, *_, cap = lb._run(d, True, 1, 1, capacity=4)
    assert cap > 4 and ctr[lb.lnb.C_ROWS_MATCHED] == 40 and ctr[lb.lnb.C_CAPACITY] == 0


def test_one_reader_for_replay_and_import(tmp_path):
    """The engine replays arrays; reading LOBSTER files (names, zips, CSV, constants) lives in the data layer."""
    import inspect

    from lobkit.data import lobster as reader

    src = inspect.getsource(lb)
    for word in ("zipfile", "read_csv", "9999999999", "_message_", "re.compile"):
        assert word not in src, word
    assert not hasattr(lb, "parse_messages") and not hasattr(lb, "EMPTY_ASK")
    mp = write_pair(tmp_path, GOOD, GOOD_ROWS)
    lf = reader.read_lobster(mp)
    assert lb.replay(lf, check=True).rows_matched == 3  # the file as read by the one reader
    with pytest.raises(ConfigError, match="levels must be an integer"):
        lb.replay(lf, levels=1.5)
