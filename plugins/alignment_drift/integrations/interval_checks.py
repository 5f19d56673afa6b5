"""Checks Great Expectations cannot express easily, as :class:`ExpectationOutcome` like GX's own.

On the timestamp column: rows outside the data interval are a warning up to
:data:`OUTSIDE_INTERVAL_TOLERANCE` (1 %: late rows around midnight, clock
skew) and critical above it; rows later than now plus :data:`FUTURE_SKEW`
(5 minutes) are critical (clocks are wrong). And the table's row-count
expectation judged on a whole batch validated group by group.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from alignment_drift.integrations.gx_report import ExpectationOutcome

__all__ = [
    "FUTURE_SKEW",
    "OUTSIDE_INTERVAL_TOLERANCE",
    "StampCounts",
    "interval_checks",
    "outcome",
    "row_count_on_total",
]

OUTSIDE_INTERVAL_TOLERANCE = 0.01
FUTURE_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class StampCounts:
    """Counts of a batch's timestamps (or of some groups of it, merged with ``+``) and a few examples."""

    n: int = 0
    outside: int = 0
    future: int = 0
    outside_examples: tuple[pd.Timestamp, ...] = ()
    future_examples: tuple[pd.Timestamp, ...] = ()

    @classmethod
    def of(
        cls, frame: pd.DataFrame, column: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
    ) -> StampCounts:
        """The counts of ``frame``; zero when the column is missing or not tz-aware (the suite reports that)."""
        if column not in frame.columns or not isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            return cls()
        stamps = frame[column].dropna()
        outside = stamps[(stamps < start) | (stamps >= end)]
        future = stamps[stamps > now + FUTURE_SKEW]
        return cls(len(stamps), len(outside), len(future), tuple(outside.head(3)), tuple(future.head(3)))

    def __add__(self, other: StampCounts) -> StampCounts:
        return StampCounts(
            self.n + other.n,
            self.outside + other.outside,
            self.future + other.future,
            (self.outside_examples + other.outside_examples)[:3],
            (self.future_examples + other.future_examples)[:3],
        )

    def outcomes(self, column: str, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> list[ExpectationOutcome]:
        """Timestamps inside the data interval, and none in the future; none when no timestamp was counted."""
        if not self.n:
            return []
        where = f"column '{column}': expected"
        inside = (
            f"{where} timestamps inside the data interval [{start.isoformat()}, {end.isoformat()}) "
            f"(up to {OUTSIDE_INTERVAL_TOLERANCE:.0%} outside is a warning, more is critical)"
        )
        ahead = f"{where} no timestamp later than now ({now.isoformat(timespec='seconds')}) plus {FUTURE_SKEW}"
        severity = "critical" if self.outside / self.n > OUTSIDE_INTERVAL_TOLERANCE else "warning"
        return [
            outcome(
                "timestamps_inside_data_interval", column, severity, self.outside_examples, self.n, inside, self.outside
            ),
            outcome(
                "timestamps_not_in_the_future", column, "critical", self.future_examples, self.n, ahead, self.future
            ),
        ]


def interval_checks(
    frame: pd.DataFrame, column: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> list[ExpectationOutcome]:
    """Timestamps inside the data interval, and none in the future (see the module's rules).

    Returns no outcome when the column is missing or not tz-aware: the suite reports that.
    """
    return StampCounts.of(frame, column, start, end, now).outcomes(column, start, end, now)


def outcome(
    name: str, column: str, severity: str, examples: Sequence[Any], n: int, desc: str, count: int
) -> ExpectationOutcome:
    """One check's outcome: ``count`` of ``n`` rows failed it, ``examples`` a few of them."""
    share = 100.0 * count / n
    sample = [t.isoformat() for t in examples[:3]]
    observed = f"{count} of {n} rows ({share:.2f}%), e.g. {sample}" if count else "none"
    return ExpectationOutcome(
        type=f"alignment_drift:{name}",
        column=column,
        severity=severity,
        success=count == 0,
        unexpected_percent=share,
        observed_value=count,
        message=f"{desc}; " + ("passed" if count == 0 else f"observed {observed}"),
    )


def row_count_on_total(
    suite: dict[str, Any], rows: int, failed: dict[tuple[str, str | None], ExpectationOutcome]
) -> list[ExpectationOutcome]:
    """The groups' failed outcomes, with the table row-count expectation re-evaluated on the batch's total rows."""
    out = [o for key, o in failed.items() if key[0] != "expect_table_row_count_to_be_between"]
    for expectation in suite.get("expectations", []):
        if expectation.get("type") != "expect_table_row_count_to_be_between":
            continue
        kwargs = expectation.get("kwargs", {})
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if (low is None or rows >= low) and (high is None or rows <= high):
            continue
        out.append(
            ExpectationOutcome(
                type="expect_table_row_count_to_be_between",
                column=None,
                severity=str(expectation.get("severity") or "critical"),
                success=False,
                unexpected_percent=None,
                observed_value=rows,
                message=f"expected the batch's row count between {low} and {high}; observed {rows} rows",
            )
        )
    return out
