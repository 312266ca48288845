"""Docs that are true, and stay true (in the manner of sqlite-utils' documentation tests).

* **Figures**: every figure section of README.md and docs/*.md (between ``<!-- figures: VIEW -->`` and its end
  marker) is exactly what ``scripts/docs.py`` renders from the committed ``benchmarks/results/*.json``, and no
  text outside those sections holds a hand-typed benchmark figure (``39.3 M orders/s``, ``38,152
  snapshots/s``, ``12x faster``).
* **CLI reference**: ``docs/cli.md`` is what ``python scripts/docs.py cli`` generates from ``lobkit.cli.main``
  (every command's ``--help``), and every command, option and argument has help text.
* **Code blocks**: every fenced block of README.md and docs/*.md runs (python in a namespace, bash through
  ``bash -e`` with the venv's ``lobkit``, toml parsed), each chain of blocks in a fresh temporary directory with
  ``../shared/data`` linked to the shared data. A block marked ``<!-- docs-test: skip (why) -->`` is reported
  as skipped with its reason (``-ra`` lists them all with their count); see ``scripts/docs.py`` for the other
  directives (``replace``, ``session``, ``tsdb``).

Regenerate: ``python scripts/docs.py`` (CLI reference and figures); ``python scripts/docs.py bench`` reruns the
benchmarks first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from lobkit.paths import shared_data_dir
from tests.conftest import IN_CI
from tests.data.conftest import tsdb_server  # noqa: F401 - the data tests' real server, for `tsdb` blocks

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lobkit_docs_tool", ROOT / "scripts" / "docs.py")
docs = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = docs  # dataclasses look their module up while the class is built
_spec.loader.exec_module(docs)

# ----------------------------------------------------------------------------------------------------------------
# Blocks of the docs that other work owns and that cannot pass yet. Each entry: (doc, start of the block's first
# line) -> (what the test does, why). "skip": the block needs a docs-test marker in that doc (the reason says
# which), and is not run meanwhile; "xfail": it runs and must fail (strict: once it passes, remove the entry).
# An entry that matches no block fails test_pending_entries_match_blocks: delete it.
# ----------------------------------------------------------------------------------------------------------------
PENDING: dict[tuple[str, str], tuple[str, str]] = {}

# Rate-like figures outside the rendered sections that are not this project's measurements: (doc, text) -> why.
_LIQUIBOOK_CPP = "liquibook (C++) on its own stream, quoted from the shared data's README: not a lobkit figure"
ALLOWED_FIGURES: dict[tuple[str, str], str] = {
    ("README.md", "3.8-5 M orders/s"): _LIQUIBOOK_CPP,
    ("docs/engine.md", "3.8-5 million orders/s"): _LIQUIBOOK_CPP,
}

FIGURE_RE = re.compile(
    r"""(?<![\w.])~?\d[\d,]*(?:\.\d+)?(?:\s*-\s*\d[\d,]*(?:\.\d+)?)?\s*
        (?: (?:k|K|M|million|thousand)\s*(?:orders|msgs|messages|events|snapshots|sims|simulations|rows|fills)?
          | (?:orders|msgs|messages|events|snapshots|sims|simulations|rows|fills) )
        \s*(?:/\s*s\b|per\s+(?:wall\s+)?second\b)
      | (?<![\w.])\d{1,3}(?:,\d{3})+\s*/\s*s\b
      | (?<![\w.])\d+(?:\.\d+)?\s*x\s+(?:faster|slower)\b""",
    re.X,
)


def load():
    return docs.loader(ROOT / "benchmarks" / "results")


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", docs.doc_files(), ids=lambda p: docs.rel(p))
def test_figure_sections_equal_what_the_committed_json_renders(path):
    text = path.read_text()
    sections = docs.figure_sections(text, docs.rel(path))
    for s in sections:
        line = text.count("\n", 0, s.begin) + 1
        assert s.end is not None, f"{docs.rel(path)}:{line}: figures marker without an end marker: " \
                                  "run python scripts/docs.py figures"
    assert docs.render_text(text, load(), docs.rel(path)) == text, \
        f"{docs.rel(path)}: its figures differ from benchmarks/results/*.json: run python scripts/docs.py figures"


def test_every_benchmark_result_is_committed_with_date_machine_load_and_targets():
    names = {p.stem for p in (ROOT / "benchmarks" / "results").glob("*.json")}
    assert set(docs.BENCHMARKS) <= names, f"benchmarks/results/ holds {sorted(names)}"
    for name in sorted(names):
        j = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
        assert j.get("date") and j.get("machine", {}).get("cpu_model"), f"{name}.json: no date or machine"
        if name in docs.BENCHMARKS:
            before, after = j["load_average_1min"]
            assert before >= 0 and after >= 0
            figures = set(j) | {k for v in j.values() if isinstance(v, dict) for sub in v.values()
                                if isinstance(sub, dict) for k in sub}  # per-model figures (coupling.json)
            assert j["targets"], name
            for key in j["targets"]:
                assert key.removesuffix("_at_most") in figures, (name, key)  # a target names a measured figure


def test_every_benchmark_is_shown_in_the_docs():
    keys = {s.key for p in docs.doc_files() for s in docs.figure_sections(p.read_text(), docs.rel(p))}
    assert "performance" in keys and "benchmarks/results/engine.json" in keys
    shown = {k.split()[0].rsplit("/", 1)[-1].removesuffix(".json") for k in keys if k != "performance"}
    assert shown >= {"engine", "ingest", "sweep"}, shown


def test_the_readme_performance_table_is_rendered():
    text = (ROOT / "README.md").read_text()
    perf = text[text.index("## Performance"):]
    perf = perf[:perf.find("\n## ", 1)] if "\n## " in perf[1:] else perf
    assert "<!-- figures: performance -->" in perf and docs.END_MARK in perf


def test_targets_met_or_missed_follow_the_figures():
    """The verdict is computed: a faster or slower figure flips it, nothing typed by hand."""
    j = load()("engine")
    fast = {**j, "liquibook_orders_per_s": 2 * j["targets"]["liquibook_orders_per_s"]}
    slow = {**j, "liquibook_orders_per_s": 0.5 * j["targets"]["liquibook_orders_per_s"]}
    row = lambda e: docs._engine_rows(e)[0]  # noqa: E731
    assert row(fast)[-1] == "met" and row(slow)[-1] == "**missed**"


def _hand_typed(path: Path) -> list[str]:
    text = docs.strip_figures(path.read_text())
    doc = docs.rel(path)
    return [m.group(0) for m in FIGURE_RE.finditer(text) if (doc, m.group(0)) not in ALLOWED_FIGURES]


@pytest.mark.parametrize("path", docs.doc_files(), ids=lambda p: docs.rel(p))
def test_no_hand_typed_figures_outside_rendered_sections(path):
    found = _hand_typed(path)
    assert not found, (f"{docs.rel(path)}: hand-typed figures {found}: show figures through a "
                       "<!-- figures: ... --> section rendered from benchmarks/results/*.json")


def test_allowed_figures_still_occur():
    texts = {docs.rel(p): docs.strip_figures(p.read_text()) for p in docs.doc_files()}
    stale = [k for k in ALLOWED_FIGURES if k[1] not in texts.get(k[0], "")]
    assert not stale, f"ALLOWED_FIGURES entries that no longer occur (delete them): {stale}"


@pytest.mark.parametrize("text, found", [
    ("replay 23.5 M msgs/s", ["23.5 M msgs/s"]),
    ("migration 38,152 snapshots/s, or 29,345/s", ["38,152 snapshots/s", "29,345/s"]),
    ("caps it near 42-47k/s", ["42-47k/s"]),
    ("3.8-5 million orders/s", ["3.8-5 million orders/s"]),
    ("the kernel is 12.4x faster", ["12.4x faster"]),
    ("40.9 sims per second", ["40.9 sims per second"]),
    ("limit_rate=20/s, hawkes_beta=0.2/s", []),
    ("a 1,000-configuration sweep of 100,000-event simulations", []),
])
def test_the_figure_pattern(text, found):
    assert [m.group(0) for m in FIGURE_RE.finditer(text)] == found


@pytest.mark.parametrize("key", sorted(docs.VIEWS))
def test_every_view_renders_from_the_committed_json(key):
    """Also the views no doc uses yet (benchmarks/results/simulate.json: for docs/simulator.md)."""
    text = docs.render_text(f"<!-- figures: {key} -->\n", load())
    body = text.split("\n", 1)[1]
    assert "| what" in body or "| stream" in body
    assert "Measured" in body and "UTC" in body


def test_rendering_is_idempotent_and_adds_end_markers(tmp_path):
    text = "# x\n\n<!-- figures: benchmarks/results/engine.json replay -->\n\nafter\n"
    once = docs.render_text(text, load())
    assert docs.END_MARK in once and once.endswith("\nafter\n")
    assert docs.render_text(once, load()) == once
    assert docs.strip_figures(once) == "# x\n\n<!-- figures: benchmarks/results/engine.json replay -->\n" \
                                       + docs.END_MARK + "\n\nafter\n"


@pytest.mark.parametrize("text, error", [
    ("<!-- figures: nope.json -->\n", "unknown figures view 'nope.json'"),
    (f"{docs.END_MARK}\n", "without a begin marker"),
])
def test_bad_figure_markers(text, error):
    with pytest.raises(docs.DocsError, match=re.escape(error)):
        docs.render_text(text, load(), "x.md")


def test_a_missing_results_file_names_the_command(tmp_path):
    with pytest.raises(docs.DocsError, match=r"missing; run `python scripts/docs.py bench ingest`"):
        docs.loader(tmp_path)("ingest")


# ----------------------------------------------------------------------------------------------------------------
# CLI reference
# ----------------------------------------------------------------------------------------------------------------


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text() == docs.cli_reference(), \
        "docs/cli.md is stale: run python scripts/docs.py cli"


def test_every_command_option_and_argument_has_help():
    assert docs.missing_help() == []


def test_the_cli_reference_covers_every_command_and_option():
    import click

    text = (ROOT / "docs" / "cli.md").read_text()
    n = 0
    for path, cmd, _ctx in docs.walk_commands():
        section = text.split(f"\n## {' '.join(path)}\n", 1)[1].split("\n## ", 1)[0]
        assert f"Usage: {' '.join(path)}" in section
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert all(o in section for o in p.opts), (path, p.opts)
                n += 1
    assert n > 50


def test_missing_help_is_found():
    import click

    @click.group()
    def g():
        """A group."""

    @g.command()
    @click.option("--x")
    @click.argument("source")
    def c(x, source):
        pass

    assert docs.missing_help(g) == ["lobkit c: the command has no help text", "lobkit c: option --x has no help text",
                                    "lobkit c: argument SOURCE is not described in the command's help"]


# ----------------------------------------------------------------------------------------------------------------
# Code blocks
# ----------------------------------------------------------------------------------------------------------------


def _collect() -> list:
    try:
        blocks = docs.all_blocks()
    except docs.DocsError as exc:  # a bad directive: one failing case that names it
        return [pytest.param(exc, id="directives")]
    return [pytest.param(b, id=b.id) for b in blocks]


BLOCKS = _collect()


def _pending(block) -> tuple[str, str] | None:
    for (doc, start), what in PENDING.items():
        if block.doc == doc and block.first_line.startswith(start):
            return what
    return None


def test_pending_entries_match_blocks():
    blocks = [p.values[0] for p in BLOCKS if not isinstance(p.values[0], Exception)]
    stale = [k for k in PENDING if not any(b.doc == k[0] and b.first_line.startswith(k[1]) for b in blocks)]
    assert not stale, f"PENDING entries that match no block (delete them): {stale}"
    marked = [k for k in PENDING for b in blocks if (b.doc, b.first_line[:len(k[1])]) == k and b.skip]
    assert not marked, f"PENDING entries whose block is now marked skip (delete them): {marked}"


@dataclass
class Session:
    """Where blocks run: a working directory and a Python namespace (one per block, or per named session)."""

    work: Path
    ns: dict = field(default_factory=dict)


_SESSIONS: dict[tuple[str, str], Session] = {}
_DONE: dict[str, BaseException | None] = {}  # block id -> how it went (blocks run early for a later one)


def _new_session(tmp_path_factory) -> Session:
    base = tmp_path_factory.mktemp("doc")
    work = base / "work"
    work.mkdir()
    data = shared_data_dir()
    (base / "shared").mkdir()
    if data.is_dir():
        (base / "shared" / "data").symlink_to(data.resolve(), target_is_directory=True)
    if sys.prefix != sys.base_prefix:  # `. .venv/bin/activate` as in a checkout
        (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return Session(work)


def _session(block, tmp_path_factory, request) -> Session:
    if block.session is None:
        return _new_session(tmp_path_factory)
    blocks = [p.values[0] for p in BLOCKS]
    for prev in blocks[:blocks.index(block)]:  # the session's earlier blocks first (when deselected, say)
        if prev.doc == block.doc and prev.session == block.session and prev.id not in _DONE:
            assert not prev.skip, f"{block.id}: session {block.session} holds a skipped block ({prev.id})"
            _run(prev, tmp_path_factory, request)
    key = (block.doc, block.session)
    if key not in _SESSIONS:
        _SESSIONS[key] = _new_session(tmp_path_factory)
    return _SESSIONS[key]


def _needs_data(code: str) -> None:
    if "shared/data" in code and not shared_data_dir().is_dir():
        msg = f"shared data directory {shared_data_dir()} not found (set LOBKIT_DATA_DIR)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def _tsdb(block, code: str, request) -> tuple[str, dict, callable]:
    """The block's code with every postgresql:// URL pointing at a fresh database of the real server, its
    `docker compose` lines not run; the environment to add; and a clean-up."""
    server = request.getfixturevalue("tsdb_server")
    name = "lobkit_docs_" + uuid.uuid4().hex[:10]
    dsn = server.dsn_for(name)
    code = re.sub(r"postgresql://[^\s'\"]+", dsn, code)
    code = re.sub(r"(?m)^([ \t]*)docker compose\b.*$", r"\1:  # docker compose: the test's own server", code)

    def drop():
        conn = psycopg2.connect(server.dsn)
        conn.autocommit = True
        conn.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.close()

    return code, {"LOBKIT_DSN": dsn}, drop


def _bash_env(extra: dict) -> dict:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)  # the venv's lobkit
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["LOBKIT_DATA_DIR"] = str(shared_data_dir())
    env["MPLBACKEND"] = "Agg"
    env.pop("LOBKIT_DSN", None)
    env.update(extra)
    return env


def _run(block, tmp_path_factory, request) -> None:
    """Run a block once; a block already run (as an earlier block of a session) gives its outcome again."""
    if block.id in _DONE:
        if _DONE[block.id] is not None:
            raise _DONE[block.id]
        return
    try:
        _run_once(block, tmp_path_factory, request)
    except BaseException as exc:
        _DONE[block.id] = exc
        raise
    _DONE[block.id] = None


def _run_once(block, tmp_path_factory, request) -> None:
    code = block.runnable_code()
    _needs_data(code)
    s = _session(block, tmp_path_factory, request)
    extra, cleanup = {}, None
    if block.tsdb:
        code, extra, cleanup = _tsdb(block, code, request)
    try:
        if block.file:  # a file the reader saves: written where the session's later blocks run
            (s.work / block.file).write_text(code)
            if block.lang == "python":
                compile(code, block.file, "exec")
        elif block.lang == "python":
            mp = pytest.MonkeyPatch()
            try:
                mp.chdir(s.work)
                mp.delenv("LOBKIT_DSN", raising=False)
                for k, v in extra.items():
                    mp.setenv(k, v)
                s.ns.setdefault("__name__", "__main__")  # as a script of the user's
                exec(compile(code, block.id, "exec"), s.ns)  # noqa: S102 - the doc's own example
            finally:
                mp.undo()
        elif block.lang in ("bash", "sh", "shell"):
            if not (Path(sys.executable).parent / "lobkit").exists() and "lobkit" in code:
                pytest.fail(f"{block.id}: no lobkit script beside {sys.executable} (pip install -e .)")
            p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=s.work, env=_bash_env(extra),
                               capture_output=True, text=True, timeout=900)
            assert p.returncode == 0, (f"{block.id}: exit {p.returncode}\n--- stdout (end)\n{p.stdout[-3000:]}\n"
                                       f"--- stderr (end)\n{p.stderr[-3000:]}")
        elif block.lang == "toml":
            tomllib.loads(code)
        else:
            pytest.fail(f"{block.id}: a {block.lang or 'plain'} block the test cannot run ({block.first_line!r}): "
                        "give it a language (python, bash, toml) or mark it <!-- docs-test: skip (why) -->")
    finally:
        if cleanup is not None:
            cleanup()


@pytest.mark.parametrize("block", BLOCKS)
def test_code_block(block, tmp_path_factory, request):
    if isinstance(block, Exception):
        raise block
    if block.doc in docs.GENERATED:
        pytest.skip(f"{block.id}: {docs.GENERATED[block.doc]}")
    if block.skip:
        pytest.skip(f"{block.id}: marked skip: {block.skip}")
    pending = _pending(block)
    if pending and pending[0] == "skip":
        pytest.skip(f"{block.id}: pending: {pending[1]}")
    if pending and pending[0] == "xfail":
        try:
            _run(block, tmp_path_factory, request)
        except (AssertionError, Exception) as exc:  # noqa: BLE001 - any failure is the expected one
            pytest.xfail(f"{block.id}: pending: {pending[1]} ({type(exc).__name__})")
        pytest.fail(f"{block.id} passes now: remove its PENDING entry ({pending[1]})")
    _run(block, tmp_path_factory, request)


def test_every_block_is_run_or_marked():
    """The count: how many blocks run, how many are marked skip (each with a reason), and which."""
    blocks = [p.values[0] for p in BLOCKS]
    assert not any(isinstance(b, Exception) for b in blocks), blocks
    skipped = [b for b in blocks if b.skip]
    assert all(b.skip.strip() for b in skipped)
    assert len(blocks) - len(skipped) > len(skipped), "most blocks must run"


@pytest.mark.parametrize("body, expect", [
    ("skip (needs Docker)", {"skip": "needs Docker"}),
    ("skip (a layout (not code))", {"skip": "a layout (not code)"}),
    ('replace "--repeats 8" => "--repeats 2", "1h" => "10min" (minutes otherwise)',
     {"replace": [("--repeats 8", "--repeats 2"), ("1h", "10min")], "replace_reason": "minutes otherwise"}),
    ("""replace '--grid "a=1,2"' => '--grid "a=1"' (cheaper)""",
     {"replace": [('--grid "a=1,2"', '--grid "a=1"')]}),
    ("session ma", {"session": "ma"}),
    ("tsdb", {"tsdb": True}),
])
def test_directives(body, expect):
    b = docs.Block("x.md", 1, "bash", "")
    docs.parse_directive(body, "x.md:1", b)
    for k, v in expect.items():
        assert getattr(b, k) == v


@pytest.mark.parametrize("body, error", [
    ("skip", "needs a reason"),
    ("skip because", "needs a reason"),
    ('replace "a" => "b"', "needs a reason"),
    ('replace "a" "b" (x)', 'expected "OLD" => "NEW"'),
    ("replace (x)", 'expected "OLD" => "NEW"'),
    ("run fast", "unknown docs-test directive"),
    ("session", "unknown docs-test directive"),
    ("session a b", "unknown docs-test directive"),
])
def test_bad_directives(body, error):
    with pytest.raises(docs.DocsError, match=re.escape(error)):
        docs.parse_directive(body, "x.md:1", docs.Block("x.md", 1, "bash", ""))


def test_block_parsing(tmp_path):
    (tmp_path / "docs").mkdir()
    md = tmp_path / "docs" / "x.md"
    md.write_text("text\n<!-- docs-test: skip (diagram) -->\n```\na\n```\n\n- item\n\n  ```python\n  x = 1\n  ```\n"
                  "<!-- docs-test: replace \"1h\" => \"1min\" (cheaper) -->\n<!-- docs-test: session s -->\n"
                  "````bash\nlobkit run --duration 1h\n```\n````\n")
    a, b, c = docs.code_blocks(md, tmp_path)
    assert (a.id, a.lang, a.code, a.skip) == ("docs/x.md:3", "", "a\n", "diagram")
    assert (b.lang, b.code, b.skip) == ("python", "x = 1\n", None)
    assert c.session == "s" and c.runnable_code() == "lobkit run --duration 1min\n```\n"
    md.write_text("<!-- docs-test: skip (x) -->\ntext\n```\n```\n")
    with pytest.raises(docs.DocsError, match="right before a code fence"):
        docs.code_blocks(md, tmp_path)
    md.write_text("```python\nx\n")
    with pytest.raises(docs.DocsError, match="never closed"):
        docs.code_blocks(md, tmp_path)
    md.write_text('<!-- docs-test: replace "2h" => "1h" (x) -->\n```bash\nlobkit run\n```\n')
    with pytest.raises(docs.DocsError, match="'2h' does not occur"):
        docs.code_blocks(md, tmp_path)[0].runnable_code()


def test_the_readme_architecture_is_in_step_with_the_package_and_docs_architecture():
    """Every sub-package of lobkit/ is in README's diagram and in docs/architecture.md's package list, and neither
    names a package that does not exist."""
    real = {p.name for p in (ROOT / "lobkit").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    readme = (ROOT / "README.md").read_text()
    diagram = readme.split("## Architecture", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"\b([a-z_]+)/", diagram))
    assert named == real, f"README's diagram names {sorted(named - real)}, misses {sorted(real - named)}"
    arch = (ROOT / "docs" / "architecture.md").read_text().split("## Packages", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"(?m)^  ([a-z_]+)/", arch))
    assert listed == real, f"architecture.md lists {sorted(listed - real)}, misses {sorted(real - listed)}"
