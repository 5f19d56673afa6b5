"""Validate a night's prediction log with Great Expectations (GX Core 1.x).

GX is called directly and imported lazily (the import costs seconds). The
ephemeral context, its pandas batch definition and each loaded suite are cached
per process; suites are keyed by resolved path, mtime and size, so an edited
suite file is reloaded without a restart.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import enum
import json
import math
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEVERITIES = ("critical", "warning", "info")
_DEFAULT_SEVERITY = "critical"  # what GX 1.x assigns when a suite gives none
_LOCK = threading.RLock()
_STATE: dict[str, Any] = {"context": None, "batch_definition": None}
_SUITES: dict[tuple[str, int, int], Any] = {}
_COUNTERS = {"context_creations": 0, "suite_loads": 0}
_SKIP = {"column", "batch_id", "row_condition", "condition_parser"}


class SuiteLoadError(ValueError):
    """An expectation suite file is missing, unreadable or malformed."""


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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        out = asdict(self)
        for key in ("critical_failures", "warnings", "infos"):
            out[key] = list(out[key])
        return out


def load_suite(path: Path) -> dict[str, Any]:
    """Read a GX suite JSON file and check its structure.

    Parameters
    ----------
    path : Path
        Suite file with keys ``name``, ``expectations`` and optional ``meta``.

    Returns
    -------
    dict
        The parsed suite, as stored.

    Raises
    ------
    SuiteLoadError
        If the file is missing, unreadable, not JSON or not shaped like a suite.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteLoadError(
            f"Expectation suite {path} is not valid JSON: {exc.msg} at line "
            f"{exc.lineno}, column {exc.colno}. Fix: correct the JSON "
            "(check it with `python -m json.tool`)."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else f"({exc})"
        raise SuiteLoadError(
            f"Expectation suite file {path} {why}. Fix: pass the path of a readable "
            "UTF-8 GX suite JSON (e.g. expectations/content_safety_predictions.json)."
        ) from exc
    problems = _suite_problems(data)
    if problems:
        raise SuiteLoadError(
            f"Expectation suite {path} is malformed: {'; '.join(problems)}. Fix: use "
            "the GX 1.x layout {name, expectations: [{type, kwargs, meta, severity}]}."
        )
    return data


def _suite_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return [f"the top level is a {type(data).__name__}, not an object"]
    problems = []
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append("'name' must be a non-empty string")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        return [*problems, "'expectations' must be a non-empty list"]
    for i, exp in enumerate(expectations):
        exp = exp if isinstance(exp, dict) else {}
        if not str(exp.get("type", "")).startswith("expect_"):
            problems.append(f"expectations[{i}].type must be an 'expect_...' name")
        if not isinstance(exp.get("kwargs", {}), dict):
            problems.append(f"expectations[{i}].kwargs must be an object")
        if exp.get("severity", _DEFAULT_SEVERITY) not in SEVERITIES:
            problems.append(f"expectations[{i}].severity must be in {SEVERITIES}")
    return problems


def _get_context() -> tuple[Any, Any]:
    """Return the cached ephemeral GX context and its pandas batch definition."""
    with _LOCK:
        if _STATE["context"] is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            _STATE["batch_definition"] = (
                ctx.data_sources.add_pandas("alignment_drift")
                .add_dataframe_asset("prediction_log")
                .add_batch_definition_whole_dataframe("whole_batch")
            )
            _STATE["context"] = ctx
            _COUNTERS["context_creations"] += 1
        return _STATE["context"], _STATE["batch_definition"]


def _get_suite(path: Path) -> Any:
    """Return the cached ``gx.ExpectationSuite`` for ``path``, reloaded on change."""
    try:
        stat = path.stat()
    except OSError:
        load_suite(path)  # raises a SuiteLoadError naming the file and the fix
        raise
    resolved = str(path.resolve())
    key = (resolved, stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        if key not in _SUITES:
            data = _prepare(load_suite(path))
            _get_context()  # GX wants a project context before building suites
            import great_expectations as gx

            try:
                suite = gx.ExpectationSuite(**data)
            except Exception as exc:  # GX raises many types for a bad expectation
                raise SuiteLoadError(
                    f"GX rejected expectation suite {path}: {exc}. Fix: check the "
                    "expectation types and kwargs against the GX 1.x gallery."
                ) from exc
            for stale in [k for k in _SUITES if k[0] == resolved]:
                del _SUITES[stale]
            _SUITES[key] = suite
            _COUNTERS["suite_loads"] += 1
        return _SUITES[key]


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """Drop stored ids; turn ISO-string bounds into ``datetime`` (pandas 3 needs it)."""
    data = copy.deepcopy(data)
    data.pop("id", None)
    for exp in data["expectations"]:
        exp.pop("id", None)
        kwargs = exp.setdefault("kwargs", {})
        for key in ("min_value", "max_value"):
            if isinstance(kwargs.get(key), str):
                with contextlib.suppress(ValueError):
                    kwargs[key] = dt.datetime.fromisoformat(kwargs[key])
    return data


def cache_info() -> dict[str, int]:
    """Return how often this process built a GX context and loaded suites."""
    with _LOCK:
        return {**_COUNTERS, "cached_suites": len(_SUITES)}


def validate_dataframe(df: pd.DataFrame, suite_path: Path) -> tuple[ValidationSummary, dict[str, Any]]:
    """Validate a batch with the suite stored at ``suite_path``.

    Parameters
    ----------
    df : pandas.DataFrame
        The batch, e.g. one night's prediction log.
    suite_path : Path
        GX suite JSON file, see :func:`load_suite`.

    Returns
    -------
    summary : ValidationSummary
        Pass/fail by severity with readable messages.
    full_result : dict
        GX's ``to_json_dict()`` of the validation result, made strictly JSON-safe.

    Raises
    ------
    TypeError
        If ``df`` is not a pandas DataFrame.
    SuiteLoadError
        If the suite cannot be loaded.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"validate_dataframe expects a pandas DataFrame, got {type(df).__name__}. "
            "Fix: load the batch with pandas (e.g. pd.read_parquet) first."
        )
    suite = _get_suite(Path(suite_path))
    with _LOCK:
        batch = _get_context()[1].get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(suite, result_format="SUMMARY")
    failed = [o for o in map(_outcome, result.results) if not o.success]
    critical = tuple(o for o in failed if o.severity == "critical")
    summary = ValidationSummary(
        suite=str(suite.name),
        success=not critical,
        evaluated=int(result.statistics["evaluated_expectations"]),
        successful=int(result.statistics["successful_expectations"]),
        critical_failures=critical,
        warnings=tuple(o for o in failed if o.severity == "warning"),
        infos=tuple(o for o in failed if o.severity == "info"),
    )
    return summary, _json_safe(result.to_json_dict())


def _outcome(er: Any) -> ExpectationOutcome:
    cfg, result = er.expectation_config, er.result or {}
    kwargs = dict(cfg.kwargs)
    severity = getattr(cfg, "severity", None)  # a FailureSeverity enum in GX 1.24
    severity = str(getattr(severity, "value", severity) or _DEFAULT_SEVERITY).lower()
    error = _exception_message(er.exception_info)
    unexpected = _json_safe(result.get("unexpected_percent"))
    observed = _json_safe(result.get("observed_value"))
    success = bool(er.success) and error is None
    desc = _describe(cfg.type, kwargs)
    if error is not None:
        message = f"{desc}; it could not be evaluated: {error}"
    elif success:
        message = f"{desc}; passed"
    elif cfg.type == "expect_table_columns_to_match_set":
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
        message = f"{desc}; observed missing columns: {_json_safe(missing)}"
    elif unexpected is not None:
        sample = _json_safe(result.get("partial_unexpected_list") or [])[:5]
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
    args = ", ".join(f"{k}={_json_safe(v)}" for k, v in kw.items() if k not in _SKIP)
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


def _json_safe(value: Any) -> Any:
    """Convert numpy, pandas, datetime and enum values to plain JSON (NaN -> None)."""
    value = value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)  # NaT becomes pd.NaT
    elif isinstance(value, (np.generic, np.ndarray)):
        return _json_safe(value.tolist())
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
