"""``lobkit demo --engine-only``: a seeded synthetic stream through the engine; the book and throughput.

The whole pipeline (``lobkit demo``) is tested in ``tests/test_demo.py``."""

from __future__ import annotations

from click.testing import CliRunner

from lobkit.cli import main
from lobkit.demo import engine_demo


def test_demo_prints_book_and_throughput():
    r = CliRunner().invoke(main, ["demo", "--engine-only", "--messages", "20000", "--seed", "3", "--depth", "3"])
    assert r.exit_code == 0, r.output
    assert "bid size" in r.output and "million messages/s" in r.output
    assert len([ln for ln in r.output.splitlines() if " | " in ln]) == 4  # header + 3 levels


def test_demo_is_seeded():
    a, b, c = engine_demo(20_000, "match", 1), engine_demo(20_000, "match", 1), engine_demo(20_000, "match", 2)
    assert a["fills"] == b["fills"] and a["book"].l3().tolist() == b["book"].l3().tolist()
    assert a["book"].l3().tolist() != c["book"].l3().tolist()
    assert a["fills"] > 0.35 * 20_000 * 0.7


def test_demo_help_and_bad_arguments():
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "--help"]).exit_code == 0
    r = runner.invoke(main, ["demo", "--engine-only", "--messages", "0"])
    assert r.exit_code == 2 and "messages must be in" in r.output
