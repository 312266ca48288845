"""MarketRecord: validation, windows, the builders from real snapshots (lob-btc.db with its capture, LOBSTER, a
sample database) and from simulations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lobkit.errors import ConfigError, InputFormatError
from lobkit.realism import MarketRecord, real_record, record_from_snapshots, simulated_record, simulated_records

from .conftest import NS, make_record, require_data


# ------------------------------------------------------------------------------------------------- validation
def _good(**changes):
    n = 4
    base = dict(source="x", tick_size=0.01, t_ns=np.arange(n, dtype=np.int64) * NS,
                bid=np.full(n, 99, np.int64), ask=np.full(n, 101, np.int64), bid_volume=np.ones((n, 2)),
                ask_volume=np.ones((n, 2)), event_t_ns=np.array([0, 5], np.int64),
                event_type=np.array([0, 5], np.int8), duration_ns=3 * NS)
    base.update(changes)
    return MarketRecord(**base)


BAD = [
    ("source", dict(source=""), "source"),
    ("tick_size", dict(tick_size=0.0), "tick_size"),
    ("tick_size nan", dict(tick_size=float("nan")), "tick_size"),
    ("t_ns dtype", dict(t_ns=np.arange(4, dtype=np.float64)), "t_ns must have dtype int64"),
    ("t_ns 2-d", dict(t_ns=np.zeros((4, 1), np.int64)), "t_ns must be 1-dimensional"),
    ("t_ns not increasing", dict(t_ns=np.array([0, 2, 2, 3], np.int64)), "t_ns[2]"),
    ("t_ns negative", dict(t_ns=np.array([-1, 2, 3, 4], np.int64)), "t_ns[0]"),
    ("no samples", dict(t_ns=np.zeros(0, np.int64)), "no samples"),
    ("bid length", dict(bid=np.full(3, 99, np.int64)), "bid has 3 values"),
    ("bid int32", dict(bid=np.full(4, 99, np.int32)), "bid must have dtype int64"),
    ("bid zero", dict(bid=np.array([99, 0, 99, 99], np.int64)), "bid[1] = 0"),
    ("crossed", dict(ask=np.array([101, 99, 101, 101], np.int64)), "sample 1: ask 99 is not above bid 99"),
    ("volume rows", dict(ask_volume=np.ones((3, 2))), "ask_volume has 3 rows"),
    ("volume levels differ", dict(ask_volume=np.ones((4, 3))), "bid_volume has 2 levels but ask_volume 3"),
    ("volume negative", dict(bid_volume=np.array([[1.0, -1.0]] * 4)), "bid_volume[0, 1] = -1.0"),
    ("volume inf", dict(bid_volume=np.array([[1.0, np.inf]] * 4)), "bid_volume[0, 1] = inf"),
    ("volume float32", dict(bid_volume=np.ones((4, 2), np.float32)), "bid_volume must have dtype float64"),
    ("duration short", dict(duration_ns=2 * NS), "ends before the last sample"),
    ("duration bool", dict(duration_ns=True), "duration_ns"),
    ("events half", dict(event_type=None), "both be given or both be None"),
    ("events length", dict(event_type=np.array([0], np.int8)), "event_type has 1 values for 2"),
    ("events unsorted", dict(event_t_ns=np.array([5, 0], np.int64)), "event_t_ns[1]"),
    ("events outside", dict(event_t_ns=np.array([0, 4 * NS], np.int64)), "outside the window"),
    ("event type", dict(event_type=np.array([0, 6], np.int8)), "event_type[1] = 6"),
    ("event type dtype", dict(event_type=np.array([0, 5], np.int64)), "event_type must have dtype int8"),
]


@pytest.mark.parametrize(("case", "changes", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_records_are_config_errors_naming_the_field(case, changes, message):
    with pytest.raises(ConfigError, match="MarketRecord") as exc:
        _good(**changes)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_good_record_and_an_empty_side():
    rec = _good(bid=np.array([99, -1, 99, 99], np.int64))
    assert rec.n_samples == 4 and rec.levels == 2 and rec.has_events
    assert rec.describe()["events"] == 2


def test_window_starts_with_the_book_at_its_start_and_counts_time_from_it():
    rec = make_record(np.arange(10_000, 10_010), step_s=1.0,
                      events=(np.array([0, 1, 2, 5, 9]) * NS, [0, 1, 2, 3, 4]))
    w = rec.window(int(2.5 * NS), 5 * NS)
    # the book at 2.5 s is sample 2 (timed 0), then samples 3, 4, 5
    assert w.t_ns.tolist() == [0, NS // 2, 3 * NS // 2, 5 * NS // 2]
    assert (w.bid + w.ask).tolist() == [2 * m for m in (10_002, 10_003, 10_004, 10_005)]
    assert w.event_t_ns.tolist() == [int(2.5 * NS)] and w.event_type.tolist() == [3]
    assert w.duration_ns == int(2.5 * NS)
    first, second = rec.halves()
    assert first.duration_ns + second.duration_ns == rec.duration_ns
    with pytest.raises(ConfigError, match="window"):
        rec.window(5 * NS, 5 * NS)
    with pytest.raises(ConfigError, match="window"):
        rec.window(0, rec.duration_ns + 1)


# ------------------------------------------------------------------------------------------------- real data
def test_event_codes_are_the_simulators_and_the_event_streams():
    from lobkit.flows.nb import EVENT_NAMES as FLOW_NAMES
    from lobkit.realism import EVENT_NAMES
    from lobkit.training.events import EVENT_TYPES

    assert EVENT_NAMES == FLOW_NAMES == EVENT_TYPES


def test_lob_btc_with_the_bitstamp_capture(lob_btc):
    require_data("bitstamp-btcusd-2015-05-01.log.xz")
    rec = lob_btc
    assert "events: Bitstamp capture bitstamp-btcusd-2015-05-01.log.xz" in rec.source
    assert rec.n_samples == 5011 and rec.levels == 20
    # the first snapshot (2015-05-01 00:00:05.885): best bid 236.47, best ask 236.64
    assert (int(rec.bid[0]), int(rec.ask[0])) == (23647, 23664)
    assert rec.t_ns[1] == 2_392_000_000
    assert abs(rec.hours - 5.0768) < 1e-3
    counts = np.bincount(rec.event_type, minlength=6)
    assert (counts > 0).all() and 45_000 < counts.sum() <= 49_229
    assert rec.event_t_ns[-1] <= rec.duration_ns


def test_snapshot_prices_are_ticks_exactly_and_volumes_as_stored(lob_btc, lob_btc_path):
    from lobkit.data.sources import open_source

    frame = next(iter(open_source(lob_btc_path).snapshots(chunk_size=50)))
    px = np.asarray(frame["ask_px"][3].to_list())
    assert np.array_equal(np.round(px / 0.01).astype(np.int64)[0], lob_btc.ask[3])
    assert np.allclose(frame["bid_qty"][3].to_list(), lob_btc.bid_volume[3])


def test_sample_db_every_snapshot_resampled_and_inferred_events(tmp_path):
    from lobkit.data.sample import write_sample_db

    path = write_sample_db(tmp_path / "s.db", 120, seed=4)
    every = record_from_snapshots(path, levels=5)
    assert every.levels == 5 and not every.has_events
    grid = record_from_snapshots(path, levels=5, sample_ns=NS, chunk_size=7)  # chunks: the carry across them
    assert np.array_equal(grid.t_ns, np.arange(len(grid.t_ns)) * NS)
    idx = np.searchsorted(every.t_ns, grid.t_ns, side="right") - 1
    assert np.array_equal(grid.bid, every.bid[idx]) and np.array_equal(grid.ask_volume, every.ask_volume[idx])
    assert grid.duration_ns == every.duration_ns
    # no capture matches a synthetic book: events are inferred, and the source says so
    rec = real_record(str(path), levels=5)
    assert "events: inferred from the snapshots" in rec.source and rec.has_events
    none = real_record(str(path), levels=5, events=None)
    assert not none.has_events and none.source.endswith("events: none")


def test_events_given_as_arrays_are_placed_on_the_record_clock(tmp_path):
    from lobkit.data.sample import write_sample_db
    from lobkit.data.sources import open_source

    path = write_sample_db(tmp_path / "s.db", 30, seed=4)
    start_ns = int(next(iter(open_source(path).snapshots()))["ts"].dt.epoch("us")[0]) * 1000
    t = np.array([0, 2 * NS, 3 * NS], np.int64)
    rec = record_from_snapshots(path, levels=2, events=(t, np.array([0, 1, 2])))
    assert rec.event_t_ns.tolist() == t.tolist() and rec.event_type.dtype == np.int8
    # events counted from one second after the first snapshot: one second later on the record's clock; an event
    # before the record's start is left out
    later = record_from_snapshots(path, levels=2, events=(t - NS, np.array([0, 1, 2])),
                                  events_start_ns=start_ns + NS)
    assert later.event_t_ns.tolist() == t.tolist()
    early = record_from_snapshots(path, levels=2, events=(t, np.array([0, 1, 2])), events_start_ns=start_ns - NS)
    assert early.event_t_ns.tolist() == [NS, 2 * NS] and early.event_type.tolist() == [1, 2]


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(tick_size=0.0), ConfigError, "tick_size"),
    (dict(levels=0), ConfigError, "levels"),
    (dict(sample_ns=10), ConfigError, "sample_ns"),
    (dict(tick_size=0.03), InputFormatError, "not on the tick grid of 0.03"),
    (dict(events=([0, 1], [0])), ConfigError, "two 1-d arrays"),
    (dict(events=([0.5], [0])), ConfigError, "must be integers"),
])
def test_bad_builder_arguments(lob_btc_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        record_from_snapshots(lob_btc_path, **kwargs)


def test_missing_files_and_bad_choices(tmp_path):
    with pytest.raises(InputFormatError, match="no such"):
        record_from_snapshots(tmp_path / "absent.db")
    with pytest.raises(ConfigError, match="events: one of"):
        real_record(tmp_path / "absent.db", events="guess")


def test_an_explicit_capture_that_does_not_match(tmp_path, lob_btc_path):
    from lobkit.data.sample import write_sample_db

    path = write_sample_db(tmp_path / "s.db", 20, seed=4)
    capture = require_data("bitstamp-btcusd-2015-05-01.log.xz")
    with pytest.raises(ConfigError, match="not a Bitstamp capture whose first snapshot"):
        real_record(str(path), levels=2, events="bitstamp", capture=capture)


def test_lobster_messages_and_a_one_second_grid():
    zip_path = require_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    rec = real_record(zip_path, levels=1)
    assert "events: LOBSTER messages" in rec.source
    assert rec.levels == 1 and np.array_equal(np.diff(rec.t_ns), np.full(rec.n_samples - 1, NS))
    assert abs(rec.hours - 6.5) < 0.01
    assert (np.bincount(rec.event_type, minlength=6) > 0).all()
    both = (rec.bid > 0) & (rec.ask > 0)
    assert (rec.ask[both] > rec.bid[both]).all()


# ------------------------------------------------------------------------------------------------- simulation
def test_simulated_record_is_valid_with_all_six_event_types(short_sim):
    rec = short_sim
    assert rec.n_samples == 301 and rec.duration_ns == 300 * NS
    assert np.array_equal(rec.t_ns, np.arange(301) * NS)
    assert (rec.bid > 0).all() and (rec.ask > rec.bid).all()
    assert rec.levels == 20 and np.isfinite(rec.bid_volume[:, 0]).all()
    counts = np.bincount(rec.event_type, minlength=6)
    assert (counts > 0).all(), counts
    assert rec.event_t_ns[0] >= 0 and rec.event_t_ns[-1] < rec.duration_ns
    assert "seed 5" in rec.source


def test_chunked_driving_gives_the_same_run_as_one_call():
    """The documented property simulated_record relies on: advancing in 1 s chunks is the same run as one call
    (book arrays, order log and grid equal to the bit)."""
    from lobkit.sim.options import apply_options
    from lobkit.sim.simulation import Simulation

    cfg = apply_options(None, {"duration": "2min", "warmup": "10s", "record": True})
    a, b = Simulation(cfg, 9), Simulation(cfg, 9)
    for t in range(NS, cfg.market.duration_ns + 1, NS):
        a.advance(t)
    b.advance(cfg.market.duration_ns)
    for x, y in zip(a.book, b.book, strict=True):
        assert np.array_equal(x, y)
    a.flush_logs()
    b.flush_logs()
    assert np.array_equal(a.order_log, b.order_log) and len(a.order_log) > 1000
    assert np.array_equal(a.state.grid, b.state.grid)


def test_agent_orders_are_not_background_events():
    """With the agent's orders logged too (a momentum agent trading), the record keeps only the background's."""
    from lobkit.sim import nb as snb
    from lobkit.sim.options import apply_options
    from lobkit.sim.simulation import Simulation

    cfg = apply_options(None, {"duration": "3min", "warmup": "30s", "record": True, "short": 2, "long": 5,
                               "interval": "1s"})
    rec = simulated_record(cfg, 3)
    sim = Simulation(cfg, 3)
    n0 = int(sim.state.scalars[snb.S_N_LOGGED_ORDERS])
    sim.advance(cfg.market.duration_ns)
    sim.flush_logs()
    log = sim.order_log[n0:]
    after = log[:, snb.LOG_TS] >= cfg.market.warmup_ns
    agents = after & (log[:, snb.LOG_OWNER] < len(sim.agents))
    background = after & (log[:, snb.LOG_OWNER] >= len(sim.agents)) & (log[:, snb.LOG_STATUS] == 0)
    assert agents.sum() > 0
    assert len(rec.event_t_ns) == int(background.sum())


def test_simulated_records_seeds_and_duration():
    from lobkit.sim.options import apply_options

    cfg = apply_options(None, {"duration": "2min", "warmup": "30s"})
    recs = simulated_records(cfg, 4, 2, duration_ns=60 * NS, levels=3, sample_ns=2 * NS)
    assert [r.duration_ns for r in recs] == [60 * NS, 60 * NS]
    assert all(r.n_samples == 31 and r.levels == 3 for r in recs)
    assert "seed 4/0" in recs[0].source and "seed 4/1" in recs[1].source
    assert not np.array_equal(recs[0].event_t_ns[:50], recs[1].event_t_ns[:50])
    again = simulated_record(dataclasses.replace(cfg, market=dataclasses.replace(cfg.market, duration_ns=90 * NS)),
                             np.random.SeedSequence(4, spawn_key=(0,)), levels=3, sample_ns=2 * NS)
    assert np.array_equal(again.event_t_ns, recs[0].event_t_ns) and np.array_equal(again.bid, recs[0].bid)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: simulated_record("cfg", 1), "RunConfig"),
    (lambda: simulated_records("cfg", 1, 2), "RunConfig"),
    (lambda: simulated_record(_cfg(), 1, levels=0), "levels"),
    (lambda: simulated_record(_cfg(), 1, sample_ns=5), "sample_ns"),
    (lambda: simulated_records(_cfg(), 1, 0), "runs"),
    (lambda: simulated_records(_cfg(), 1, 1, duration_ns=-5), "duration_ns"),
    (lambda: simulated_record(_cfg(), -3), "seed"),
])
def test_bad_simulation_arguments(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def _cfg():
    from lobkit.sim.options import apply_options

    return apply_options(None, {"duration": "1min", "warmup": "10s"})
