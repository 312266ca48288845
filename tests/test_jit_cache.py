"""lobkit's Numba cache never runs stale code: every module that can contribute compiled code is in the stamp."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numba
import pytest

from lobkit import _jit

PKG = _jit.PACKAGE_DIR


def _modules() -> dict[str, Path]:
    return {p.relative_to(PKG).as_posix(): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _uses_numba(path: Path) -> bool:
    return any(m == "numba" or m.startswith("numba.") or m.startswith("lobkit._jit") for m in _imports(path))


def _is_kernel_free(rel: str) -> bool:
    return any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in _jit.KERNEL_FREE)


def test_every_module_that_uses_numba_or_the_kernel_decorators_is_stamped():
    stamped = {p.relative_to(PKG).as_posix() for p in _jit.stamped_sources()}
    users = {rel for rel, p in _modules().items() if _uses_numba(p)}
    assert users, "the scan found the kernel modules"
    assert users <= stamped, sorted(users - stamped)
    # the modules whose code or constants kernels inline, though they never mention Numba, are stamped too
    for rel in ("sim/nb.py", "engine/state.py", "engine/messages.py", "agents/nb.py", "flows/nb.py",
                "flows/hawkes.py", "sim/rng.py"):
        assert rel in stamped, rel


def test_kernel_free_modules_cannot_contribute_compiled_code():
    """What the stamp leaves out neither imports Numba nor is imported by a module that does (whose kernels could
    read its constants)."""
    mods = _modules()
    free = {rel for rel in mods if _is_kernel_free(rel)}
    assert "cli/sim.py" in free and "api.py" in free and "training/wgan.py" in free
    for rel in free:
        assert not _uses_numba(mods[rel]), rel
    free_names = {"lobkit." + rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for rel in free}
    for rel, p in mods.items():
        if rel not in free and _uses_numba(p):
            assert not (_imports(p) & free_names), (rel, _imports(p) & free_names)


def test_editing_a_stamped_file_changes_the_stamp_and_a_kernel_free_one_does_not(tmp_path):
    root = tmp_path / "lobkit"
    (root / "engine").mkdir(parents=True)
    (root / "cli").mkdir()
    (root / "engine" / "state.py").write_text("M_BASE = 0\n")
    (root / "cli" / "x.py").write_text("HELP = 'a'\n")
    before = _jit.source_stamp(root)
    (root / "cli" / "x.py").write_text("HELP = 'b'\n")
    assert _jit.source_stamp(root) == before
    (root / "engine" / "state.py").write_text("M_BASE = 1\n")
    assert _jit.source_stamp(root) != before


def test_lobkit_kernels_use_the_package_wide_locator():
    from lobkit.engine import nb
    from lobkit.sim import nb as snb

    for fn in (nb.limit_order, snb.run_until):
        locator = fn._cache._impl.locator
        assert isinstance(locator, (_jit.LobkitInTreeLocator, _jit.LobkitUserDirLocator))
        assert locator.get_source_stamp() == _jit.source_stamp()


def test_functions_outside_lobkit_keep_numbas_locators(tmp_path):
    def f():
        return 1

    f.__code__ = f.__code__.replace(co_filename=str(tmp_path / "mod.py"))
    (tmp_path / "mod.py").write_text("def f():\n    return 1\n")
    assert _jit.LobkitInTreeLocator.from_function(f, str(tmp_path / "mod.py")) is None
    assert _jit.LobkitUserDirLocator.from_function(f, str(tmp_path / "mod.py")) is None
    assert _jit.LobkitInTreeLocator in _jit._impl_class()._locator_classes


def test_numba_is_bounded_to_the_tested_version():
    """The locators and the _nrt flag are private Numba API: pyproject bounds numba to the tested minor."""
    deps = tomllib.loads((PKG.parent / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if d.startswith("numba"))
    assert "<" in spec and ">=" in spec, spec
    lo, hi = (part.split("=")[-1].split("<")[-1] for part in spec.removeprefix("numba").split(","))
    version = tuple(int(x) for x in numba.__version__.split(".")[:3])
    assert tuple(int(x) for x in lo.split(".")) <= version < tuple(int(x) for x in hi.split(".")), spec


_RUN = ("import lobkit\n"
        "r = lobkit.run(duration='20s', warmup='5s', seed=1, agent='null')\n"
        "print(repr(r.summary['mid_start']), r.summary['n_events'])\n")


def _run_copy(root: Path) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, text=True, cwd=root,
                         check=True).stdout.split()
    return float(out[-2]), int(out[-1])


@pytest.mark.slow
def test_an_edit_to_the_loop_reaches_the_next_run_without_deleting_the_cache(tmp_path):
    """The real thing: a copied package (with its warm cache), the loop's mid edited, the next run sees it."""
    root = tmp_path / "copy"
    shutil.copytree(PKG, root / "lobkit")
    before = _run_copy(root)
    loop = root / "lobkit" / "sim" / "nb.py"
    src = loop.read_text()
    old = "        return book.meta[M_BEST_BID] + book.meta[M_BEST_ASK]\n    return sim.scalars[S_LAST_MID2]"
    assert old in src
    loop.write_text(src.replace(old, old.replace("M_BEST_ASK]\n", "M_BEST_ASK] + 2\n", 1)))
    after = _run_copy(root)
    assert after[0] == pytest.approx(before[0] + 0.01)  # mid2 + 2 half-ticks: one tick higher
    assert after[1] == before[1]  # the market itself is the same
