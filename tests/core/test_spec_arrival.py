"""``source.wait`` and ``schedule: on_arrival``: the durations a spec may give, and the errors that name the fix."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.spec import SpecError, parse_spec
from alignment_drift.core.spec.arrival import format_duration, parse_duration, poll_delays


@pytest.fixture(scope="module")
def demo(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())


def _with(data: dict[str, Any], *, wait: Any = None, schedule: str | None = None, labels_wait: Any = None) -> Any:
    data = copy.deepcopy(data)
    if wait is not None:
        data["source"]["wait"] = wait
    if schedule is not None:
        data["schedule"] = schedule
    if labels_wait is not None:
        data["labels"] = {"source": {**data["source"], "wait": labels_wait}}
    return data


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), (" 1D ", 86_400), ("600", 600), (900, 900), (0, 0)],
    ids=["hours", "minutes", "hours-and-minutes", "seconds", "a-day", "digits", "a-number", "none"],
)
def test_durations(value: Any, seconds: int) -> None:
    assert parse_duration(value) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_the_polls_back_off_up_to_ten_minutes_and_a_quarter_of_the_wait() -> None:
    delays = poll_delays(7200)
    first = [next(delays) for _ in range(12)]
    assert first[:3] == [360, 600, 600] and max(first) == 600  # at most 10 minutes between looks
    assert all(b >= a for a, b in itertools.pairwise(first))
    short = poll_delays(40)
    assert [next(short) for _ in range(4)] == [2.0, 4.0, 8.0, 10.0]


def test_a_spec_with_a_wait_and_on_arrival_loads(demo: dict[str, Any]) -> None:
    spec = parse_spec(_with(demo, wait="6h", schedule="on_arrival"))
    assert spec.source.wait == 21_600 and spec.on_arrival and spec.night_schedule == "@daily"
    assert spec.wait_text == "6h" and spec.arrival_dag_id == "alignment_arrival__content_safety"
    plain = parse_spec(demo)
    assert plain.source.wait == 0 and not plain.on_arrival and plain.night_schedule == plain.schedule


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"wait": "soon"}, ["source.files.wait", "must be a duration", "'2h'"]),
        ({"wait": -5}, ["source.files.wait", "whole number of seconds >= 0"]),
        ({"wait": 1.5}, ["source.files.wait", "whole number of seconds"]),
        ({"wait": True}, ["source.files.wait", "must be a duration"]),
        ({"wait": "3d"}, ["source.files.wait", "at most 1d", "Fix:", "release-quarantine"]),
        ({"wait": 86_401}, ["at most 1d"]),
        ({"schedule": "on_arrival"}, ["schedule 'on_arrival' needs source.wait", "Fix: set source.wait"]),
        ({"schedule": "on arrival"}, ["schedule:", "'on_arrival'", "cron expression of 5 fields", "Fix:"]),
        ({"schedule": "nightly", "wait": "1h"}, ["schedule:", "got 'nightly'"]),
        ({"labels_wait": "1h"}, ["labels.source.wait is not used", "Fix: remove labels.source.wait"]),
    ],
    ids=[
        "not-a-duration",
        "negative",
        "fractional-seconds",
        "boolean",
        "longer-than-a-day",
        "one-second-too-long",
        "on-arrival-without-a-wait",
        "misspelled-schedule",
        "unknown-schedule",
        "wait-on-late-labels",
    ],
)
def test_errors_name_the_problem_and_the_fix(demo: dict[str, Any], change: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_with(demo, **change), path="content_safety.yaml")
    message = str(caught.value)
    for part in expected:
        assert part in message, message
