"""Validate a night's prediction log with Great Expectations (GX Core 1.x).

A batch is validated the GX way: a ``Checkpoint`` runs the suite's
``ValidationDefinition`` (result format ``BASIC``: pass/fail, counts and a
sample of unexpected values), and the checkpoint's result can be rendered as
GX Data Docs (see :mod:`alignment_drift.integrations.gx_docs`). A batch on
which an expectation fails is validated again through a second checkpoint of
the suite with result format ``SUMMARY``, whose result (with the unexpected
values' counts and row indices) is the one reported. ``SUMMARY`` on every
batch cost GX a copy of the whole frame per column expectation (its
unexpected-index metrics filter every column); on a batch that passes there is
nothing for them to show.
GX is imported lazily (the import costs seconds). The ephemeral context, its
pandas batch definition and, per loaded suite, the suite with its validation
definition and checkpoint are cached per process; suites are keyed by resolved
path, mtime and size, so an edited suite file is reloaded without a restart.
The context keeps no validation result once it is reported, so a long-lived
worker does not grow. Outcomes and summaries are built by
:mod:`alignment_drift.integrations.gx_report`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_drift.integrations.gx_report import (
    DEFAULT_SEVERITY,
    SEVERITIES,
    ExpectationOutcome,
    ValidationSummary,
    evidence_safe,
    outcome,
)

__all__ = [
    "SEVERITIES",
    "ExpectationOutcome",
    "SuiteLoadError",
    "ValidationSummary",
    "cache_info",
    "load_suite",
    "validate_dataframe",
]

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {"context": None, "batch_definition": None}
_SUITES: dict[tuple[str, int, int], _Validation] = {}
_COUNTERS = {"context_creations": 0, "suite_loads": 0}
#: The name of a suite's second checkpoint (result format ``SUMMARY``, run on a batch that failed an expectation)
#: is the suite's name plus this; a suite's own name may not end with it.
DETAILS_SUFFIX = " (details)"


class SuiteLoadError(ValueError):
    """An expectation suite file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class _Validation:
    """One loaded suite as GX objects of the cached context: the suite, its validation definition, its checkpoints.

    ``checkpoint`` validates every batch (``BASIC``); ``details`` validates again a batch on which an
    expectation failed (``SUMMARY``).
    """

    suite: Any
    definition: Any
    checkpoint: Any
    details: Any


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
    elif any(c in data["name"] for c in "/\\") or data["name"].strip(".") == "":
        problems.append("'name' must not contain '/' or '\\' nor be only dots (GX files its results under it)")
    elif data["name"].endswith(DETAILS_SUFFIX):
        problems.append(
            f"'name' must not end with {DETAILS_SUFFIX!r}: that name is kept for the checkpoint that reports "
            "a failing batch in detail"
        )
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        return [*problems, "'expectations' must be a non-empty list"]
    for i, exp in enumerate(expectations):
        exp = exp if isinstance(exp, dict) else {}
        if not str(exp.get("type", "")).startswith("expect_"):
            problems.append(f"expectations[{i}].type must be an 'expect_...' name")
        if not isinstance(exp.get("kwargs", {}), dict):
            problems.append(f"expectations[{i}].kwargs must be an object")
        if exp.get("severity", DEFAULT_SEVERITY) not in SEVERITIES:
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
            for site in list(ctx.list_data_docs_sites()):  # GX's default site writes to a temporary folder
                ctx.delete_data_docs_site(site)
            _STATE["batch_definition"] = (
                ctx.data_sources.add_pandas("alignment_drift")
                .add_dataframe_asset("prediction_log")
                .add_batch_definition_whole_dataframe("whole_batch")
            )
            _STATE["context"] = ctx
            _COUNTERS["context_creations"] += 1
        return _STATE["context"], _STATE["batch_definition"]


def _get_suite(path: Path) -> _Validation:
    """Return the cached suite of ``path`` with its validation definition and checkpoint, reloaded on change."""
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
            ctx, batch_definition = _get_context()  # GX wants a project context before building suites
            import great_expectations as gx

            try:
                suite = gx.ExpectationSuite(**data)
            except Exception as exc:  # GX raises many types for a bad expectation
                raise SuiteLoadError(
                    f"GX rejected expectation suite {path}: {exc}. Fix: check the "
                    "expectation types and kwargs against the GX 1.x gallery."
                ) from exc
            # one suite of a name in the context: a reloaded file, or another file of the same name, replaces it
            for stale in [k for k, v in _SUITES.items() if k[0] == resolved or v.suite.name == suite.name]:
                _forget(ctx, _SUITES.pop(stale))
            suite = ctx.suites.add(suite)
            definition = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
            )
            checkpoint = ctx.checkpoints.add(
                gx.Checkpoint(name=suite.name, validation_definitions=[definition], result_format="BASIC")
            )
            details = ctx.checkpoints.add(
                gx.Checkpoint(
                    name=_details_name(suite.name), validation_definitions=[definition], result_format="SUMMARY"
                )
            )
            _SUITES[key] = _Validation(suite, definition, checkpoint, details)
            _COUNTERS["suite_loads"] += 1
        return _SUITES[key]


def _release_batch() -> None:
    """Drop the validated frame from the cached context's execution engine (GX keeps the last batch's data).

    Without this the whole batch stayed alive for the rest of the process: at 1M rows the night's
    later steps ran with the validated frame (hundreds of MB) still held.
    """
    batch_definition = _STATE["batch_definition"]
    if batch_definition is None:
        return
    manager = batch_definition.data_asset.datasource.get_execution_engine().batch_manager
    manager.batch_data_cache.clear()
    manager.reset_batch_cache()


def _details_name(suite_name: str) -> str:
    return f"{suite_name}{DETAILS_SUFFIX}"


def _forget(ctx: Any, validation: _Validation) -> None:
    """Remove a replaced suite's checkpoints, validation definition and suite from the context."""
    ctx.checkpoints.delete(name=validation.checkpoint.name)
    ctx.checkpoints.delete(name=validation.details.name)
    ctx.validation_definitions.delete(name=validation.definition.name)
    ctx.suites.delete(name=validation.suite.name)


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


def validate_dataframe(
    df: pd.DataFrame, suite_path: Path, *, data_docs: Path | None = None, run_name: str | None = None
) -> tuple[ValidationSummary, dict[str, Any]]:
    """Validate a batch with the suite stored at ``suite_path``, through the suite's GX checkpoint.

    Parameters
    ----------
    df : pandas.DataFrame
        The batch, e.g. one night's prediction log.
    suite_path : Path
        GX suite JSON file, see :func:`load_suite`.
    data_docs : Path, optional
        Folder of a GX Data Docs site to add this validation to (its ``index.html``, the suite's page
        and the validation's page); nothing is written outside it. A site that cannot be built is
        logged and left out: the validation stands.
    run_name : str, optional
        The GX run name the result (and its Data Docs page) is filed under, e.g. the night's interval.

    Returns
    -------
    summary : ValidationSummary
        Pass/fail by severity with readable messages.
    full_result : dict
        GX's ``to_json_dict()`` of the validation result, made strictly JSON-safe: result format
        ``BASIC`` when every expectation passed, else ``SUMMARY`` (the batch validated again).

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
    validation = _get_suite(Path(suite_path))
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    with _LOCK:
        ctx = _get_context()[0]
        results: list[Any] = []
        try:
            for checkpoint in (validation.checkpoint, validation.details):
                results.append(checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id))
                ((result_id, result),) = results[-1].run_results.items()
                if result.success:  # nothing failed: the details would show nothing more
                    break
            if data_docs is not None:
                from alignment_drift.integrations.gx_docs import build_site

                build_site(ctx, Path(data_docs), result_id, validation.suite.name)
        finally:  # the context keeps no result: a long-lived worker does not grow
            for key in {key for checkpoint_result in results for key in checkpoint_result.run_results}:
                ctx.validation_results_store.remove_key(key)
            _release_batch()
    failed = [o for o in map(outcome, result.results) if not o.success]
    critical = tuple(o for o in failed if o.severity == "critical")
    summary = ValidationSummary(
        suite=str(validation.suite.name),
        success=not critical,
        evaluated=int(result.statistics["evaluated_expectations"]),
        successful=int(result.statistics["successful_expectations"]),
        critical_failures=critical,
        warnings=tuple(o for o in failed if o.severity == "warning"),
        infos=tuple(o for o in failed if o.severity == "info"),
    )
    return summary, evidence_safe(result.to_json_dict())
