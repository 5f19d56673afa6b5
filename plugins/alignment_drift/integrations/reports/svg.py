"""Drawing the report's charts as SVG: panels laid out like matplotlib's subplots, axes, ticks and marks.

Plain strings, no drawing library: one chart is a few hundred elements and
takes about a millisecond. Every text is XML-escaped (:func:`xml_text`) and
characters XML cannot hold are dropped, so any column or category name gives a
well-formed document; coordinates are rounded to a tenth of a pixel.
:mod:`.charts` composes the report's charts from these parts.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Panel", "finite", "grid", "nice_ticks", "svg_data_uri", "xml_text"]

_PX = 80  # pixels per inch of the layouts
_TICK_FONT, _TITLE_FONT = 8, 9  # px
_AXIS, _TEXT = "#57606a", "#24292f"


def _xml_char(ch: str) -> bool:
    return ch in "\t\n" or (ch >= " " and not 0xD800 <= ord(ch) <= 0xDFFF and ch not in "\ufffe\uffff")


def xml_text(text: Any) -> str:
    """Text as XML character data or attribute value; characters XML 1.0 cannot hold are dropped."""
    return html.escape("".join(ch for ch in str(text) if _xml_char(ch)))


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def finite(values: Iterable[Any]) -> list[float]:
    """The finite numbers among ``values`` (None, NaN, infinities and non-numbers left out)."""
    out = []
    for v in values:
        if v is not None and isinstance(v, int | float) and math.isfinite(float(v)):
            out.append(float(v))
    return out


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 times a power of ten.

    Examples
    --------
    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(3.0, 3.0)
    [3.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    if not math.isfinite(high - low):
        return [low, high]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.ceil(low / step - 1e-9)
    ticks = []
    k = first
    while k * step <= high + step * 1e-9:
        ticks.append(round(k * step, 12) + 0.0)
        k += 1
    return ticks


def _decimals(step: float) -> int:
    """Decimals that show every multiple of ``step`` exactly (one more for steps like 2.5 or 0.25)."""
    if not step > 0:
        return 0
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    scaled = step * 10**digits
    return digits + 1 if abs(scaled - round(scaled)) > 1e-6 else digits


def _tick_text(value: float, ticks: Sequence[float], percent: bool) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    if percent:
        return f"{value * 100:.{_decimals(step * 100)}f}%"
    if step >= 1e5 or step < 1e-4:
        return f"{value:.3g}"
    return f"{value:.{_decimals(step)}f}"


@dataclass
class Panel:
    """One plot area: its pixel box and data limits; what is drawn in it is collected in ``parts``."""

    x: float
    y: float
    width: float
    height: float
    clip: str
    xlim: tuple[float, float] = (0.0, 1.0)
    ylim: tuple[float, float] = (0.0, 1.0)
    parts: list[str] = field(default_factory=list)
    axes: list[str] = field(default_factory=list)

    def px(self, value: float) -> float:
        low, high = self.xlim
        return self.x + (value - low) / ((high - low) or 1.0) * self.width

    def py(self, value: float) -> float:
        low, high = self.ylim
        return self.y + self.height - (value - low) / ((high - low) or 1.0) * self.height

    # axes, ticks, titles -------------------------------------------------------------------------------------

    def frame(self) -> None:
        bottom, right = self.y + self.height, self.x + self.width
        self.axes.append(
            f'<path d="M{_f(self.x)} {_f(self.y)}V{_f(bottom)}H{_f(right)}" fill="none" stroke="{_AXIS}" '
            'stroke-width="0.8"/>'
        )

    def yticks(self, percent: bool = False, count: int = 5) -> None:
        ticks = [t for t in nice_ticks(*self.ylim, count=count) if self.ylim[0] - 1e-12 <= t <= self.ylim[1] + 1e-12]
        for t in ticks:
            y = self.py(t)
            self.axes.append(f'<path d="M{_f(self.x - 2)} {_f(y)}H{_f(self.x)}" stroke="{_AXIS}" stroke-width="0.8"/>')
            self.axes.append(
                f'<text x="{_f(self.x - 4)}" y="{_f(y + 3)}" text-anchor="end" font-size="{_TICK_FONT}">'
                f"{xml_text(_tick_text(t, ticks, percent))}</text>"
            )

    def xticks(
        self, positions: Sequence[float] | None = None, labels: Sequence[str] | None = None, *, rotate: bool = False
    ) -> None:
        """Ticks at ``positions`` labelled ``labels`` (default: round values of the x range); ``rotate``: 30 degrees."""
        if positions is None:
            ticks = nice_ticks(*self.xlim)
            positions = [t for t in ticks if self.xlim[0] - 1e-12 <= t <= self.xlim[1] + 1e-12]
            labels = [_tick_text(t, ticks, False) for t in positions]
        assert labels is not None
        bottom = self.y + self.height
        for position, label in zip(positions, labels, strict=True):
            x = self.px(position)
            self.axes.append(f'<path d="M{_f(x)} {_f(bottom)}V{_f(bottom + 2)}" stroke="{_AXIS}" stroke-width="0.8"/>')
            place = (
                f'transform="translate({_f(x + 3)} {_f(bottom + 8)}) rotate(-30)" text-anchor="end"'
                if rotate
                else f'x="{_f(x)}" y="{_f(bottom + 11)}" text-anchor="middle"'
            )
            self.axes.append(f'<text {place} font-size="{_TICK_FONT}">{xml_text(label)}</text>')

    def title(self, text: str) -> None:
        self.axes.append(
            f'<text x="{_f(self.x)}" y="{_f(self.y - 5)}" font-size="{_TITLE_FONT}" fill="{_TEXT}">'
            f"{xml_text(text)}</text>"
        )

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        """Swatches above the plot, right-aligned, so they never cover a bar."""
        right = self.x + self.width
        for name, colour in reversed(items):
            width = 0.55 * _TICK_FONT * len(name)
            self.axes.append(
                f'<text x="{_f(right)}" y="{_f(self.y - 5)}" text-anchor="end" font-size="{_TICK_FONT}">'
                f"{xml_text(name)}</text>"
            )
            self.axes.append(
                f'<rect x="{_f(right - width - 12)}" y="{_f(self.y - 12)}" width="9" height="7" fill="{colour}"/>'
            )
            right -= width + 22

    # marks ---------------------------------------------------------------------------------------------------

    def bars(self, xs: Sequence[float], heights: Sequence[float], width: float, colours: Sequence[str]) -> None:
        for x, h, colour in zip(xs, heights, colours, strict=True):
            left, right = self.px(x - width / 2), self.px(x + width / 2)
            top, base = self.py(max(h, 0.0)), self.py(0.0)
            self.parts.append(
                f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(right - left)}" height="{_f(base - top)}" '
                f'fill="{colour}"/>'
            )

    def stairs(self, values: Sequence[float], edges: Sequence[float], colour: str, *, fill: bool) -> None:
        points = [f"M{_f(self.px(edges[0]))} {_f(self.py(0.0))}"]
        for i, value in enumerate(values):
            y = self.py(value)
            points.append(f"V{_f(y)}H{_f(self.px(edges[i + 1]))}")
        points.append(f"V{_f(self.py(0.0))}")
        path = "".join(points)
        if fill:
            self.parts.append(f'<path d="{path}Z" fill="{colour}" fill-opacity="0.55" stroke="none"/>')
        else:
            self.parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')

    def step_post(self, xs: Sequence[float], ys: Sequence[float], colour: str, width: float) -> None:
        pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)]
        if not pairs:
            return
        path = [f"M{_f(self.px(pairs[0][0]))} {_f(self.py(pairs[0][1]))}"]
        for x, y in pairs[1:]:
            path.append(f"H{_f(self.px(x))}V{_f(self.py(y))}")
        self.parts.append(
            f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="{width}" '
            f'clip-path="url(#{self.clip})"/>'
        )

    def line(self, values: Sequence[float], colour: str, *, dashed: bool = False, markers: bool = False) -> None:
        """``values[i]`` at x = i, broken where a value is missing (NaN)."""
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if math.isfinite(v):
                runs[-1].append((self.px(i), self.py(v)))
            elif runs[-1]:
                runs.append([])
        dash = ' stroke-dasharray="4 2"' if dashed else ""
        for run in runs:
            if len(run) > 1:
                d = "M" + "L".join(f"{_f(x)} {_f(y)}" for x, y in run)
                self.parts.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.3"{dash}/>')
            if markers:
                self.parts.extend(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="1.8" fill="{colour}"/>' for x, y in run)

    def step_mid(self, values: Sequence[float], colour: str) -> None:
        """A threshold per night, held from half-way before each night to half-way after (dashed)."""
        for i, v in enumerate(values):
            if not math.isfinite(v):
                continue
            y = self.py(v)
            start, end = self.px(max(i - 0.5, 0)), self.px(min(i + 0.5, len(values) - 1))
            nxt = values[i + 1] if i + 1 < len(values) else math.nan
            d = f"M{_f(start)} {_f(y)}H{_f(end)}"
            if math.isfinite(nxt):
                d += f"V{_f(self.py(nxt))}"
            self.parts.append(
                f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.1" stroke-dasharray="4 2"/>'
            )

    def hline(self, value: float, colour: str) -> None:
        y = self.py(value)
        self.parts.append(
            f'<path d="M{_f(self.x)} {_f(y)}H{_f(self.x + self.width)}" stroke="{colour}" stroke-width="1.1" '
            'stroke-dasharray="4 2"/>'
        )

    def rings(self, xs: Sequence[int], ys: Sequence[float], colour: str) -> None:
        self.parts.extend(
            f'<circle cx="{_f(self.px(x))}" cy="{_f(self.py(y))}" r="3.6" fill="none" stroke="{colour}" '
            'stroke-width="1"/>'
            for x, y in zip(xs, ys, strict=True)
        )

    def triangles(self, xs: Sequence[int], ys: Sequence[float], colour: str) -> None:
        for x, y in zip(xs, ys, strict=True):
            cx, cy = self.px(x), self.py(y)
            self.parts.append(
                f'<path d="M{_f(cx - 3.5)} {_f(cy - 3)}H{_f(cx + 3.5)}L{_f(cx)} {_f(cy + 3.5)}Z" fill="{colour}"/>'
            )

    def note(self, x: float, y: float, text: str) -> None:
        """A value label just above the data point ``(x, y)``."""
        self.parts.append(
            f'<text x="{_f(self.px(x))}" y="{_f(self.py(y) - 3)}" text-anchor="middle" font-size="{_TICK_FONT}">'
            f"{xml_text(text)}</text>"
        )

    def svg(self) -> str:
        clip = (
            f'<clipPath id="{self.clip}"><rect x="{_f(self.x)}" y="{_f(self.y - 1)}" width="{_f(self.width)}" '
            f'height="{_f(self.height + 2)}"/></clipPath>'
        )
        return clip + "".join(self.parts) + "".join(self.axes)


def grid(
    width: float,
    height: float,
    rows: Sequence[float],
    columns: Sequence[float],
    *,
    left: float = 0.5,
    right: float = 0.1,
    top: float = 0.3,
    bottom: float = 0.35,
    wspace: float = 0.3,
    hspace: float = 0.3,
) -> list[list[Panel]]:
    """Panels laid out as matplotlib's ``subplots`` would (inches; ratios of rows and columns; spaces as
    fractions of the mean panel size), in pixels."""
    inner_w = (width - left - right) * _PX
    inner_h = (height - top - bottom) * _PX
    mean_w = inner_w / (len(columns) + wspace * (len(columns) - 1))
    mean_h = inner_h / (len(rows) + hspace * (len(rows) - 1))
    widths = [r / sum(columns) * mean_w * len(columns) for r in columns]
    heights = [r / sum(rows) * mean_h * len(rows) for r in rows]
    out: list[list[Panel]] = []
    y = top * _PX
    for i, h in enumerate(heights):
        x = left * _PX
        row = []
        for j, w in enumerate(widths):
            row.append(Panel(x, y, w, h, clip=f"p{i}-{j}"))
            x += w + wspace * mean_w
        out.append(row)
        y += h + hspace * mean_h
    return out


def svg_data_uri(width: float, height: float, panels: Iterable[Panel]) -> str:
    """``data:image/svg+xml;base64,...`` of the panels on a white ``width`` x ``height`` inch canvas."""
    w, h = round(width * _PX), round(height * _PX)
    body = "".join(p.svg() for p in panels)
    document = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" fill="{_TEXT}">'
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>{body}</svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(document.encode("utf-8")).decode("ascii")
