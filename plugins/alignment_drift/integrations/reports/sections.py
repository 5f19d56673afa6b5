"""The report's sections as plain values: what the template shows, computed from a ``check@1`` document.

Nothing here escapes or formats HTML: values stay as the data has them and
the template (Jinja2, autoescape on) escapes every one of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alignment_drift.integrations.mlflow.checks import safe_key

__all__ = [
    "MAX_BENCHMARK_TRENDS",
    "MAX_COLUMN_CHARTS",
    "benchmark_rows",
    "drift_rows",
    "drift_sentence",
    "failing_probes",
    "objective_change_section",
    "trend_signals",
    "validation_section",
    "verdict_sentence",
]

MAX_COLUMN_CHARTS = 24  # per-column distribution charts, in effect order; the table lists every column
MAX_BENCHMARK_TRENDS = 12
_STATE = {"aligned": "aligned", "watch": "on watch", "drifting": "drifting", "misaligned": "misaligned"}


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _drifted(column: Mapping[str, Any]) -> bool:
    return bool(column.get("drift") or column.get("missing_drift"))


def verdict_sentence(check: Mapping[str, Any]) -> str:
    """The verdict and its attribution in one sentence, e.g. for the top of the report or a notification.

    Examples
    --------
    >>> verdict_sentence({"model": "m", "model_version": "3", "verdict": "misaligned",
    ...     "data_interval": {"start": "2026-01-09T00:00:00+00:00"},
    ...     "attribution": [{"source": "model_update", "confidence": 0.9}],
    ...     "benchmarks": [{"status": "fail"}, {"status": "pass"}],
    ...     "drift": {"columns": [{"drift": False}, {"drift": True}]}})  # doctest: +ELLIPSIS
    'm v3 was misaligned on 2026-01-09, most likely from model_update (0.90): 1 of 2 safety benchmarks failed and ...'
    """
    model, version, verdict = check["model"], check.get("model_version"), check["verdict"]
    date = str(check["data_interval"]["start"])[:10]
    if verdict == "quarantined":
        reasons = check.get("reasons") or ["the batch failed validation"]
        reason = _clip(str(reasons[0]).removeprefix("batch quarantined: ")).rstrip(".").replace(". ", "; ")
        return f"{model}'s batch of {date} was quarantined and not evaluated: {reason}."
    who = f"{model} v{version}" if version else str(model)
    judged = [b for b in check.get("benchmarks") or [] if b.get("status") in ("pass", "fail")]
    failed = sum(1 for b in judged if b["status"] == "fail")
    columns = (check.get("drift") or {}).get("columns") or []
    evidence = (
        f"{failed} of {len(judged)} safety benchmarks failed and "
        f"{sum(_drifted(c) for c in columns)} of {len(columns)} input columns drifted"
    )
    state = _STATE.get(verdict, verdict)
    sources = [f"{a['source']} ({float(a.get('confidence') or 0.0):.2f})" for a in check.get("attribution") or []]
    if sources:
        return f"{who} was {state} on {date}, most likely from {_join(sources)}: {evidence}."
    return f"{who} was {state} on {date} with no likely source of drift: {evidence}."


def drift_sentence(result: Mapping[str, Any]) -> str:
    """The drift-only report's one sentence (a ``drift@1`` result)."""
    columns = result.get("columns") or []
    drifted = [c["name"] for c in sorted(columns, key=_effect_key) if _drifted(c)]
    where = f"{result.get('n_current')} rows against a reference of {result.get('n_reference')}"
    if not drifted:
        return f"No drift in {len(columns)} columns ({where})."
    shown = _join([_clip(n, 60) for n in drifted[:5]] + ([f"{len(drifted) - 5} more"] if len(drifted) > 5 else []))
    return f"Drift in {len(drifted)} of {len(columns)} columns ({where}): {shown}."


def benchmark_rows(check: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per safety benchmark, failing ones first, then in the spec's order."""
    rows = [
        {
            key: b.get(key)
            for key in (
                "name",
                "kind",
                "metric",
                "value",
                "threshold",
                "baseline",
                "delta",
                "ci_low",
                "ci_high",
                "status",
                "severity",
                "detail",
                "on",
                "direction",
            )
        }
        for b in check.get("benchmarks") or []
    ]
    return sorted(rows, key=lambda r: r["status"] != "fail")


def failing_probes(check: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every failing probe case of every ``probes`` benchmark, with its benchmark's name."""
    out = []
    for bench in check.get("benchmarks") or []:
        for failure in (bench.get("evidence") or {}).get("failures") or []:
            out.append({"benchmark": bench.get("name"), **{k: failure.get(k) for k in ("case", "type", "vary")}})
            out[-1]["failing_items"] = f"{failure.get('failing_items', '?')}/{failure.get('of', '?')}"
            out[-1]["description"] = failure.get("description") or failure.get("problem") or ""
    return out


def _effect_key(column: Mapping[str, Any]) -> tuple[float, str]:
    effect = column.get("effect")
    value = float(effect) if isinstance(effect, int | float) and math.isfinite(effect) else -math.inf
    return (-value, str(column.get("name")))


def drift_rows(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The columns of a drift result, largest effect first (drift decided by effect and adjusted p-value)."""
    if not result:
        return []
    return [dict(c) for c in sorted(result.get("columns") or [], key=_effect_key)]


def _flagged(metric: str, value: float = 1.0) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a night's ``metric`` equals ``value`` (e.g. ``benchmark.<name>.passed`` is 0: it failed)."""
    return lambda row: row["metrics"].get(metric) == value


def trend_signals(
    check: Mapping[str, Any], *, drifting_share: float | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The signals the trend charts plot: (benchmarks, drift signals), by their MLflow metric names.

    Benchmarks are drawn with their nightly threshold; ``drift.share`` with the spec's
    ``drifting_share`` (when given) and the output-drift effect with its effect floor.
    """
    benches = []
    for b in (check.get("benchmarks") or [])[:MAX_BENCHMARK_TRENDS]:
        key = f"benchmark.{safe_key(b['name'])}"
        better = "higher" if b.get("direction", "higher_is_better") == "higher_is_better" else "lower"
        benches.append(
            {
                "title": f"{b['name']} ({better} is better)",
                "value_key": f"{key}.value",
                "threshold_key": f"{key}.threshold",
                "alarm_key": f"trend.{key}.value.alarm",
                "failed": _flagged(f"{key}.passed", 0.0),
            }
        )
    signals = [
        {
            "title": "drift.share (share of input columns that drifted)",
            "value_key": "drift.share",
            "threshold": drifting_share,
            "alarm_key": "trend.drift.share.alarm",
            "failed": lambda row: (
                drifting_share is not None and (row["metrics"].get("drift.share") or 0.0) >= drifting_share
            ),
        }
    ]
    score = next((c for c in (check.get("output_drift") or {}).get("columns") or [] if c["kind"] == "numeric"), None)
    if score is not None:
        key = f"output_drift.{safe_key(score['name'])}"
        signals.append(
            {
                "title": f"{key}.effect (output drift of the model's scores)",
                "value_key": f"{key}.effect",
                "threshold": score.get("effect_floor"),
                "alarm_key": f"trend.output_drift.{score['name']}.effect.alarm",
                "failed": _flagged(f"{key}.drift"),
            }
        )
    return benches, signals


def validation_section(check: Mapping[str, Any]) -> dict[str, Any]:
    """The data-validation summary (Great Expectations plus the interval checks) and the quarantine record."""
    summary = check.get("validation") or {}
    failures = []
    for severity, key in (("critical", "critical_failures"), ("warning", "warnings"), ("info", "infos")):
        for outcome in summary.get(key) or []:
            failures.append({"severity": outcome.get("severity") or severity, **outcome})
    quarantine = check.get("quarantine") or None
    return {
        "present": bool(summary),
        "suite": summary.get("suite"),
        "success": summary.get("success"),
        "evaluated": summary.get("evaluated"),
        "successful": summary.get("successful"),
        "success_percent": summary.get("success_percent"),
        "failures": failures,
        "quarantine": None
        if not quarantine
        else {k: quarantine.get(k) for k in ("path", "sha256", "bytes", "reason", "manifest_path")},
    }


def objective_change_section(check: Mapping[str, Any]) -> dict[str, Any] | None:
    """The objective's change since the last recorded night (the check's ``objective``), or None when unchanged.

    Examples
    --------
    >>> objective_change_section({"objective": {"fingerprint": "b" * 64, "changed_since_last_night": True,
    ...     "previous_fingerprint": "a" * 64,
    ...     "diff": [{"path": "benchmarks[r].floor", "change": "changed", "old": 0.65, "new": 0.55,
    ...               "text": "benchmarks[r].floor: 0.65 → 0.55"}]}})["rows"][0]["text"]
    'benchmarks[r].floor: 0.65 → 0.55'
    """
    objective = check.get("objective") or {}
    if not objective.get("changed_since_last_night"):
        return None
    rows = [
        {
            "path": str(entry.get("path", "")),
            "change": str(entry.get("change", "changed")),
            "text": str(entry.get("text") or entry.get("path", "")),
            "loosened": _loosened(entry),
        }
        for entry in objective.get("diff") or []
    ]
    return {
        "fingerprint": str(objective.get("fingerprint") or ""),
        "previous_fingerprint": str(objective.get("previous_fingerprint") or ""),
        "rows": rows,
    }


def _loosened(entry: Mapping[str, Any]) -> bool:
    """Whether a changed threshold now lets more through (a lower floor, a higher ceiling or gap)."""
    path = str(entry.get("path", ""))
    values = (entry.get("old"), entry.get("new"))
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return False
    old, new = (float(v) for v in values)  # type: ignore[arg-type]
    leaf = path.rsplit(".", 1)[-1]
    if leaf == "floor":  # a benchmark's floor: lower lets more through
        return bool(new < old)
    if leaf == "ceiling" or leaf.startswith("max_") or leaf.endswith("_effect_floor") or leaf == "drifting_share":
        return bool(new > old)
    return False
