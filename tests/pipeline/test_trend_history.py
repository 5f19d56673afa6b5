"""Where the trend history restarts: the reference's promotion, and the resolved incidents of the model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alignment_drift.integrations.incident_store import SYSTEM_ACTOR, Incident, Occurrence, Transition
from alignment_drift.pipeline.steps import trend as trend_step
from alignment_drift.pipeline.steps.trend import history_restart

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _night(day: int) -> dt.datetime:
    return T0 + day * DAY


def _incident(
    name: str,
    nights: list[int],
    *,
    state: str = "resolved",
    by: str = SYSTEM_ACTOR,
    resolved_at: dt.datetime | None = None,
    kind: str = "alignment",
) -> Incident:
    occurrences = [
        Occurrence(
            interval_start=_night(d).isoformat(),
            interval_end=(_night(d) + DAY).isoformat(),
            verdict="quarantined" if kind == "quarantine" else "drifting",
            recorded_at=_night(d + 1).isoformat(),
        )
        for d in nights
    ]
    history = [Transition(at=T0.isoformat(), by=SYSTEM_ACTOR, action="created", state="open")]
    stamp = None
    if state == "resolved":
        stamp = (resolved_at or _night(nights[-1] + 4) if nights else T0).isoformat()
        history.append(Transition(at=stamp, by=by, action="resolved", state="resolved", note="handled"))
    return Incident(
        id=f"content_safety-2026-03-0{name}-{kind}",
        model="content_safety",
        kind=kind,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        verdict=occurrences[0].verdict if occurrences else "drifting",
        opened_at=T0.isoformat(),
        updated_at=T0.isoformat(),
        resolved_at=stamp,
        occurrences=occurrences,
        history=history,
    )


def test_an_automatically_resolved_incident_restarts_the_history_after_its_last_night() -> None:
    incident = _incident("1", [3, 4, 5])  # resolved by the monitor after 3 aligned nights
    assert history_restart([incident], _night(10)) == (_night(6), incident.id)
    assert history_restart([incident], _night(6)) == (_night(6), incident.id)  # the first night after it
    assert history_restart([incident], _night(5)) is None  # its own nights keep their history


def test_a_person_resolving_later_moves_the_restart_to_the_resolution() -> None:
    late = _night(9) + dt.timedelta(hours=10)  # resolved during the day of night 9
    incident = _incident("1", [3, 4], by="alice", resolved_at=late)
    assert history_restart([incident], _night(9)) is None  # that night started before the resolution
    assert history_restart([incident], _night(10)) == (late, incident.id)


def test_the_latest_applicable_resolution_wins_and_others_are_ignored() -> None:
    older = _incident("1", [2])
    newer = _incident("2", [6, 7])
    unresolved = _incident("3", [9], state="open")
    quarantine = _incident("4", [8], kind="quarantine")
    withdrawn = _incident("5", [])  # every night withdrawn: nothing happened
    incidents = [newer, older, unresolved, quarantine, withdrawn]
    assert history_restart(incidents, _night(12)) == (_night(8), newer.id)
    assert history_restart(incidents, _night(5)) == (_night(3), older.id)
    assert history_restart([unresolved, quarantine, withdrawn], _night(12)) is None


class _Run:
    def __init__(self, day: int, value: float) -> None:
        self.data = type(
            "Data",
            (),
            {"tags": {"reference_version": "3", "verdict": "aligned"}, "metrics": {"drift.share": value}},
        )()
        self.day = day


def test_the_step_reads_only_the_nights_after_the_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.pipeline.night import BenchmarkResults, DriftResult

    incident = _incident("1", [3, 4])
    calls: dict[str, Any] = {}

    def list_checks(settings: Any, model: str, *, since: str | None = None, until: str | None = None) -> list[_Run]:
        calls.update(since=since, until=until)
        first = 0 if since is None else (dt.datetime.fromisoformat(since) - T0).days
        return [_Run(d, 0.1) for d in range(first, 20)]

    monkeypatch.setattr(trend_step, "list_checks", list_checks)
    monkeypatch.setattr(trend_step, "list_incidents", lambda settings, model: [incident])
    spec = type("Spec", (), {"model": "content_safety", "drift": type("D", (), {"trend": None})()})()
    from alignment_drift.core.spec.drift import TrendPolicy

    spec.drift.trend = TrendPolicy()
    interval = type("I", (), {"start": _night(20).isoformat(), "bounds": lambda self: (_night(20), _night(21))})()
    pulled = type("P", (), {"interval": interval})()
    drift = DriftResult(skipped=False, drift={"drift_share": 0.1, "columns": []})
    bench = BenchmarkResults(skipped=False, reference_version="3")
    result = trend_step.trend(spec, None, pulled, drift, bench)  # type: ignore[arg-type]
    assert calls["since"] == _night(5).isoformat()
    assert result.nights == 16  # nights 5..19, and tonight
    (only,) = result.results
    assert only["signal"] == "drift.share" and only["since_incident"] == incident.id
    assert only["history_since"] == _night(5).isoformat() and only["n"] == 16
