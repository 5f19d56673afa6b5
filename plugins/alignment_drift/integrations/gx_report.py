"""Reporting of a GX validation: outcomes per expectation, the summary by severity, strict JSON.

Kept apart from :mod:`alignment_drift.integrations.gx` (which loads suites and
runs GX) so that checks GX cannot express (e.g. the data-interval checks of
:mod:`alignment_drift.integrations.interval_checks`) report in the same shape without
importing GX.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SEVERITIES",
    "ExpectationOutcome",
    "ValidationSummary",
    "clip",
    "evidence_safe",
    "json_safe",
    "merge_outcomes",
    "outcome",
]

SEVERITIES = ("critical", "warning", "info")
DEFAULT_SEVERITY = "critical"  # what GX 1.x assigns when a suite gives none
MAX_TEXT = 200  # longest value quoted in a message
MAX_EVIDENCE_TEXT = 10_000  # longest string kept in the evidence JSON
_SKIP = {"column", "batch_id", "row_condition", "condition_parser"}


@dataclass(frozen=True)
class ExpectationOutcome:
    """Outcome of one expectation, flattened for logs, XCom and reports.

    Attributes
    ----------
    type, column, severity : str
        GX expectation type, column checked (``None`` for table expectations),
        and ``"critical"``, ``"warning"`` or ``"info"``.
    success : bool
        False if the expectation failed or raised while being evaluated.
    unexpected_percent, observed_value : float or None, Any
        Percent of non-null values breaking a column-map expectation; JSON-able
        observed value of an aggregate expectation.
    message : str
        What was expected and what was observed.
    """

    type: str
    column: str | None
    severity: str
    success: bool
    unexpected_percent: float | None
    observed_value: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class ValidationSummary:
    """Result of validating one batch against one suite.

    Attributes
    ----------
    suite : str
    success : bool
        True when no critical expectation failed; warnings do not count.
    evaluated, successful : int
        Expectations evaluated and passed, as counted by GX.
    critical_failures, warnings, infos : tuple of ExpectationOutcome
        Failed or errored expectations, by severity.
    """

    suite: str
    success: bool
    evaluated: int
    successful: int
    critical_failures: tuple[ExpectationOutcome, ...]
    warnings: tuple[ExpectationOutcome, ...]
    infos: tuple[ExpectationOutcome, ...] = ()

    @property
    def success_percent(self) -> float | None:
        """Share of evaluated expectations that passed, in percent (None when none ran)."""
        return 100.0 * self.successful / self.evaluated if self.evaluated else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (with ``success_percent``, which MLflow logs)."""
        out = asdict(self)
        for key in ("critical_failures", "warnings", "infos"):
            out[key] = list(out[key])
        out["success_percent"] = self.success_percent
        return out


def merge_outcomes(summary: ValidationSummary, extra: list[ExpectationOutcome]) -> ValidationSummary:
    """Add outcomes of checks run outside GX (e.g. the data-interval checks) to a GX summary."""
    failed = [o for o in extra if not o.success]
    critical = summary.critical_failures + tuple(o for o in failed if o.severity == "critical")
    return replace(
        summary,
        success=not critical,
        evaluated=summary.evaluated + len(extra),
        successful=summary.successful + len(extra) - len(failed),
        critical_failures=critical,
        warnings=summary.warnings + tuple(o for o in failed if o.severity == "warning"),
        infos=summary.infos + tuple(o for o in failed if o.severity == "info"),
    )


def clip(value: Any, limit: int = MAX_TEXT) -> Any:
    """Shorten long strings (also inside lists and dicts) so that messages and XComs stay small."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}…[{len(value) - limit} more characters]"
    if isinstance(value, list):
        return [clip(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: clip(v, limit) for k, v in value.items()}
    return value


def evidence_safe(value: Any) -> Any:
    """Strict JSON for the evidence file: :func:`json_safe`, strings over 10,000 characters shortened."""
    return clip(json_safe(value), MAX_EVIDENCE_TEXT)


def outcome(er: Any) -> ExpectationOutcome:
    """Flatten one GX ``ExpectationValidationResult`` into an :class:`ExpectationOutcome`."""
    cfg, result = er.expectation_config, er.result or {}
    kwargs = dict(cfg.kwargs)
    severity = getattr(cfg, "severity", None)  # a FailureSeverity enum in GX 1.24
    severity = str(getattr(severity, "value", severity) or DEFAULT_SEVERITY).lower()
    error = _exception_message(er.exception_info)
    unexpected = json_safe(result.get("unexpected_percent"))
    observed = clip(json_safe(result.get("observed_value")))
    success = bool(er.success) and error is None
    desc = _describe(cfg.type, kwargs)
    if error is not None:
        message = f"{desc}; it could not be evaluated: {error}"
    elif success:
        message = f"{desc}; passed"
    elif cfg.type == "expect_table_columns_to_match_set":
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
        message = f"{desc}; observed missing columns: {json_safe(missing)}"
    elif unexpected is not None:
        sample = clip([_shown(v) for v in (result.get("partial_unexpected_list") or [])[:5]])
        tolerated = 100.0 * (1.0 - float(kwargs.get("mostly") or 1.0))
        message = f"{desc}; observed {unexpected:.2f}% unexpected values (tolerated: {tolerated:.2f}%), e.g. {sample}"
    else:
        message = f"{desc}; observed {observed!r}"
    return ExpectationOutcome(
        type=str(cfg.type),
        column=kwargs.get("column"),
        severity=severity,
        success=success,
        unexpected_percent=None if unexpected is None else float(unexpected),
        observed_value=observed,
        message=message,
    )


def _shown(value: Any) -> Any:
    """A value as a message quotes it: JSON-safe, but infinities and NaN spelled out rather than null."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return str(float(value))
    return json_safe(value)


def _exception_message(info: Any) -> str | None:
    """Return the error of an expectation that raised, else ``None``."""
    # GX 1.24: {raised_exception, exception_message, ...} for an expectation that
    # ran; a dict of those keyed by metric id when a metric raised.
    if not isinstance(info, dict) or not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    messages = [
        str(e.get("exception_message") or "unknown error")
        for e in entries
        if isinstance(e, dict) and e.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _describe(kind: str, kw: dict[str, Any]) -> str:
    """Say what an expectation wants, e.g. "column 'score': expected values to be ..."."""
    args = ", ".join(f"{k}={json_safe(v)}" for k, v in kw.items() if k not in _SKIP)
    what = kind.removeprefix("expect_").removeprefix("column_").replace("_", " ")
    text = f"column '{kw['column']}'" if kw.get("column") else "table"
    text += f": expected {what}" + (f" ({args})" if args else "")
    cond = kw.get("row_condition")
    if isinstance(cond, dict) and cond.get("type") == "comparison":  # GX 1.x JSON
        name = (cond.get("column") or {}).get("name")
        cond = f"{name} {cond.get('operator')} {cond.get('parameter')!r}"
    elif isinstance(cond, dict):  # e.g. a deprecated string condition
        cond = cond.get("pass_through_filter") or cond
    return text + (f" where {cond}" if cond else "")


def json_safe(value: Any) -> Any:
    """Convert numpy, pandas, datetime and enum values to plain JSON (NaN -> None)."""
    value = value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)  # NaT becomes pd.NaT
    elif isinstance(value, (np.generic, np.ndarray)):
        return json_safe(value.tolist())
    if value is None or value is pd.NA or value is pd.NaT or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)
