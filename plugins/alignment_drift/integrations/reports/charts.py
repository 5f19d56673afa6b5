"""The report's charts: matplotlib figures drawn on the Agg canvas, embedded as base64 PNG data URIs.

Figures are built with :class:`matplotlib.figure.Figure` and
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` directly, so no
global pyplot state or backend switch is involved and drawing is safe in any
process (Airflow workers have no display). PNG keeps text from the data
(column names, categories) as pixels: nothing from the data becomes markup,
and each chart's size is bounded by its pixel size, whatever the batch's.

Every chart is drawn from bins and nightly values (see
:mod:`.distributions` and :mod:`.history`), never from rows.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["VERDICT_COLOURS", "benchmark_trend_chart", "distribution_chart", "png_data_uri", "signal_trend_chart"]

REFERENCE, CURRENT, THRESHOLD, ALARM = "#8c959f", "#0969da", "#cf222e", "#bf3989"
VERDICT_COLOURS = {
    "aligned": "#2da44e",
    "watch": "#d4a72c",
    "drifting": "#e16f24",
    "misaligned": "#cf222e",
    "quarantined": "#6e7781",
}
_DPI = 80
_FONT = 8


def _label(text: Any, limit: int = 24) -> str:
    """Text from the data as a plain label: shortened, and ``$`` kept literal (no mathtext)."""
    text = str(text).replace("\n", " ")
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _figure(width: float, height: float, **margins: float) -> Figure:
    """A figure on the Agg canvas with fixed margins (inches), so drawing needs no layout pass."""
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    left, right = margins.get("left", 0.5), margins.get("right", 0.1)
    top, bottom = margins.get("top", 0.3), margins.get("bottom", 0.35)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=margins.get("wspace", 0.3),
        hspace=margins.get("hspace", 0.3),
    )
    return fig


def _style(ax: Any, title: str = "") -> None:
    ax.tick_params(labelsize=_FONT - 1, length=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        # y fixed at the top: no axis here has ticks on top, so matplotlib's automatic title placement
        # would put it there too, after laying out every tick (the same pixels, ~10 % of a chart's time)
        ax.set_title(title, fontsize=_FONT, loc="left", y=1.0)


def _legend(ax: Any) -> None:
    """The legend above the plot, right-aligned, so it never covers a bar."""
    ax.legend(fontsize=_FONT - 1, frameon=False, ncols=2, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0)


def png_data_uri(fig: Figure) -> str:
    """``data:image/png;base64,...`` of a figure (no metadata, so the bytes depend on the pixels only)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _missing(ax: Any, dist: dict[str, Any]) -> None:
    ref = (dist.get("reference_stats") or {}).get("missing_rate")
    cur = (dist.get("current_stats") or {}).get("missing_rate")
    values = [0.0 if ref is None else ref, 0.0 if cur is None else cur]
    ax.bar([0, 1], values, color=[REFERENCE, CURRENT], width=0.6)
    for x, value, known in ((0, values[0], ref is not None), (1, values[1], cur is not None)):
        ax.annotate(f"{value:.1%}" if known else "n/a", (x, value), ha="center", va="bottom", fontsize=_FONT - 1)
    ax.set_xticks([0, 1], labels=["reference", "batch"])
    ax.set_ylim(0, max(0.05, max(values) * 1.3))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    _style(ax, "missing rate")


def _numeric(fig: Figure, dist: dict[str, Any]) -> None:
    hist, ecdf, missing = fig.subplots(1, 3, width_ratios=[3, 3, 1.2])
    edges = dist["edges"]
    if edges:
        if dist["reference"]:
            hist.stairs(dist["reference"], edges, fill=True, color=REFERENCE, alpha=0.55, label="reference")
        if dist.get("current") is not None:
            hist.stairs(dist["current"], edges, color=CURRENT, linewidth=1.6, label="batch")
        _legend(hist)
        hist.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        quantiles = dist["quantiles"]
        if quantiles["reference"]:
            ecdf.step(quantiles["reference"], quantiles["p"], where="post", color=REFERENCE, linewidth=1.6)
        if quantiles.get("current") is not None:
            ecdf.step(quantiles["current"], quantiles["p"], where="post", color=CURRENT, linewidth=1.4)
        ecdf.set_ylim(0, 1)
        ecdf.set_xlim(edges[0], edges[-1])  # the histogram's range: the 0.5-99.5 % quantiles
    _style(hist, "share per bin")
    _style(ecdf, "ECDF")
    _missing(missing, dist)


def _categorical(fig: Figure, dist: dict[str, Any]) -> None:
    bars, missing = fig.subplots(1, 2, width_ratios=[6, 1.2])
    categories = dist["categories"]
    positions = list(range(len(categories)))
    bars.bar([p - 0.2 for p in positions], dist["reference"], width=0.4, color=REFERENCE, label="reference")
    if dist.get("current") is not None:
        bars.bar([p + 0.2 for p in positions], dist["current"], width=0.4, color=CURRENT, label="batch")
    rotate = len(categories) > 5
    bars.set_xticks(
        positions,
        labels=[_label(c, 14 if rotate else 24) for c in categories],
        rotation=30 if rotate else 0,
        ha="right" if rotate else "center",
    )
    bars.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    _legend(bars)
    _style(bars, "share per category")
    _missing(missing, dist)


def distribution_chart(dist: dict[str, Any]) -> str:
    """Reference vs batch for one column (see :func:`.distributions.column_distribution`), as a data URI.

    Numeric: histogram, ECDF and missing rate side by side; categorical: bars per category and missing rate.
    """
    rotate = dist["kind"] == "categorical" and len(dist["categories"]) > 5
    fig = _figure(9.0, 2.6 if rotate else 2.3, bottom=0.75 if rotate else 0.35, wspace=0.25)
    (_numeric if dist["kind"] == "numeric" else _categorical)(fig, dist)
    return png_data_uri(fig)


def _ticks(ax: Any, dates: Sequence[str]) -> None:
    step = max(1, math.ceil(len(dates) / 8))
    positions = list(range(0, len(dates), step))
    ax.set_xticks(positions, labels=[dates[i][5:] for i in positions])
    ax.set_xlim(-0.5, len(dates) - 0.5)


def _series(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [math.nan if row["metrics"].get(key) is None else float(row["metrics"][key]) for row in history]


def _panel(ax: Any, history: Sequence[dict[str, Any]], signal: dict[str, Any], title_limit: int) -> None:
    dates = [row["date"] for row in history]
    x = list(range(len(dates)))
    values = _series(history, signal["value_key"])
    ax.plot(x, values, marker="o", markersize=3, color=CURRENT, linewidth=1.3)
    if signal.get("threshold_key"):
        threshold = _series(history, signal["threshold_key"])
        ax.step(x, threshold, where="mid", color=THRESHOLD, linestyle="--", linewidth=1.1)
    elif signal.get("threshold") is not None:
        ax.axhline(signal["threshold"], color=THRESHOLD, linestyle="--", linewidth=1.1)
    failed: Callable[[dict[str, Any]], bool] = signal.get("failed") or (lambda row: False)
    bad = [i for i, row in enumerate(history) if failed(row) and not math.isnan(values[i])]
    ax.plot(bad, [values[i] for i in bad], "o", markersize=6, markerfacecolor="none", color=THRESHOLD)
    alarms = [i for i, row in enumerate(history) if signal.get("alarm_key") and row["metrics"].get(signal["alarm_key"])]
    ax.plot(alarms, [values[i] for i in alarms], "v", markersize=6, color=ALARM)
    _ticks(ax, dates)
    _style(ax, _label(signal["title"], title_limit))


def benchmark_trend_chart(history: Sequence[dict[str, Any]], signals: Sequence[dict[str, Any]]) -> str:
    """Small multiples of each benchmark's nightly value with its threshold (dashed) as a data URI.

    ``signals``: dicts with ``title``, ``value_key``, ``threshold_key`` (or a fixed ``threshold``),
    ``alarm_key`` (the trend detector's alarm metric) and ``failed`` (night -> bool: ring the point).
    """
    columns = 3
    rows = max(1, math.ceil(len(signals) / columns))
    fig = _figure(9.0, 1.75 * rows, top=0.25, bottom=0.3, hspace=0.6, wspace=0.3)
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(signals):
            _panel(ax, history, signals[i], 42)
        else:
            ax.set_visible(False)
    return png_data_uri(fig)


def signal_trend_chart(history: Sequence[dict[str, Any]], signals: Sequence[dict[str, Any]]) -> str:
    """The verdict of each night as a coloured strip, then one panel per drift signal, as a data URI."""
    fig = _figure(9.0, 0.7 + 1.6 * len(signals), top=0.25, bottom=0.3, hspace=0.7)
    axes = fig.subplots(1 + len(signals), 1, height_ratios=[0.45] + [1.6] * len(signals), squeeze=False)[:, 0]
    strip = axes[0]
    dates = [row["date"] for row in history]
    strip.bar(
        range(len(history)),
        [1] * len(history),
        width=0.9,
        color=[VERDICT_COLOURS.get(row["verdict"], "#d0d7de") for row in history],
    )
    strip.set_yticks([])
    _ticks(strip, dates)
    _style(strip, "verdict per night (green aligned, yellow watch, orange drifting, red misaligned, grey quarantined)")
    for ax, signal in zip(axes[1:], signals, strict=True):
        _panel(ax, history, signal, 110)
    return png_data_uri(fig)
