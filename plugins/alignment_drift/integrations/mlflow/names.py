"""Run names a person reads in MLflow's run list: what the run did, for which model, which night, and why.

Names are for reading only: every run is found by its tags (``kind``,
``data_interval_start``, ``retrain_key`` ...), never by its name, so a name
may change between releases without breaking a search.

Examples
--------
>>> night_label("2026-11-04T00:00:00+00:00", "2026-11-05T00:00:00+00:00")
'2026-11-04'
>>> night_label("2026-11-04T06:00:00+00:00", "2026-11-04T07:00:00+00:00")
'2026-11-04 06:00'
>>> retrain_run_name("content_safety", night="2026-11-04T00:00:00+00:00", trigger="asset", verdict="drifting")
'retrain content_safety 2026-11-04 (drifting)'
>>> retrain_run_name("content_safety", night="2026-11-05T00:00:00+00:00", trigger="schedule")
'retrain content_safety 2026-11-05 (scheduled)'
"""

from __future__ import annotations

import datetime as dt

__all__ = ["check_run_name", "night_label", "retrain_run_name", "trigger_label"]

_TRIGGERS = {"schedule": "scheduled", "manual": "manual", "external": "external", "asset": "requested"}


def _parse(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def night_label(start: str, end: str | None = None) -> str:
    """The night as a person names it: its date, with the start time when the interval is shorter than a day.

    A value that is not an ISO timestamp is returned as it is.
    """
    begins = _parse(start)
    if begins is None:
        return str(start)
    ends = _parse(end) if end else None
    whole_days = begins.time() == dt.time(0) and (ends is None or ends - begins >= dt.timedelta(days=1))
    return begins.strftime("%Y-%m-%d" if whole_days else "%Y-%m-%d %H:%M")


def check_run_name(start: str, end: str | None = None) -> str:
    """``check 2026-11-04`` (``check 2026-11-04 06:00`` for an hourly night)."""
    return f"check {night_label(start, end)}"


def trigger_label(trigger: str | None, verdict: str | None = None) -> str | None:
    """Why a retrain ran, in a word: the requesting night's verdict, ``scheduled``, ``manual`` or ``external``.

    None when the trigger is not known (a retrain run by code, outside the retrain DAG).
    """
    if trigger == "asset" and verdict and verdict not in ("None", "null"):
        return verdict
    return _TRIGGERS.get(trigger or "")


def retrain_run_name(model: str, *, night: str, trigger: str | None = None, verdict: str | None = None) -> str:
    """``retrain <model> <night> (<why>)``: the night whose check asked for it (or the window's end) and why.

    The retrain's key, which makes the run idempotent, stays in the tag ``retrain_key``.
    """
    why = trigger_label(trigger, verdict)
    name = " ".join(part for part in ("retrain", model, night_label(night) if night else "") if part)
    return f"{name} ({why})" if why else name
