"""Sub-daily schedules: every interval has its own evidence and quarantine folder."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alignment_drift.integrations.quarantine import interval_key
from tests.pipeline.conftest import NOW, START, Workspace

HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end", "key"),
    [
        pytest.param(START, START + dt.timedelta(days=1), "2026-01-01", id="daily"),
        pytest.param(START, START + dt.timedelta(days=7), "2026-01-01", id="weekly"),
        pytest.param(START + 13 * HOUR, START + 14 * HOUR, "2026-01-01T1300Z", id="hourly"),
        pytest.param(START + 6 * HOUR, START + 30 * HOUR, "2026-01-01T0600Z", id="day-from-6am"),
        pytest.param(
            dt.datetime(2026, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            dt.datetime(2026, 1, 1, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2026-01-01T1300Z",
            id="offset-normalised-to-utc",
        ),
    ],
)
def test_interval_key(start: dt.datetime, end: dt.datetime, key: str) -> None:
    assert interval_key(start, end) == key


def test_two_hourly_intervals_of_one_day_are_quarantined_apart(ws: Workspace) -> None:
    from alignment_drift.integrations.evidence import evidence_dir
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import validate

    spec = ws.with_path("content_safety/hourly/{start}.parquet")
    records: list[dict[str, Any]] = []
    for hour in (1, 2):
        start = START + hour * HOUR
        pulled = pull(spec, ws.settings, start=start, end=start + HOUR)
        validation = validate(spec, ws.settings, pulled, now=NOW)
        assert validation.status == "quarantined" and "no batch" in str(validation.reason)
        assert validation.quarantine is not None
        records.append(validation.quarantine)
    first, second = (r["path"] for r in records)
    assert first != second
    assert {p.split("/")[-1] for p in (first, second)} == {"2026-01-01T0100Z", "2026-01-01T0200Z"}
    assert evidence_dir(ws.settings, spec.model, START + HOUR, START + 2 * HOUR) != evidence_dir(
        ws.settings, spec.model, START + 2 * HOUR, START + 3 * HOUR
    )


def test_the_cli_date_takes_a_time_for_sub_daily_schedules() -> None:
    from alignment_drift.cli.check import interval_for, parse_date
    from alignment_drift.cli.common import UsageError

    assert interval_for("@hourly", parse_date("2026-01-01T13:00")) == (START + 13 * HOUR, START + 14 * HOUR)
    assert interval_for("@daily", parse_date("2026-01-01")) == (START, START + dt.timedelta(days=1))
    with pytest.raises(UsageError, match="YYYY-MM-DDTHH:MM"):
        parse_date("yesterday")
