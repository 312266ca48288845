"""The controls' model, free of Tk: which fields the form shows and how its text becomes a run.

The strategy's fields come from the agent class's ``Params`` dataclass and from the fields every agent has
(:class:`~lobkit.sim.config.AgentConfig`), through the same option table as the CLI (:mod:`lobkit.sim.options`):
a new agent, registered or given as ``package.module:Class``, gets its fields here without GUI code. Values are
validated by the configuration's own dataclasses; a failure is reported beside the field it names.

The market's choices are found on disk (:func:`find_models`): a calibrated market (``.toml``) or a neural Hawkes
model (``.pth``) is offered when a file of that kind is found, a WGAN generator as an initial book.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from lobkit.sim.config import RunConfig, format_duration

__all__ = ["FieldSpec", "FormResult", "SPEEDS", "find_models", "market_fields", "strategy_fields", "validate"]

#: Replay speeds offered: label -> simulated seconds per wall second (None: as fast as possible).
SPEEDS = {"real time (1x)": 1.0, "10x": 10.0, "100x": 100.0, "1,000x": 1_000.0, "as fast as possible": None}
_COMMON = ("size", "max_position", "interval", "fee_per_lot", "fee_bps")


@dataclass(frozen=True)
class FieldSpec:
    """One input: ``name`` (the option's name: what ``--set`` and the API take), ``label``, ``kind`` (``"int"``,
    ``"float"``, ``"bool"``, ``"text"``, ``"duration"``, ``"choice"``), ``default`` (as text), ``choices`` (for a
    choice or an editable list), ``help`` (the field's own help text, when its dataclass gives one)."""

    name: str
    label: str
    kind: str
    default: str
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class FormResult:
    """What :func:`validate` makes of the form: ``config`` and ``seed`` (None: fresh entropy) and ``speed``
    when every field is good, else ``errors``: field name -> one-line message (``"_form"``: not one field's)."""

    config: RunConfig | None
    seed: int | None
    speed: float | None
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _kind(hint) -> str:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for k, name in ((bool, "bool"), (int, "int"), (float, "float")):
        if k in args:
            return name
    return "text"


def strategy_fields(agent: str) -> list[FieldSpec]:
    """The fields of agent ``agent`` (a registered name or ``package.module:Class``): its own parameters (from
    its ``Params`` dataclass, with their help), then the fields every agent has. Raises ConfigError for an
    unknown agent."""
    from lobkit.sim.options import apply_options, option_list

    cfg = apply_options(RunConfig(), {"agent": agent})
    params_cls = type(cfg.agent.params)
    meta = {f.name: f.metadata for f in dataclasses.fields(params_cls)}
    out = []
    for o in option_list(cfg):
        if o.part == "agent.params":
            kind = _kind(o.hint)
            literal = typing.get_args(o.hint) if typing.get_origin(o.hint) is typing.Literal else ()
            choices = ("true", "false") if kind == "bool" else tuple(
                str(c) for c in (meta[o.name].get("choices") or literal))
            out.append(FieldSpec(o.name, o.name.replace("_", " "), "choice" if choices else kind, _text(o.default),
                                 choices, meta[o.name].get("help", "")))
    by_name = {o.name: o for o in option_list(cfg) if o.part == "agent"}
    for name in _COMMON:
        o = by_name[name]
        if o.duration:
            out.append(FieldSpec(name, "decision interval", "duration", format_duration(o.default),
                                 help="Simulated time between decisions (1s, 500ms ...)."))
        else:
            label = {"max_position": "max position (lots)", "size": "size (lots)", "fee_per_lot": "fee per lot",
                     "fee_bps": "fee (bps)"}[name]
            out.append(FieldSpec(name, label, _kind(o.hint), _text(o.default)))
    return out


def market_fields(models: dict[str, list[str]] | None = None) -> list[FieldSpec]:
    """The market's fields: flow model (``hawkes`` and the learned files found), initial book, duration, warm-up,
    seed, replay speed. ``models``: :func:`find_models`'s answer (default: searched now)."""
    models = find_models() if models is None else models
    defaults = RunConfig().market
    flows = ("hawkes", *(f"calibrated:{p}" for p in models.get("calibrated", ())),
             *(f"nhp:{p}" for p in models.get("nhp", ())))
    books = ("generated", *(f"wgan:{p}" for p in models.get("wgan", ())),
             *(f"snapshot:{p}" for p in models.get("snapshot", ())))
    return [
        FieldSpec("flow", "order flow", "choice", flows[0], flows,
                  "hawkes: the parametric market; calibrated:FILE.toml and nhp:FILE.pth: learned from real data."),
        FieldSpec("initial_book", "initial book", "choice", books[0], books,
                  "generated by the flow, a WGAN generator's book, or a real snapshot file."),
        FieldSpec("duration", "duration", "duration", format_duration(defaults.duration_ns),
                  help="Simulated time, warm-up included (90s, 30min, 1h)."),
        FieldSpec("warmup", "warm-up", "duration", format_duration(defaults.warmup_ns),
                  help="Simulated time before the strategy's first decision."),
        FieldSpec("seed", "seed", "int", "", help="Blank: fresh entropy (recorded with the run)."),
        FieldSpec("speed", "replay speed", "choice", "as fast as possible", tuple(SPEEDS),
                  "Simulated seconds per wall second."),
    ]


def validate(agent: str, values: dict[str, str], base: RunConfig | None = None) -> FormResult:
    """Check the form: ``values`` maps field names to their text. Each field's syntax is checked alone first, then
    all the values together, as the configuration's dataclasses check them (``short < long``, a warm-up shorter
    than the duration, ...): each message goes beside the field it names. The run keeps its logs (``record=True``)
    so that it can be exported as ``lobkit run`` writes it. Never raises for a bad value: every problem is in
    ``errors``."""
    from lobkit.errors import LobkitError
    from lobkit.seeds import seed_sequence
    from lobkit.sim.options import apply_options, coerce, resolve

    errors: dict[str, str] = {}
    try:
        cfg0 = apply_options(base, {"agent": agent, "record": True})
    except LobkitError as exc:
        return FormResult(None, None, None, {"agent": str(exc)})
    seed = None
    seed_text = values.get("seed", "").strip()
    if seed_text:
        try:
            seed = int(seed_text.replace(",", "").replace("_", ""))
            seed_sequence(seed)
        except ValueError:
            errors["seed"] = f"expected a non-negative integer, got {seed_text!r}"
        except LobkitError as exc:
            errors["seed"] = _strip(str(exc), "seed")
    speed_text = values.get("speed", "as fast as possible")
    if speed_text not in SPEEDS:
        errors["speed"] = f"choose one of: {', '.join(SPEEDS)}"
    opts = {k: v.strip() for k, v in values.items() if k not in ("seed", "speed", "flow")}
    flow = values.get("flow", "hawkes").strip()
    if not flow:
        errors["flow"] = "choose an order-flow model (hawkes, calibrated:FILE.toml, nhp:FILE.pth)"
    else:
        try:
            cfg0 = apply_options(cfg0, {"flow": flow})
        except LobkitError as exc:
            errors["flow"] = _strip(str(exc), "flow")
    fields_of = {}  # dataclass field -> the form's name for it ("warmup_ns" -> "warmup")
    for name, text in opts.items():  # each field's own syntax: an integer, a number, a duration...
        try:
            opt = resolve(cfg0, name)
            fields_of[opt.field] = name
            coerce(opt, text)
        except LobkitError as exc:
            errors[name] = _strip(str(exc), name, fields_of)
    if "initial_book" in opts and "initial_book" not in errors:
        problem = _book_file_problem(opts["initial_book"])
        if problem:
            errors["initial_book"] = problem
    # then all together, with the user's own values: a failure names its field, which is set aside (its default
    # back) before the rest is tried again, so that several wrong fields are all reported, each beside itself
    good = {k: v for k, v in opts.items() if k not in errors}
    cfg = None
    while True:
        try:
            cfg = apply_options(cfg0, good)
            break
        except LobkitError as exc:
            msg = str(exc)
            for prefix in (f"agent {agent}: ", f"flow model {cfg0.flow.name}: "):
                msg = msg.removeprefix(prefix)
            name = _named_field(msg, good, fields_of)
            if name is None:
                if not errors:
                    errors["_form"] = msg
                break
            errors[name] = _strip(msg, name, fields_of)
            good.pop(name)
    if errors:
        return FormResult(None, None, None, errors)
    return FormResult(cfg, seed, SPEEDS[speed_text], {})


def _named_field(msg: str, names: dict, fields_of: dict) -> str | None:
    """The form field a configuration message is about (``"short: ..."``, ``"warmup_ns: ..."``,
    ``"market.window: ..."``), when it is one of ``names``."""
    head = msg.split(":", 1)[0].strip().split(".")[-1]
    if head in names:
        return head
    name = fields_of.get(head)
    return name if name in names else None


def _book_file_problem(book: str) -> str:
    """What is wrong with the file of an initial book ``wgan:PATH`` or ``snapshot:PATH`` ('' when nothing)."""
    kind, _, path = book.partition(":")
    if kind not in ("wgan", "snapshot") or not path or "://" in path:
        return ""
    p = Path(path).expanduser()
    if not p.is_file():
        return f"{path}: no such file"
    if kind == "wgan":
        from lobkit.training.checkpoint import file_format

        fmt = file_format(p)
        if fmt != "lobkit-wgan-generator":
            return f"{path}: {'a ' + fmt + ' file' if fmt else 'not a lobkit model file'}, not a WGAN generator"
    return ""


def _strip(msg: str, name: str, fields_of: dict | None = None) -> str:
    """The message without its leading ``name:`` and the dataclass field's name (the form shows it beside that
    field)."""
    names = {name, *(f for f, n in (fields_of or {}).items() if n == name)}
    changed = True
    while changed:
        changed = False
        for n in names:
            for prefix in (f"{n}: ", f"market.{n}: ", f"agent.{n}: "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
                    changed = True
    return msg


def find_models(roots: list[str | Path] | None = None, max_depth: int = 3, max_files: int = 200
                ) -> dict[str, list[str]]:
    """Model files under ``roots`` (default: the working directory and ``$LOBKIT_MODELS``, when set), by kind:
    ``calibrated`` (a ``.toml`` file with a ``[market]`` table, as ``lobkit calibrate`` writes), ``nhp`` (a neural
    Hawkes checkpoint, ``.pth``), ``wgan`` (a WGAN generator checkpoint, ``.pth``), ``snapshot`` (``lob-btc.db``-
    style SQLite files named ``*.db``). Each candidate is opened to check its kind; unreadable files are skipped.
    Paths are relative to the working directory when inside it."""
    roots = [Path(r) for r in (roots or [Path.cwd(), *filter(None, [os.environ.get("LOBKIT_MODELS")])])]
    found: dict[str, list[str]] = {"calibrated": [], "nhp": [], "wgan": [], "snapshot": []}
    seen = 0
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            depth = len(Path(dirpath).relative_to(root).parts)
            dirnames[:] = [d for d in sorted(dirnames)
                           if not d.startswith(".") and d not in ("node_modules", "__pycache__", "site-packages")
                           and depth < max_depth]
            for fn in sorted(filenames):
                if seen >= max_files:
                    break
                p = Path(dirpath) / fn
                kind = _model_kind(p)
                if kind:
                    seen += 1
                    found[kind].append(_show_path(p))
    return found


def _show_path(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _model_kind(p: Path) -> str | None:
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            with open(p, "rb") as f:
                doc = tomllib.load(f)
            fit = doc.get("fit")
            return "calibrated" if isinstance(fit, dict) and fit.get("format") == "lobkit-calibration" else None
        if suffix == ".pth":
            from lobkit.training.checkpoint import file_format

            return {"lobkit-nhp": "nhp", "lobkit-wgan-generator": "wgan"}.get(file_format(p) or "")
        if suffix == ".db" and p.stat().st_size > 0:
            import sqlite3

            con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                names = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
            finally:
                con.close()
            return "snapshot" if {"items", "bids", "asks"} <= names else None
    except Exception:  # not a model file of ours: not offered
        return None
    return None
