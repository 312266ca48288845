"""The GUI's pieces that need no window (blotter rows, the plot's envelope, the sweep grid around a run, price
decimals, remembered settings) and the ``lobkit gui`` command itself (a one-line error without a display; a
window on Xvfb)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import lobkit
from lobkit.engine.messages import OP_CANCEL, OP_LIMIT, OP_MARKET
from lobkit.gui.analysis import envelope
from lobkit.gui.blotter import blotter_rows, decimals_of, format_sim_time
from lobkit.gui.runs import sweep_grid_around
from lobkit.gui.theme import load_settings, save_settings


@pytest.mark.parametrize("tick, decimals", [(0.01, 2), (0.25, 2), (0.5, 1), (5.0, 0), (1.0, 0), (0.001, 3),
                                            (1e-8, 8)])
def test_price_decimals(tick, decimals):
    assert decimals_of(tick) == decimals


@pytest.mark.parametrize("ns, text", [(0, "0:00:00.000"), (1_500_000, "0:00:00.001"), (61 * 10**9, "0:01:01.000"),
                                      (3600 * 10**9 + 5 * 10**6, "1:00:00.005"), (25 * 3600 * 10**9, "25:00:00.000")])
def test_simulated_time_text(ns, text):
    assert format_sim_time(ns) == text


def test_blotter_rows_name_kind_side_and_mark_the_strategy():
    # order log rows: ts, op, side, flags, price, size, oid, owner, status, qty
    orders = np.array([[10, OP_LIMIT, 1, 0, 9950, 3, 1, 2, 0, 0],  # background account 1 (owner 2, one agent)
                       [20, OP_MARKET, -1, 0, 0, 2, 2, 0, 0, 0],  # the strategy
                       [20, OP_CANCEL, 1, 0, 9950, 3, 1, 2, 0, 0],
                       [30, OP_LIMIT, 1, 0, 9951, 1, 3, 0, 7, 0]], np.int64)  # refused
    # fills: ts, price, size, maker_oid, taker_oid, maker_owner, taker_owner, aggressor
    trades = np.array([[20, 9949, 2, 5, 2, 3, 0, -1]], np.int64)
    rows = blotter_rows(orders, trades, ["momentum"], 0.01)
    values = [r[1] for r in rows]
    assert values == [("0:00:00.000", "bg 1", "limit", "BUY", "99.50", "3"),
                      ("0:00:00.000", "momentum", "market", "SELL", "", "2"),
                      ("0:00:00.000", "bg 1", "cancel", "BUY", "99.50", "3"),
                      ("0:00:00.000", "momentum", "trade", "SELL", "99.49", "2"),
                      ("0:00:00.000", "momentum", "limit (refused)", "BUY", "99.51", "1")]
    assert [r[3] for r in rows] == [False, True, False, True, True]  # the strategy's rows
    assert [r[4] for r in rows] == [False, False, False, True, False]  # trades
    assert rows[3][2] == ("trade", "strategy") and rows[0][2] == ("buy",)
    assert blotter_rows(None, None, ["x"], 0.01) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=3000), st.integers(1, 50))
def test_envelope_keeps_every_extreme(ys, bins):
    y = np.array(ys)
    x = np.arange(len(y), dtype=float)
    ex, ey = envelope(x, y, bins)
    if len(y) <= 2 * bins:
        assert np.array_equal(ex, x) and np.array_equal(ey, y)
        return
    assert len(ex) == len(ey) == 2 * bins
    assert ey.max() == y.max() and ey.min() == y.min()
    assert np.all(np.diff(ex) >= 0)  # in time order
    assert set(ey) <= set(y)


def test_sweep_grid_around_a_run():
    cfg = lobkit.build_config(agent="momentum", short=5, long=20)
    assert sweep_grid_around(cfg) == "short=2,5,10 long=10,20,40"
    assert sweep_grid_around(lobkit.build_config(agent="strategic", size=3)) == "size=1,3,6"
    assert sweep_grid_around(lobkit.build_config(agent="momentum", short=1, long=2)) == "short=1,2 long=1,2,4"


def test_settings_are_remembered_and_a_broken_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("LOBKIT_CONFIG_DIR", str(tmp_path / "cfg"))
    assert load_settings() == {}
    save_settings(dark=True)
    save_settings(other=1)
    assert load_settings() == {"dark": True, "other": 1}
    (tmp_path / "cfg" / "settings.json").write_text("{not json")
    assert load_settings() == {}
    save_settings(dark=False)
    assert json.loads((tmp_path / "cfg" / "settings.json").read_text()) == {"dark": False}
    assert [p.name for p in (tmp_path / "cfg").iterdir()] == ["settings.json"]  # no temporary file left


def test_gui_without_a_display_is_one_line(monkeypatch):
    from lobkit.cli import main as cli

    monkeypatch.delenv("DISPLAY", raising=False)
    r = CliRunner().invoke(cli, ["gui"])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "xvfb-run lobkit gui" in r.output and "Traceback" not in r.output


@pytest.mark.gui
def test_lobkit_gui_opens_its_window(display, tmp_path):
    exe = shutil.which("lobkit", path=os.path.dirname(sys.executable)) or shutil.which("lobkit")
    assert exe, "the lobkit command is not installed"
    env = dict(os.environ, LOBKIT_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen([exe, "gui", "--dark", "--duration", "30min", "--seed", "3", "--models", str(tmp_path)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        found = False
        while time.monotonic() < deadline and proc.poll() is None and not found:
            tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
            found = "lobkit Algo-Gym" in tree
            time.sleep(0.2)
        assert found, f"no window (exit {proc.poll()}): {proc.stderr.read() if proc.poll() is not None else ''}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_passive_fill_of_the_strategy_is_shown_from_its_side():
    # the strategy (owner 0) rested a sell; background account 2 (owner 3) bought into it
    trades = np.array([[5, 10_010, 1, 9, 40, 0, 3, 1]], np.int64)
    (row,) = blotter_rows(None, trades, ["momentum"], 0.01)
    assert row[1] == ("0:00:00.000", "momentum", "trade (passive)", "SELL", "100.10", "1") and row[3]
    # an aggressive fill of the strategy, and a fill between two background accounts
    rows = blotter_rows(None, np.array([[6, 10_011, 2, 8, 41, 4, 0, -1], [7, 10_012, 3, 8, 42, 4, 2, 1]], np.int64),
                        ["momentum"], 0.01)
    assert [r[1][1:4] for r in rows] == [("momentum", "trade", "SELL"), ("bg 1", "trade", "BUY")]
    assert [r[3] for r in rows] == [True, False]
