"""When a night's batch may still land: ``source.wait`` and ``schedule: on_arrival``.

``source.wait`` is a duration measured from the end of the night's data
interval: until then a batch that has not landed is waited for (polled with
backoff), after it the night is checked with what is there (a missing batch is
quarantined, as without a wait). It is bounded by :data:`MAX_WAIT` so that a
night is never left open for ever.

>>> parse_duration("2h"), parse_duration("1h30m"), parse_duration(90), parse_duration("45s")
(7200, 5400, 90, 45)
>>> [round(d) for d in poll_delays(60)][:5]
[3, 6, 12, 15, 15]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["MAX_WAIT", "ON_ARRIVAL", "Wait", "arrival_deadline", "format_duration", "parse_duration", "poll_delays"]

#: The value of ``schedule`` that runs a night when its batch lands instead of on a clock.
ON_ARRIVAL = "on_arrival"
#: The longest ``source.wait``, in seconds (one day): a batch later than that is a missing night.
MAX_WAIT = 86_400

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> int:
    """Seconds of a duration: a whole number of seconds, or text such as ``"2h"``, ``"90m"``, ``"1h30m"``.

    Raises
    ------
    ValueError
        When the value is negative, longer than :data:`MAX_WAIT`, or not a duration; the message names the fix.
    """
    example = "e.g. '2h', '30m', '1h30m' or 900 (seconds)"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"the wait must be a duration, {example}; got {value!r}")
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.match(text) if text else None
        if text.isdigit():
            seconds = int(text)
        elif match is None or not any(match.groups()):
            raise ValueError(f"the wait must be a duration, {example}; got {value!r}")
        else:
            seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS.values(), strict=True) if n)
    else:
        if value != int(value) or value < 0:
            raise ValueError(f"the wait must be a whole number of seconds >= 0, {example}; got {value!r}")
        seconds = int(value)
    if seconds > MAX_WAIT:
        raise ValueError(
            f"the wait may be at most {format_duration(MAX_WAIT)}; got {value!r} ({format_duration(seconds)}). "
            "Fix: wait at most a day; a batch that lands later is quarantined as missing and can be checked "
            "when it lands with 'alignment-drift release-quarantine'"
        )
    return seconds


def format_duration(seconds: int) -> str:
    """``7200`` -> ``"2h"``, ``5400`` -> ``"1h30m"``, ``0`` -> ``"0s"``."""
    parts, left = [], int(seconds)
    for unit, size in _UNITS.items():
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


#: ``source.wait`` in a spec: a duration in seconds (text or a number), ``0`` (no wait) to :data:`MAX_WAIT`.
Wait = Annotated[int, BeforeValidator(parse_duration)]


def arrival_deadline(end: dt.datetime, wait: int) -> dt.datetime:
    """Until when the batch of the interval ending at ``end`` is waited for."""
    return end + dt.timedelta(seconds=wait)


def poll_delays(wait: int, *, first: float | None = None, cap: float = 600.0) -> Iterator[float]:
    """The pauses between looks for a batch: doubling from ``first`` (default ``wait / 20``, at least 1 s) to ``cap``.

    A quarter of the wait also caps them, so a short wait is looked at several times. The iterator never
    ends; the caller stops at the deadline.
    """
    delay = max(1.0, wait / 20) if first is None else first
    ceiling = max(delay, min(cap, wait / 4))
    while True:
        yield min(delay, ceiling)
        delay *= 2
