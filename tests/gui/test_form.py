"""The controls' model without a window: fields built from the agent's Params dataclass, validation with the
message for the field it names, and the learned-market files found on disk."""

from __future__ import annotations

import shutil
import textwrap

import pytest

import lobkit
from lobkit.gui import form as F

USER_AGENT = '''
from dataclasses import dataclass, field

from lobkit.agents import Agent
from lobkit.errors import ConfigError


@dataclass(frozen=True)
class TakerParams:
    threshold: float = field(default=0.5, metadata={"help": "Share of the touch."})
    side: str = field(default="buy", metadata={"choices": ("buy", "sell")})
    bursts: int = 2

    def __post_init__(self):
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold: must be in (0, 1), got {self.threshold}")


class Taker(Agent):
    """Not registered: reached by its class path only."""

    name = "taker"
    Params = TakerParams

    def act(self, view):
        return []
'''


@pytest.fixture
def user_agent(tmp_path, monkeypatch):
    (tmp_path / "gui_user_agent.py").write_text(textwrap.dedent(USER_AGENT))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "gui_user_agent:Taker"


def test_momentum_fields_come_from_its_params_dataclass():
    specs = {s.name: s for s in F.strategy_fields("momentum")}
    assert list(specs)[:4] == ["short", "long", "order_type", "limit_offset"]
    assert specs["short"].kind == "int" and specs["short"].default == "5"
    assert specs["order_type"].kind == "choice" and specs["order_type"].choices == ("market", "limit")
    assert specs["short"].help.startswith("Short moving-average")
    # the fields every agent has follow
    assert [n for n in specs if n in ("size", "max_position", "interval", "fee_per_lot", "fee_bps")] == \
        ["size", "max_position", "interval", "fee_per_lot", "fee_bps"]
    assert specs["interval"].kind == "duration" and specs["interval"].default == "1s"


def test_a_users_class_gets_its_fields_without_gui_code(user_agent):
    specs = {s.name: s for s in F.strategy_fields(user_agent)}
    assert specs["threshold"].kind == "float" and specs["threshold"].help == "Share of the touch."
    assert specs["side"].kind == "choice" and specs["side"].choices == ("buy", "sell")
    assert specs["bursts"].kind == "int" and specs["bursts"].default == "2"
    ok = F.validate(user_agent, {"threshold": "0.3", "side": "sell", "bursts": "4", "duration": "10min"})
    assert ok.ok, ok.errors
    assert ok.config.agent.params.threshold == 0.3 and ok.config.agent.params.side == "sell"
    bad = F.validate(user_agent, {"threshold": "1.5"})
    assert bad.errors == {"threshold": "must be in (0, 1), got 1.5"}


@pytest.mark.parametrize("values, field, message_part", [
    ({"short": "abc"}, "short", "expected an integer"),
    ({"short": "0"}, "short", "[1, 99999], got 0"),
    ({"short": "30", "long": "20"}, "short", "must be smaller than long"),
    ({"size": "-1"}, "size", "got -1"),
    ({"interval": "soon"}, "interval", "cannot read 'soon' as a duration"),
    ({"duration": "0s"}, "duration", "must be > 0"),
    ({"duration": "10min", "warmup": "20min"}, "warmup", "shorter than the duration"),
    ({"seed": "-3"}, "seed", "non-negative"),
    ({"seed": "x"}, "seed", "non-negative integer"),
    ({"flow": "nhp:/no/such/model.pth"}, "flow", "model.pth"),
    ({"flow": "wiggly"}, "flow", "wiggly"),
    ({"initial_book": "wgan:/no/such/generator.pth"}, "initial_book", "generator.pth: no such file"),
    ({"initial_book": "snapshot:/no/such/lob.db"}, "initial_book", "lob.db: no such file"),
    ({"initial_book": "painted"}, "initial_book", "painted"),
    ({"speed": "warp 9"}, "speed", "choose one of"),
    ({"order_type": "iceberg"}, "order_type", "iceberg"),
])
def test_a_bad_value_is_reported_beside_its_field(values, field, message_part):
    res = F.validate("momentum", values)
    assert not res.ok and res.config is None
    assert list(res.errors) == [field], res.errors
    assert message_part in res.errors[field], res.errors
    assert not res.errors[field].startswith(f"{field}:")  # the name is beside it already
    assert "\n" not in res.errors[field]


def test_good_values_make_the_run_config():
    res = F.validate("momentum", {"short": "3", "long": "12", "duration": "20min", "warmup": "2min",
                                  "seed": "11", "speed": "100x", "size": "2", "max_position": ""})
    assert res.ok, res.errors
    cfg = res.config
    assert (cfg.agent.params.short, cfg.agent.params.long, cfg.agent.size, cfg.agent.max_position) == (3, 12, 2, None)
    assert cfg.market.duration_ns == 20 * 60 * 10**9 and cfg.market.warmup_ns == 120 * 10**9
    assert cfg.record is True  # kept so that the run can be exported as lobkit run writes it
    assert (res.seed, res.speed) == (11, 100.0)
    assert F.validate("momentum", {"seed": ""}).seed is None


def test_learned_markets_are_found_by_opening_the_files(tmp_path, nhp_model, calibration_file):
    (tmp_path / "models").mkdir()
    shutil.copy(nhp_model, tmp_path / "models" / "nhp_background_trader.pth")
    shutil.copy(calibration_file, tmp_path / "market.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # a TOML that is not a calibration
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    found = F.find_models([tmp_path])
    assert found["nhp"] == [str(tmp_path / "models" / "nhp_background_trader.pth")]
    assert found["calibrated"] == [str(tmp_path / "market.toml")]
    assert found["wgan"] == [] and found["snapshot"] == []
    specs = {s.name: s for s in F.market_fields(found)}
    assert specs["flow"].choices == ("hawkes", f"calibrated:{tmp_path / 'market.toml'}",
                                     f"nhp:{tmp_path / 'models' / 'nhp_background_trader.pth'}")
    res = F.validate("momentum", {"flow": specs["flow"].choices[2], "duration": "10min"})
    assert res.ok, res.errors
    assert res.config.flow.name == "nhp" and res.config.market.lot_size == 0.1  # the model's market


@pytest.mark.parametrize("values", [
    {"duration": "1s", "warmup": "0s", "interval": "100ms"},  # each field checked with the user's other values
    {"short": "30", "long": "60"},
    {"short": "1", "long": "2"},
    {"duration": "2h", "interval": "90min", "warmup": "5min"},
    {"duration": "200ms", "warmup": "0s", "interval": "10ms"},
])
def test_combinations_the_configuration_accepts_are_accepted(values):
    res = F.validate("momentum", values)
    assert res.ok, res.errors
    assert res.config == lobkit.build_config(agent="momentum", record=True, **values)


def test_several_wrong_fields_are_each_reported_beside_themselves():
    res = F.validate("momentum", {"short": "0", "size": "-1", "duration": "0s", "long": "abc"})
    assert set(res.errors) == {"short", "size", "duration", "long"}, res.errors
    assert res.errors["long"] == "expected an integer, got 'abc'"
    assert all(not m.split(":")[0].endswith("_ns") for m in res.errors.values())  # no internal field names


def test_an_initial_book_file_of_the_wrong_kind(nhp_model):
    res = F.validate("momentum", {"initial_book": f"wgan:{nhp_model}"})
    assert res.errors == {"initial_book": f"{nhp_model}: a lobkit-nhp file, not a WGAN generator"}


def test_an_empty_flow_is_not_silently_hawkes():
    assert "flow" in F.validate("momentum", {"flow": " "}).errors
