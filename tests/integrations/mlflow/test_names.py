"""Run names a person reads: the model, the night and why, never a hash (the keys stay in tags)."""

from __future__ import annotations

import pytest

from alignment_drift.integrations.mlflow.names import check_run_name, night_label, retrain_run_name

DAY = ("2026-11-04T00:00:00+00:00", "2026-11-05T00:00:00+00:00")


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        pytest.param(*DAY, "2026-11-04", id="a-daily-night-is-its-date"),
        pytest.param("2026-11-04T06:00:00+00:00", "2026-11-04T07:00:00+00:00", "2026-11-04 06:00", id="hourly"),
        pytest.param("2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00", "2026-11-02", id="weekly"),
        pytest.param("2026-11-04T00:00:00+00:00", None, "2026-11-04", id="no-end"),
        pytest.param("not a date", None, "not a date", id="not-iso-kept-as-is"),
    ],
)
def test_night_label(start: str, end: str | None, label: str) -> None:
    assert night_label(start, end) == label


def test_two_hourly_nights_of_one_day_get_two_check_names() -> None:
    first = check_run_name("2026-11-04T06:00:00+00:00", "2026-11-04T07:00:00+00:00")
    second = check_run_name("2026-11-04T07:00:00+00:00", "2026-11-04T08:00:00+00:00")
    assert (first, second) == ("check 2026-11-04 06:00", "check 2026-11-04 07:00")
    assert check_run_name(*DAY) == "check 2026-11-04"


@pytest.mark.parametrize(
    ("trigger", "verdict", "night", "name"),
    [
        pytest.param("asset", "drifting", DAY[0], "retrain content_safety 2026-11-04 (drifting)", id="requested"),
        pytest.param("asset", "None", DAY[0], "retrain content_safety 2026-11-04 (requested)", id="no-verdict"),
        pytest.param("schedule", "None", DAY[1], "retrain content_safety 2026-11-05 (scheduled)", id="schedule"),
        pytest.param("manual", None, DAY[1], "retrain content_safety 2026-11-05 (manual)", id="manual"),
        pytest.param("external", None, DAY[0], "retrain content_safety 2026-11-04 (external)", id="external"),
        pytest.param(None, None, DAY[0], "retrain content_safety 2026-11-04", id="by-code"),
        pytest.param("manual", None, "", "retrain content_safety (manual)", id="no-night"),
    ],
)
def test_retrain_run_name(trigger: str | None, verdict: str | None, night: str, name: str) -> None:
    made = retrain_run_name("content_safety", night=night, trigger=trigger, verdict=verdict)
    assert made == name
    assert "/" not in made and "__" not in made  # no retrain key (<model>/<airflow run id>) in the name
