"""Rendering: a ``check@1`` document (or a ``drift@1`` result) to one self-contained HTML page.

Jinja2 with autoescape on renders ``templates/report.html.j2``; every value
from the data is escaped there. The page fetches nothing: CSS is inline,
charts are base64 SVG data URIs shown as images, there is no script, and a
Content-Security-Policy (``default-src 'none'; img-src data:``) makes the
browser refuse anything else. Size stays within :data:`REPORT_BUDGET_BYTES`
(2 MB): charts are drawn from bins with a fixed pixel size and their number
is capped; should a page still exceed it, it is rendered again without the
per-column charts and says so.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from alignment_drift.core.redaction import mask_registered, redact
from alignment_drift.integrations.reports import charts, sections

__all__ = ["REPORT_BUDGET_BYTES", "render_drift_report", "render_report"]

REPORT_BUDGET_BYTES = 2_000_000
_TEMPLATES = Path(__file__).parent / "templates"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e6):
            return f"{value:.{max(digits - 1, 1)}e}"
        return f"{value:.{digits}f}"
    return str(value)


def _pvalue(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return "<1e-300" if value < 1e-300 else f"{value:.2g}"


def _pct(value: Any) -> str:
    return "—" if not isinstance(value, int | float) or isinstance(value, bool) else f"{value:.1%}"


def _signed(value: Any) -> str:
    return "—" if not isinstance(value, int | float) or isinstance(value, bool) else f"{value:+.3f}"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a check from an older version may lack a key
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pvalue=_pvalue, pct=_pct, signed=_signed)
    return env


def _column_charts(
    rows: list[dict[str, Any]], distributions: Mapping[str, Any] | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Attach a chart to each of the first ``limit`` rows that have a distribution; return the count left out."""
    columns = (distributions or {}).get("columns") or {}
    drawn = 0
    for row in rows:
        dist = columns.get(row["name"])
        row["chart"] = None
        row["dist"] = dist
        if dist is not None and drawn < limit:
            row["chart"] = charts.distribution_chart(dist)
            drawn += 1
    return rows, sum(1 for r in rows if r["dist"] is not None) - drawn


def _version() -> str:
    from alignment_drift import __version__

    return str(__version__)


@lru_cache(maxsize=1)
def _css() -> markupsafe.Markup:
    return markupsafe.Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8"))  # our own file, not data


def _page(context: dict[str, Any], build: Any) -> str:
    """Render; over budget, render again without per-column charts (and say so). No credential is shown."""
    context = redact(context)
    context["css"] = _css()
    html = _environment().get_template("report.html.j2").render(**build(sections.MAX_COLUMN_CHARTS), **context)
    if len(html.encode("utf-8")) <= REPORT_BUDGET_BYTES:
        return mask_registered(html)
    context["notes"] = [
        *context["notes"],
        f"Per-column charts were left out to keep this page within {REPORT_BUDGET_BYTES:,} bytes.",
    ]
    return mask_registered(_environment().get_template("report.html.j2").render(**build(0), **context))


def render_report(
    check: Mapping[str, Any],
    *,
    distributions: Mapping[str, Any] | None = None,
    history: Sequence[dict[str, Any]] = (),
    links: Mapping[str, Any] | None = None,
    drifting_share: float | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The HTML report of one check.

    Parameters
    ----------
    check : mapping
        The ``alignment-drift/check@1`` document (``check.json`` of the check run).
    distributions : mapping, optional
        :func:`.distributions.distributions` of the check's input and output columns; without it the
        drift tables are shown without charts.
    history : sequence of dict
        :func:`.history.night_history`: the nights the trend charts plot (tonight included).
    links : mapping, optional
        :func:`.history.run_links`.
    drifting_share : float, optional
        The spec's ``verdict.drifting_share``, drawn on the ``drift.share`` trend.
    notes : sequence of str
        Remarks shown under the verdict (e.g. why a part is missing).

    Returns
    -------
    str
        One self-contained HTML page (no network access, within :data:`REPORT_BUDGET_BYTES`).
    """
    check = redact(check)
    verdict = str(check.get("verdict", ""))
    history = list(history)
    bench_signals, drift_signals = sections.trend_signals(check, drifting_share=drifting_share)
    trends: dict[str, Any] = {"nights": len(history), "benchmarks": None, "signals": None}
    if history:
        trends["benchmarks"] = charts.benchmark_trend_chart(history, bench_signals) if bench_signals else None
        trends["signals"] = charts.signal_trend_chart(history, drift_signals)
    context: dict[str, Any] = {
        "mode": "check",
        "title": f"{check['model']} · {str(check['data_interval']['start'])[:10]} · {verdict}",
        "check": check,
        "verdict": verdict,
        "verdict_class": verdict if verdict in charts.VERDICT_COLOURS else "unknown",
        "sentence": sections.verdict_sentence(check),
        "benchmarks": sections.benchmark_rows(check),
        "probes": sections.failing_probes(check),
        "drift": check.get("drift"),
        "output": check.get("output_drift"),
        "multivariate": check.get("multivariate") or {},
        "exposure": check.get("exposure"),
        "trends": trends,
        "validation": sections.validation_section(check),
        "objective": sections.objective_change_section(check),
        "links": dict(links or {}),
        "notes": list(notes),
        "version": _version(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }

    def build(limit: int) -> dict[str, Any]:
        rows, omitted = _column_charts(sections.drift_rows(check.get("drift")), distributions, limit)
        outputs, _ = _column_charts(sections.drift_rows(check.get("output_drift")), distributions, 2 if limit else 0)
        return {"drift_rows": rows, "charts_omitted": omitted, "output_rows": outputs}

    return _page(context, build)


def render_drift_report(
    result: Mapping[str, Any], *, distributions: Mapping[str, Any] | None = None, title: str = "drift report"
) -> str:
    """The drift-only report of a ``drift@1`` result (``alignment-drift drift --format html``)."""
    context: dict[str, Any] = {
        "mode": "drift",
        "title": title,
        "check": {},
        "verdict": "drifting" if result.get("drift") else "aligned",
        "verdict_class": "drifting" if result.get("drift") else "aligned",
        "sentence": sections.drift_sentence(result),
        "benchmarks": [],
        "probes": [],
        "drift": result,
        "output": None,
        "multivariate": {k: v for k, v in (result.get("multivariate") or {}).items() if isinstance(v, dict)},
        "exposure": None,
        "trends": {"nights": 0, "benchmarks": None, "signals": None},
        "validation": {"present": False},
        "objective": None,
        "links": {},
        "notes": [],
        "version": _version(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }

    def build(limit: int) -> dict[str, Any]:
        rows, omitted = _column_charts(sections.drift_rows(result), distributions, limit)
        return {"drift_rows": rows, "charts_omitted": omitted, "output_rows": []}

    return _page(context, build)
