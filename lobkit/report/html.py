"""One self-contained HTML report from the records the demo's steps leave (``<out>/<step>/step.json``).

A step's record (:class:`StepRecord`, written by :mod:`lobkit.demo`) says what the step did and what it found:
``title``, ``text`` (a paragraph), ``summary`` (label, value) rows, ``tables`` (Markdown, e.g. ``eval.md`` or
``realism.md``), ``images`` (PNG files in the step's folder), ``headline`` (machine-readable figures) and
``seconds``. The report puts the headline figures first, then one section per step; every PNG is embedded as a
``data:`` URI, so the file can be mailed or archived alone. Rendering uses Jinja2 (autoescaped) and Python-Markdown
(tables).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lobkit.errors import ConfigError, InputFormatError

__all__ = ["StepRecord", "read_steps", "render_report", "write_report"]

RECORD = "step.json"


@dataclass
class StepRecord:
    """What one step of the demo left: see the module's docstring. ``dir``: the step's folder."""

    step: str
    index: int
    title: str
    dir: Path
    text: str = ""
    summary: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    images: list = field(default_factory=list)
    headline: dict = field(default_factory=dict)
    seconds: float = 0.0
    reused: bool = False

    @classmethod
    def read(cls, path: Path) -> StepRecord:
        """The record at ``path`` (a ``step.json``). Raises :class:`InputFormatError` naming the file."""
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputFormatError(path, None, f"not a readable step record ({exc})") from None
        try:
            return cls(step=doc["step"], index=int(doc["index"]), title=doc["title"], dir=Path(path).parent,
                       text=doc.get("text", ""), summary=doc.get("summary", []), tables=doc.get("tables", []),
                       images=doc.get("images", []), headline=doc.get("headline", {}),
                       seconds=float(doc.get("seconds", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFormatError(path, None, f"a step record without {exc}") from None


def read_steps(out: str | Path) -> list[StepRecord]:
    """Every step record under ``out`` (one folder per step), in the steps' order."""
    recs = [StepRecord.read(p) for p in sorted(Path(out).glob(f"*/{RECORD}"))]
    return sorted(recs, key=lambda r: r.index)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _markdown(text: str) -> str:
    import markdown

    return markdown.markdown(text, extensions=["tables"])


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
 body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1c1c1c; margin: 0;
        background: #fafafa; }
 main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
 h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin-top: 40px; border-bottom: 1px solid #ddd;
 padding-bottom: 4px; } h3 { font-size: 16px; }
 .meta { color: #666; font-size: 13px; }
 table { border-collapse: collapse; margin: 10px 0 16px; font-size: 13.5px; }
 th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
 th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
 figure { margin: 14px 0; } figure img { max-width: 100%; border: 1px solid #eee; }
 figcaption { color: #555; font-size: 13px; }
 nav ol { font-size: 14px; } .took { color: #888; font-size: 12.5px; }
 .headline td:first-child { width: 55%; }
</style></head>
<body><main>
<h1>{{ title }}</h1>
<p class="meta">{{ subtitle }}</p>
<h2 id="headline">Headline figures</h2>
<table class="headline"><tr><th>what</th><th>figure</th></tr>
{% for label, value in headline %}<tr><td>{{ label }}</td><td class="num">{{ value }}</td></tr>
{% endfor %}</table>
<nav><ol>{% for s in steps %}<li><a href="#{{ s.step }}">{{ s.title }}</a></li>{% endfor %}</ol></nav>
{% for s in steps %}
<h2 id="{{ s.step }}">{{ s.index }}. {{ s.title }}</h2>
<p class="took">{{ s.took }}</p>
{% if s.text %}<p>{{ s.text }}</p>{% endif %}
{% if s.summary %}<table>{% for label, value in s.summary %}<tr><td>{{ label }}</td><td class="num">{{ value }}</td>
</tr>{% endfor %}</table>{% endif %}
{% for t in s.tables %}<h3>{{ t.caption }}</h3>{{ t.html | safe }}{% endfor %}
{% for im in s.images %}<figure><img alt="{{ im.caption }}" src="{{ im.uri }}"><figcaption>{{ im.caption }}
</figcaption></figure>{% endfor %}
{% endfor %}
<p class="meta">Written by lobkit {{ version }} ({{ when }}). Every figure comes from the files beside this report;
`make demo` (or `lobkit demo`) made them.</p>
</main></body></html>
"""


def render_report(steps: list[StepRecord], *, title: str, subtitle: str, headline: list[tuple[str, str]]) -> str:
    """The report's HTML (a string). Raises :class:`InputFormatError` when a step's image is missing."""
    import jinja2

    from lobkit import __version__

    view = []
    for s in steps:
        images = []
        for im in s.images:
            p = s.dir / im["path"]
            if not p.is_file():
                raise InputFormatError(p, None, f"a figure of step {s.step} is missing")
            images.append({"caption": im.get("caption", ""), "uri": _data_uri(p)})
        tables = [{"caption": t.get("caption", ""), "html": _markdown(t["markdown"])} for t in s.tables]
        took = f"{'reused (inputs unchanged); it took ' if s.reused else 'took '}{s.seconds:.1f} s"
        view.append({"step": s.step, "index": s.index, "title": s.title, "text": s.text, "summary": s.summary,
                     "tables": tables, "images": images, "took": took})
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=title, subtitle=subtitle, headline=headline, steps=view, version=__version__,
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(path: str | Path, steps: list[StepRecord], *, title: str, subtitle: str,
                 headline: list[tuple[str, str]]) -> Path:
    """Render and write the report to ``path`` whole or not at all (a temporary file renamed). Raises
    :class:`ConfigError` when it cannot be written."""
    html = render_report(steps, title=title, subtitle=subtitle, headline=headline)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"report {path}: cannot write it ({exc.strerror or exc})") from None
    return path
