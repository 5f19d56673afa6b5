"""The alignment spec of one model, and its loading from YAML with errors that name the field."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from alignment_drift.core.spec.arrival import ON_ARRIVAL, format_duration
from alignment_drift.core.spec.base import SpecError, Strict, Task
from alignment_drift.core.spec.benchmarks import Benchmark
from alignment_drift.core.spec.columns import ColumnRoles, Reference
from alignment_drift.core.spec.drift import DriftPolicy
from alignment_drift.core.spec.exposure import Exposure
from alignment_drift.core.spec.policies import Governance, RetrainingPolicy, VerdictRules
from alignment_drift.core.spec.reading import read_spec_data
from alignment_drift.core.spec.registry import ModelRegistry
from alignment_drift.core.spec.sources import LateLabels, Source
from alignment_drift.core.spec.tasks import TaskMismatch, task_defaults, task_problems

__all__ = ["AlignmentSpec", "SpecFailure", "SpecFolder", "load_spec", "load_spec_folder", "load_specs", "parse_spec"]

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_LISTED_PROBLEMS = 20
_SHOWN_VALUE = 120
_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly")


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

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value == ON_ARRIVAL or value in _PRESETS or len(value.split()) == 5:
            return value
        raise ValueError(
            f"the schedule must be '{ON_ARRIVAL}' (a night runs when its batch lands), one of {list(_PRESETS)} "
            f"or a cron expression of 5 fields; got {value!r}. Fix: e.g. '@daily', '0 2 * * *' or '{ON_ARRIVAL}'"
        )

    @model_validator(mode="after")
    def _arrival_has_a_wait(self) -> AlignmentSpec:
        if self.schedule == ON_ARRIVAL and not self.source.wait:
            raise ValueError(
                f"schedule '{ON_ARRIVAL}' needs source.wait: how long after a night ends its batch may still land "
                "(after that the night is checked without it and quarantined as missing). "
                "Fix: set source.wait, e.g. 'wait: 6h' (at most a day)"
            )
        return self

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
    def on_arrival(self) -> bool:
        """Whether a night runs when its batch lands (``schedule: on_arrival``) rather than on a clock."""
        return self.schedule == ON_ARRIVAL

    @property
    def night_schedule(self) -> str:
        """The schedule whose intervals are the nights: ``@daily`` for ``on_arrival``, else ``schedule``."""
        return "@daily" if self.on_arrival else self.schedule

    @property
    def wait_text(self) -> str:
        """``source.wait`` as text, e.g. ``2h``."""
        return format_duration(self.source.wait)

    @property
    def arrival_dag_id(self) -> str:
        return f"alignment_arrival__{self.model}"

    @property
    def arrival_asset(self) -> tuple[str, str]:
        """``(name, uri)`` of the asset whose events say a night's batch landed (``schedule: on_arrival``)."""
        return f"alignment_drift.{self.model}.batch_arrived", f"alignment-drift://{self.model}/batch-arrived"

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


def _shown(received: Any) -> str:
    if isinstance(received, dict):
        return "a mapping"
    if isinstance(received, list):
        return f"a list of {len(received)}"
    shown = repr(received)
    return shown if len(shown) <= _SHOWN_VALUE else f"{shown[:_SHOWN_VALUE]}... ({len(shown):,} characters)"


def _format_errors(path: Path, error: ValidationError) -> str:
    lines: list[str] = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if len(where) > _SHOWN_VALUE:
            where = where[:_SHOWN_VALUE] + "..."
        shown = _shown(item.get("input"))
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
    total = len(lines)
    if total > _LISTED_PROBLEMS:
        lines[_LISTED_PROBLEMS:] = [f"  - ... and {total - _LISTED_PROBLEMS} more."]
    lines.insert(0, f"{path}: the alignment spec is not valid ({total} problem(s)):")
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
    if data is None:
        raise SpecError(f"{path}: the spec is empty. Fix: write the spec's fields, starting with 'model: <name>'.")
    if not isinstance(data, dict):
        names: dict[type, str] = {list: "a list", str: "a single string", bool: "true/false"}
        got = names.get(type(data), "a number" if isinstance(data, int | float) else f"a {type(data).__name__}")
        raise SpecError(
            f"{path}: an alignment spec must be a YAML mapping at the top level; got {got}. "
            "Fix: write 'field: value' lines, starting with 'model: <name>'."
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
        When the file is missing, unreadable, too large, not UTF-8, not YAML,
        past a limit of :mod:`alignment_drift.core.spec.reading`, or does not
        validate; the message names the file and every failing field.
    """
    path = Path(path)
    spec = parse_spec(read_spec_data(path), path=path)
    if spec.model != path.stem:
        raise SpecError(
            f"{path}: the file name must match the model name: model is {spec.model!r}, "
            f"so name the file '{spec.model}.yaml'."
        )
    return spec


def _spec_files(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"{folder}: the specs folder does not exist. Set ALIGNMENT_DRIFT_SPECS_DIR or create it.")
    return sorted(folder.glob("*.yaml"))


def load_specs(folder: Path | str) -> list[AlignmentSpec]:
    """Load every ``*.yaml`` spec of a folder, sorted by model name; the first that does not load raises."""
    return [load_spec(p) for p in _spec_files(folder)]


@dataclass(frozen=True)
class SpecFailure:
    """A spec file that does not load, with the one :class:`SpecError` message that says why."""

    path: Path
    message: str

    @property
    def dag_model(self) -> str | None:
        """The model its DAGs would be named after (the file name), or None when that is not a model name."""
        return self.path.stem if _MODEL_NAME.match(self.path.stem) else None

    def to_dict(self) -> dict[str, str]:
        return {"path": str(self.path), "message": self.message}


@dataclass(frozen=True)
class SpecFolder:
    """Every spec of a folder: those that load, sorted by model, and those that do not."""

    specs: tuple[AlignmentSpec, ...]
    failures: tuple[SpecFailure, ...]


def load_spec_folder(folder: Path | str) -> SpecFolder:
    """Load every ``*.yaml`` spec of a folder, one broken spec never hiding the others.

    Parameters
    ----------
    folder : Path or str
        The specs folder.

    Returns
    -------
    SpecFolder
        The specs that load and, for each file that does not, its error.

    Raises
    ------
    SpecError
        When the folder itself does not exist.
    """
    specs: list[AlignmentSpec] = []
    failures: list[SpecFailure] = []
    for path in _spec_files(folder):
        try:
            specs.append(load_spec(path))
        except SpecError as error:
            failures.append(SpecFailure(path, str(error)))
    return SpecFolder(tuple(sorted(specs, key=lambda s: s.model)), tuple(failures))
