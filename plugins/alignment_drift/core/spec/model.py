"""The alignment spec of one model, and its loading from YAML with errors that name the field."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from alignment_drift.core.spec.base import SpecError, Strict, Task
from alignment_drift.core.spec.benchmarks import Benchmark
from alignment_drift.core.spec.columns import ColumnRoles, Reference
from alignment_drift.core.spec.drift import DriftPolicy
from alignment_drift.core.spec.exposure import Exposure
from alignment_drift.core.spec.policies import Governance, RetrainingPolicy, VerdictRules
from alignment_drift.core.spec.registry import ModelRegistry
from alignment_drift.core.spec.sources import LateLabels, Source
from alignment_drift.core.spec.tasks import TaskMismatch, task_defaults, task_problems

__all__ = ["AlignmentSpec", "load_spec", "load_specs", "parse_spec"]

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class AlignmentSpec(Strict):
    """The intended behaviour of one monitored model.

    ``task`` (``binary``, the default, ``multiclass`` or ``regression``) says
    what the model predicts; the column roles, metrics, benchmarks, exposure
    rule and estimator must fit it (see ``docs/tasks.md``).
    """

    model: str
    task: Task = "binary"
    description: str = ""
    owner: str = ""
    schedule: str = "@daily"
    start_date: dt.date
    source: Source
    labels: LateLabels | None = None
    expectations: str
    columns: ColumnRoles
    exposure: Exposure
    reference: Reference
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    benchmarks: Annotated[list[Benchmark], Field(min_length=1)]
    verdict: VerdictRules = Field(default_factory=VerdictRules)
    retraining: RetrainingPolicy = Field(default_factory=RetrainingPolicy)
    governance: Governance = Field(default_factory=Governance)
    registry: ModelRegistry = Field(default_factory=ModelRegistry)

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not _MODEL_NAME.match(value):
            raise ValueError(
                "the model name must be lower-case letters, digits and '_', starting with a letter "
                f"(it names DAGs, MLflow experiments and files); got {value!r}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        return task_defaults(data)

    @model_validator(mode="after")
    def _fits_task(self) -> AlignmentSpec:
        problems = task_problems(self)
        if problems:
            raise TaskMismatch(self.task, problems)
        return self

    @model_validator(mode="after")
    def _unique_benchmark_names(self) -> AlignmentSpec:
        names = [b.name for b in self.benchmarks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"benchmark names must be unique; repeated: {duplicates}")
        if any(b.kind == "proxy_target_gap" for b in self.benchmarks) and not self.columns.proxy:
            raise ValueError("a proxy_target_gap benchmark needs columns.proxy to name the proxy label")
        return self

    @model_validator(mode="after")
    def _runtime_rules_name_features(self) -> AlignmentSpec:
        self.governance.runtime.check_columns(self.columns)
        return self

    @property
    def monitor_dag_id(self) -> str:
        return f"alignment_monitor__{self.model}"

    @property
    def retrain_dag_id(self) -> str:
        return f"alignment_retrain__{self.model}"

    @property
    def retrain_request_asset(self) -> tuple[str, str]:
        """``(name, uri)`` of the Airflow asset whose events are this model's retrain requests."""
        return f"alignment_drift.{self.model}.retrain_request", f"alignment-drift://{self.model}/retrain-request"

    @property
    def experiment_name(self) -> str:
        return f"alignment-drift/{self.model}"

    @property
    def registered_model_name(self) -> str:
        return self.model


def _format_errors(path: Path, error: ValidationError) -> str:
    lines: list[str] = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        received = item.get("input")
        shown = repr(received) if not isinstance(received, dict) else "a mapping"
        mismatch = item.get("ctx", {}).get("error")
        if isinstance(mismatch, TaskMismatch):
            for field, problem in mismatch.problems:
                lines.append(f"  - {field}: does not fit task {mismatch.task!r}: {problem}.")
        elif item["type"] == "missing":
            lines.append(f"  - {where}: this field is required but missing.")
        elif item["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown field (check its spelling and indentation).")
        else:
            lines.append(f"  - {where}: {item['msg']}. Got {shown}.")
    lines.insert(0, f"{path}: the alignment spec is not valid ({len(lines)} problem(s)):")
    lines.append("See the 'Alignment spec' section of the README for every field and its allowed values.")
    return "\n".join(lines)


def parse_spec(data: Any, *, path: Path | str = "<spec>") -> AlignmentSpec:
    """Validate an already-parsed spec mapping.

    Parameters
    ----------
    data : Any
        The mapping read from YAML.
    path : Path or str, default="<spec>"
        Where it came from, for error messages.

    Returns
    -------
    AlignmentSpec
    """
    path = Path(path)
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: an alignment spec must be a YAML mapping at the top level; got {type(data).__name__}."
        )
    try:
        return AlignmentSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(_format_errors(path, error)) from None


def load_spec(path: Path | str) -> AlignmentSpec:
    """Load and validate one alignment spec from a YAML file.

    Parameters
    ----------
    path : Path or str
        The YAML file.

    Returns
    -------
    AlignmentSpec

    Raises
    ------
    SpecError
        When the file is missing, is not YAML, or does not validate; the message
        names the file and every failing field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such alignment spec file. Check the path or the specs folder.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    spec = parse_spec(data, path=path)
    if spec.model != path.stem:
        raise SpecError(
            f"{path}: the file name must match the model name: model is {spec.model!r}, "
            f"so name the file '{spec.model}.yaml'."
        )
    return spec


def load_specs(folder: Path | str) -> list[AlignmentSpec]:
    """Load every ``*.yaml`` spec of a folder, sorted by model name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"{folder}: the specs folder does not exist. Set ALIGNMENT_DRIFT_SPECS_DIR or create it.")
    return [load_spec(p) for p in sorted(folder.glob("*.yaml"))]
