"""The demo's report: one self-contained HTML file (figures embedded) from the steps' records
(:func:`~lobkit.report.html.write_report`). Kernel-free: Jinja2 for the page, Markdown for the steps' tables."""

from __future__ import annotations

from lobkit.report.html import StepRecord, read_steps, render_report, write_report

__all__ = ["StepRecord", "read_steps", "render_report", "write_report"]
