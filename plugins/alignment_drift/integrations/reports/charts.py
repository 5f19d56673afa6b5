"""The report's charts: small SVG documents (see :mod:`.svg`), embedded as base64 ``data:image/svg+xml`` URIs.

Each chart is one SVG document shown through an ``<img>``: a browser draws an
image's SVG without running anything in it and without letting it fetch
anything, and the page's Content-Security-Policy allows images only from
``data:``. Text from the data (column names, categories, benchmark names) is
shortened and XML-escaped into ``<text>`` nodes of that image document; it
never becomes markup of the page. Each chart's size is bounded by its number
of panels and points (bins, a 101-point ECDF, at most the nights shown),
whatever the batch's size.

Every chart is drawn from bins and nightly values (see :mod:`.distributions`
and :mod:`.history`), never from rows. Drawing one takes about a millisecond
(matplotlib took about 0.1 s a chart, most of a report's time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from alignment_drift.integrations.reports.svg import Panel, finite, grid, svg_data_uri

__all__ = ["VERDICT_COLOURS", "benchmark_trend_chart", "distribution_chart", "signal_trend_chart"]

REFERENCE, CURRENT, THRESHOLD, ALARM = "#8c959f", "#0969da", "#cf222e", "#bf3989"
VERDICT_COLOURS = {
    "aligned": "#2da44e",
    "watch": "#d4a72c",
    "drifting": "#e16f24",
    "misaligned": "#cf222e",
    "quarantined": "#6e7781",
}


def _label(text: Any, limit: int = 24) -> str:
    """Text from the data as a plain label: one line, shortened."""
    text = str(text).replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _upper(values: Iterable[Any], floor: float = 0.0, pad: float = 1.05) -> float:
    top = max(finite(values), default=0.0)
    return max(top * pad, floor) or 1.0


def _legend_items(current: Any) -> list[tuple[str, str]]:
    return [("reference", REFERENCE), ("batch", CURRENT)] if current is not None else [("reference", REFERENCE)]


def _missing(panel: Panel, dist: dict[str, Any]) -> None:
    ref = (dist.get("reference_stats") or {}).get("missing_rate")
    cur = (dist.get("current_stats") or {}).get("missing_rate")
    values = [0.0 if ref is None else float(ref), 0.0 if cur is None else float(cur)]
    panel.xlim, panel.ylim = (-0.5, 1.5), (0.0, max(0.05, max(values) * 1.3))
    panel.bars([0, 1], values, 0.6, [REFERENCE, CURRENT])
    for x, value, known in ((0, values[0], ref is not None), (1, values[1], cur is not None)):
        panel.note(x, value, f"{value:.1%}" if known else "n/a")
    panel.frame()
    panel.xticks([0, 1], ["reference", "batch"])
    panel.yticks(percent=True, count=4)
    panel.title("missing rate")


def _numeric(panels: list[Panel], dist: dict[str, Any]) -> None:
    hist, ecdf, missing = panels
    edges = dist["edges"]
    if edges:
        low, high = float(edges[0]), float(edges[-1])
        current = dist.get("current")
        hist.xlim = ecdf.xlim = (low, high)
        hist.ylim = (0.0, _upper([*(dist["reference"] or []), *(current or [])]))
        if dist["reference"]:
            hist.stairs(dist["reference"], edges, REFERENCE, fill=True)
        if current is not None:
            hist.stairs(current, edges, CURRENT, fill=False)
        hist.legend(_legend_items(current))
        quantiles = dist["quantiles"]
        if quantiles["reference"]:
            ecdf.step_post(quantiles["reference"], quantiles["p"], REFERENCE, 1.6)
        if quantiles.get("current") is not None:
            ecdf.step_post(quantiles["current"], quantiles["p"], CURRENT, 1.4)
        for panel in (hist, ecdf):
            panel.frame()
            panel.xticks()
        hist.yticks(percent=True, count=4)
        ecdf.yticks(count=5)
    else:
        hist.frame()
        ecdf.frame()
    hist.title("share per bin")
    ecdf.title("ECDF")
    _missing(missing, dist)


def _categorical(panels: list[Panel], dist: dict[str, Any]) -> None:
    bars, missing = panels
    categories = dist["categories"]
    current = dist.get("current")
    positions = list(range(len(categories)))
    bars.xlim = (-0.6, max(len(categories), 1) - 0.4)
    bars.ylim = (0.0, _upper([*(dist["reference"] or []), *(current or [])]))
    bars.bars([p - 0.2 for p in positions], dist["reference"], 0.4, [REFERENCE] * len(positions))
    if current is not None:
        bars.bars([p + 0.2 for p in positions], current, 0.4, [CURRENT] * len(positions))
    bars.frame()
    if len(categories) > 5:
        bars.xticks(positions, [_label(c, 14) for c in categories], rotate=True)
    else:
        bars.xticks(positions, [_label(c, 24) for c in categories])
    bars.yticks(percent=True, count=4)
    bars.legend(_legend_items(current))
    bars.title("share per category")
    _missing(missing, dist)


def distribution_chart(dist: dict[str, Any]) -> str:
    """Reference vs batch for one column (see :func:`.distributions.column_distribution`), as a data URI.

    Numeric: histogram, ECDF and missing rate side by side; categorical: bars per category and missing rate.
    """
    rotate = dist["kind"] == "categorical" and len(dist["categories"]) > 5
    height = 2.6 if rotate else 2.3
    ratios = [3.0, 3.0, 1.2] if dist["kind"] == "numeric" else [6.0, 1.2]
    (panels,) = grid(9.0, height, [1.0], ratios, bottom=0.75 if rotate else 0.35, wspace=0.25)
    (_numeric if dist["kind"] == "numeric" else _categorical)(panels, dist)
    return svg_data_uri(9.0, height, panels)


def _date_ticks(panel: Panel, dates: Sequence[str]) -> None:
    step = max(1, math.ceil(len(dates) / 8))
    positions = list(range(0, len(dates), step))
    panel.xticks(positions, [dates[i][5:] for i in positions])


def _series(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    out = []
    for row in history:
        value = row["metrics"].get(key)
        out.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan)
    return out


def _limits(values: Sequence[float]) -> tuple[float, float]:
    present = finite(values)
    if not present:
        return 0.0, 1.0
    low, high = min(present), max(present)
    if high == low:
        pad = abs(low) * 0.05 or 0.05
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _panel(panel: Panel, history: Sequence[dict[str, Any]], signal: dict[str, Any], title_limit: int) -> None:
    dates = [row["date"] for row in history]
    values = _series(history, signal["value_key"])
    threshold: list[float] = []
    if signal.get("threshold_key"):
        threshold = _series(history, signal["threshold_key"])
    elif signal.get("threshold") is not None:
        threshold = [float(signal["threshold"])]
    panel.xlim = (-0.5, len(dates) - 0.5)
    panel.ylim = _limits([*values, *threshold])
    panel.line(values, CURRENT, markers=True)
    if signal.get("threshold_key"):
        panel.step_mid(threshold, THRESHOLD)
    elif threshold and math.isfinite(threshold[0]):
        panel.hline(threshold[0], THRESHOLD)
    failed: Callable[[dict[str, Any]], bool] = signal.get("failed") or (lambda row: False)
    bad = [i for i, row in enumerate(history) if failed(row) and math.isfinite(values[i])]
    panel.rings(bad, [values[i] for i in bad], THRESHOLD)
    alarm_key = signal.get("alarm_key")
    alarms = [i for i, row in enumerate(history) if alarm_key and row["metrics"].get(alarm_key)]
    alarms = [i for i in alarms if math.isfinite(values[i])]
    panel.triangles(alarms, [values[i] for i in alarms], ALARM)
    panel.frame()
    _date_ticks(panel, dates)
    panel.yticks(count=4)
    panel.title(_label(signal["title"], title_limit))


def benchmark_trend_chart(history: Sequence[dict[str, Any]], signals: Sequence[dict[str, Any]]) -> str:
    """Small multiples of each benchmark's nightly value with its threshold (dashed) as a data URI.

    ``signals``: dicts with ``title``, ``value_key``, ``threshold_key`` (or a fixed ``threshold``),
    ``alarm_key`` (the trend detector's alarm metric) and ``failed`` (night -> bool: ring the point).
    """
    columns = 3
    rows = max(1, math.ceil(len(signals) / columns))
    height = 1.75 * rows
    layout = grid(9.0, height, [1.0] * rows, [1.0] * columns, top=0.25, bottom=0.3, hspace=0.6, wspace=0.3)
    panels = [p for row in layout for p in row][: len(signals)]
    for panel, signal in zip(panels, signals, strict=True):
        _panel(panel, history, signal, 42)
    return svg_data_uri(9.0, height, panels)


def signal_trend_chart(history: Sequence[dict[str, Any]], signals: Sequence[dict[str, Any]]) -> str:
    """The verdict of each night as a coloured strip, then one panel per drift signal, as a data URI."""
    height = 0.7 + 1.6 * len(signals)
    layout = grid(9.0, height, [0.45] + [1.6] * len(signals), [1.0], top=0.25, bottom=0.3, hspace=0.7)
    strip, panels = layout[0][0], [row[0] for row in layout[1:]]
    dates = [row["date"] for row in history]
    strip.xlim, strip.ylim = (-0.5, len(history) - 0.5), (0.0, 1.0)
    strip.bars(
        list(range(len(history))),
        [1.0] * len(history),
        0.9,
        [VERDICT_COLOURS.get(row["verdict"], "#d0d7de") for row in history],
    )
    strip.frame()
    _date_ticks(strip, dates)
    strip.title("verdict per night (green aligned, yellow watch, orange drifting, red misaligned, grey quarantined)")
    for panel, signal in zip(panels, signals, strict=True):
        _panel(panel, history, signal, 110)
    return svg_data_uri(9.0, height, [strip, *panels])
