"""lobkit's Numba cache is keyed on all of its jitted sources, so a cached loop never inlines stale code."""

from __future__ import annotations

from pathlib import Path

from lobkit import _jit


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    (root / "engine").mkdir(parents=True)
    (root / "sim").mkdir()
    (root / "engine" / "nb.py").write_text("from numba import njit\n@njit(cache=True)\ndef f(x):\n    return x\n")
    (root / "sim" / "nb.py").write_text("from numba import njit\n@njit(cache=True)\ndef g(x):\n    return x + 1\n")
    (root / "plain.py").write_text("def h():\n    return 0\n")
    return root


def test_stamp_covers_every_jitted_file_and_only_those(tmp_path):
    root = _tree(tmp_path)
    assert [p.relative_to(root).as_posix() for p in _jit.jit_sources(root)] == ["engine/nb.py", "sim/nb.py"]


def test_editing_another_kernel_file_changes_the_stamp(tmp_path):
    root = _tree(tmp_path)
    before = _jit.source_stamp(root)
    (root / "engine" / "nb.py").write_text("from numba import njit\n@njit(cache=True)\ndef f(x):\n    return -x\n")
    after = _jit.source_stamp(root)
    assert before != after
    # a file without Numba does not take part
    (root / "plain.py").write_text("def h():\n    return 1\n")
    assert _jit.source_stamp(root) == after


def test_lobkit_kernels_use_the_package_wide_locator():
    from lobkit.engine import nb

    locator = nb.limit_order._cache._impl.locator
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
