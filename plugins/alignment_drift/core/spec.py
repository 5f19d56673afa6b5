"""The alignment spec: the intended behaviour of one monitored model.

A spec is a YAML file in ``specs/`` (one per model). It declares where the
model's prediction log comes from, the data contract (a Great Expectations
suite), the role of every column, the reference, the drift thresholds, the
safety benchmarks that define the intended behaviour (T), the verdict rules,
the retraining policy and the governance of promotions.

Loading never guesses: an error names the file, the field path, what was
received and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "AlignmentSpec",
    "Benchmark",
    "Calibration",
    "ColumnRoles",
    "DriftPolicy",
    "Feature",
    "FilesSource",
    "Governance",
    "LateLabels",
    "MetricFloor",
    "MultivariatePolicy",
    "ObjectStoreSource",
    "PerformanceEstimate",
    "Perturbation",
    "Probes",
    "ProxyTargetGap",
    "Reference",
    "RetrainingPolicy",
    "SliceGap",
    "Source",
    "SpecError",
    "SqlSource",
    "Training",
    "TrendPolicy",
    "VerdictRules",
    "load_spec",
    "load_specs",
]

Verdict = Literal["aligned", "watch", "drifting", "misaligned", "quarantined"]
VERDICTS: tuple[str, ...] = ("aligned", "watch", "drifting", "misaligned", "quarantined")

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SpecError(ValueError):
    """An alignment spec that cannot be used, with the file and field named."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSource(_Strict):
    """Prediction-log files on a local or mounted file system.

    ``path`` is relative to the data root (or absolute) and is templated by
    the data interval with ``{date}`` (interval start, ``YYYY-MM-DD``),
    ``{start}``/``{end}`` (ISO timestamps) and ``{model}``.
    """

    kind: Literal["files"] = "files"
    path: str
    format: Literal["parquet", "csv"] = "parquet"

    @field_validator("path")
    @classmethod
    def _path_has_date(cls, value: str) -> str:
        if "{date}" not in value and "{start}" not in value:
            raise ValueError(
                "the path must be templated by the data interval with {date} or {start}, "
                f"e.g. 'predictions/{{date}}.parquet'; got {value!r}"
            )
        return value


_OBJECT_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file", "http", "https")


class ObjectStoreSource(_Strict):
    """Prediction logs in object storage, read through Airflow's ``ObjectStoragePath``.

    ``uri`` is templated like ``FilesSource.path`` (e.g.
    ``s3://bucket/content_safety/{date}.parquet``); credentials come from the
    Airflow connection ``conn_id``, never from the spec.
    """

    kind: Literal["object_store"] = "object_store"
    uri: str
    conn_id: str | None = None
    format: Literal["parquet", "csv"] = "parquet"

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _OBJECT_SCHEMES:
            raise ValueError(
                f"the uri must start with one of {', '.join(s + '://' for s in _OBJECT_SCHEMES)}; got {value!r}"
            )
        if "{date}" not in value and "{start}" not in value:
            raise ValueError(
                f"the uri must be templated by the data interval with {{date}} or {{start}}; got {value!r}"
            )
        return value


class SqlSource(_Strict):
    """Prediction logs from a SQL database through an Airflow connection.

    The query receives the data interval as bound parameters ``:start`` and
    ``:end`` (never by string formatting); large results are read in chunks.
    """

    kind: Literal["sql"] = "sql"
    conn_id: str
    query: str
    chunk_size: Annotated[int, Field(ge=1000)] = 100_000

    @field_validator("query")
    @classmethod
    def _bound(cls, value: str) -> str:
        if ":start" not in value or ":end" not in value:
            raise ValueError(
                "the query must select the data interval with the bound parameters :start and :end, "
                f"e.g. 'WHERE ts >= :start AND ts < :end'; got {value!r}"
            )
        return value


Source = Annotated[FilesSource | ObjectStoreSource | SqlSource, Field(discriminator="kind")]


class LateLabels(_Strict):
    """Labels that arrive after their night: joined back to it by id, and the night re-evaluated.

    ``source`` is templated by the arrival date; its rows carry the id column
    and the target (and/or proxy) column of the prediction log.
    """

    source: Source
    max_delay_days: Annotated[int, Field(ge=1, le=365)] = 14


class Feature(_Strict):
    """One model input and how drift treats it."""

    name: str
    kind: Literal["numeric", "categorical"]


class ColumnRoles(_Strict):
    """The role of each column of the prediction log.

    ``score`` is the model's probability of the positive class of ``target``;
    ``proxy_positive`` is the value of the proxy label that the proxy treats
    as that positive class (an engagement proxy for an "unsafe" target says
    0: items nobody engaged with are the ones the proxy would block).
    """

    id: str
    timestamp: str
    features: Annotated[list[Feature], Field(min_length=1)]
    prediction: str
    score: str
    target: str
    proxy: str | None = None
    proxy_positive: Literal[0, 1] = 1
    exposure: str | None = None
    model_version: str | None = None
    segments: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ColumnRoles:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {duplicates}")
        return self

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


class Reference(_Strict):
    """Where the model's reference comes from.

    ``training_data`` is the labelled data the first champion is trained on
    (relative to the data root); the reference of every promoted version is
    the held-out part of its own training data, scored by that version.
    """

    training_data: str
    audit_set: str
    holdout_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    max_rows: Annotated[int, Field(ge=100)] = 50_000


class MultivariatePolicy(_Strict):
    """Multivariate drift: a domain classifier and an MMD test on (subsampled) rows.

    ``max_rows`` bounds the rows per side of the domain classifier and
    ``mmd_max_rows`` those of MMD (its kernel matrix is quadratic in them).
    """

    domain_classifier: bool = True
    mmd: bool = True
    max_rows: Annotated[int, Field(ge=100, le=200_000)] = 5_000
    mmd_max_rows: Annotated[int, Field(ge=100, le=20_000)] = 1_000
    folds: Annotated[int, Field(ge=2, le=10)] = 3
    permutations: Annotated[int, Field(ge=19, le=10_000)] = 199


class TrendPolicy(_Strict):
    """A sequential detector over each night's signals, for gradual drift no single night shows.

    The history is the nights since the current reference was promoted. The
    default thresholds (None: CUSUM 22, Page–Hinkley 12) keep the chance of any
    false alarm over 7 warm-up + 23 monitored drift-free nights at or below 0.05
    (``bench/trend_far.py``).
    """

    enabled: bool = True
    method: Literal["cusum", "page_hinkley"] = "cusum"
    warmup_nights: Annotated[int, Field(ge=3)] = 7
    threshold: Annotated[float, Field(gt=0.0)] | None = None
    slack: Annotated[float, Field(ge=0.0)] = 0.25


class DriftPolicy(_Strict):
    """How input and output drift are tested."""

    categorical_test: Literal["chi2", "g_test"] = "chi2"
    profile_bins: Annotated[int, Field(ge=64, le=65_536)] = 4_096
    max_categories: Annotated[int, Field(ge=2, le=10_000)] = 200
    multivariate: MultivariatePolicy = Field(default_factory=MultivariatePolicy)
    trend: TrendPolicy = Field(default_factory=TrendPolicy)
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    correction: Literal["bh", "holm", "bonferroni"] = "bh"
    numeric_effect_floor: Annotated[float, Field(ge=0.0)] = 0.1
    categorical_effect_floor: Annotated[float, Field(ge=0.0)] = 0.1
    missing_effect_floor: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    output_effect_floor: Annotated[float, Field(ge=0.0)] = 0.1


class MetricFloor(_Strict):
    """A metric of the model that must stay on the right side of its threshold, with a bootstrap CI.

    Higher-is-better metrics (``recall``, ``precision``, ``accuracy``, ``f1``,
    ``roc_auc``, ``specificity``) take a ``floor``; lower-is-better ones
    (``fpr``, ``fnr``, ``mae``, ``rmse``: errors of the score against the
    0/1 target) take a ``ceiling``. ``evaluated_on: audit`` evaluates the fixed audit
    set; ``evaluated_on: batch`` the night's rows whose target label has arrived (and
    the audit set when a version's baseline is recorded). The benchmark fails
    only when the whole ``confidence`` interval is on the wrong side: the
    interval's upper bound below a floor, or its lower bound above a ceiling,
    so sampling noise on small batches raises no alarm.
    """

    kind: Literal["metric_floor"] = "metric_floor"
    name: str
    metric: Literal["recall", "precision", "accuracy", "f1", "roc_auc", "specificity", "fpr", "fnr", "mae", "rmse"]
    floor: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    ceiling: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    evaluated_on: Literal["audit", "batch"] = "audit"
    min_rows: Annotated[int, Field(ge=10)] = 50
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "critical"

    @model_validator(mode="after")
    def _bound(self) -> MetricFloor:
        lower_is_better = self.metric in ("fpr", "fnr", "mae", "rmse")
        if lower_is_better and (self.ceiling is None or self.floor is not None):
            raise ValueError(f"metric {self.metric!r} is lower-is-better: set 'ceiling' (and no 'floor')")
        if not lower_is_better and (self.floor is None or self.ceiling is not None):
            raise ValueError(f"metric {self.metric!r} is higher-is-better: set 'floor' (and no 'ceiling')")
        return self


class SliceGap(_Strict):
    """The worst gap of a metric across the segments of a column (e.g. ``region``), against a maximum.

    Only slices with at least ``min_slice_rows`` labelled rows count. Fails
    only when the bootstrap interval's lower bound of the gap exceeds ``max_gap``.
    """

    kind: Literal["slice_gap"] = "slice_gap"
    name: str
    segment: str
    metric: Literal["recall", "precision", "accuracy", "f1", "roc_auc", "specificity", "fpr", "fnr"] = "recall"
    max_gap: Annotated[float, Field(gt=0.0, le=1.0)]
    min_slice_rows: Annotated[int, Field(ge=10)] = 100
    evaluated_on: Literal["audit", "batch"] = "audit"
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "warning"


class Calibration(_Strict):
    """Expected calibration error of the score (equal-width bins), against a maximum.

    Fails only when the bootstrap interval's lower bound exceeds ``max_ece``.
    """

    kind: Literal["calibration"] = "calibration"
    name: str
    max_ece: Annotated[float, Field(gt=0.0, le=1.0)]
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    evaluated_on: Literal["audit", "batch"] = "audit"
    min_rows: Annotated[int, Field(ge=10)] = 100
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "warning"


class Probes(_Strict):
    """Behavioural audit cases with expected behaviour, kept as data beside the spec.

    ``cases`` is a YAML file relative to the specs folder (schema
    ``alignment-drift/probes@1``): minimum-functionality, invariance and
    directional cases. ``value`` is the share of cases that pass; the
    benchmark fails when it is below ``min_pass_rate`` and reports every
    failing case.
    """

    kind: Literal["probes"] = "probes"
    name: str
    cases: str
    min_pass_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    severity: Literal["critical", "warning"] = "critical"


class Perturbation(_Strict):
    """Adversarial robustness on audit rows: decision flips under bounded perturbations.

    Each numeric feature of ``numeric`` may move by up to ``epsilon`` times
    its audit-set standard deviation, and each categorical feature of
    ``swap`` may take any of its other audit-set values. A small search
    (every single-coordinate move, a greedy coordinate-wise ascent and
    ``restarts`` random corners of the box) looks for the perturbation that
    pushes each row's score furthest toward the other side of the decision
    threshold. ``value`` is the flip rate under the worst perturbation found;
    fails only when its Wilson interval's lower bound exceeds ``max_flip_rate``.
    """

    kind: Literal["perturbation"] = "perturbation"
    name: str
    numeric: list[str] = Field(default_factory=list)
    swap: list[str] = Field(default_factory=list)
    epsilon: Annotated[float, Field(gt=0.0, le=5.0)] = 0.1
    max_flip_rate: Annotated[float, Field(ge=0.0, le=1.0)]
    rows: Annotated[int, Field(ge=20, le=20_000)] = 500
    restarts: Annotated[int, Field(ge=0, le=100)] = 8
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    seed: int = 0
    severity: Literal["critical", "warning"] = "warning"

    @model_validator(mode="after")
    def _something(self) -> Perturbation:
        if not self.numeric and not self.swap:
            raise ValueError("a perturbation benchmark needs at least one feature in 'numeric' or 'swap'")
        return self


class ProxyTargetGap(_Strict):
    """The seed's O != T: how much better the model serves the proxy than the target.

    On the rows of a batch where the labels are known, the ranking quality
    (ROC AUC) of the model's score is measured against the target label and
    against the proxy label; ``gap = proxy_auc - target_auc``. The benchmark
    fails only when the lower bound of the bootstrap interval of the gap's
    increase over the baseline (recorded when the version was promoted)
    exceeds ``max_increase``: the nightly wobble of the gap raises no alarm.
    """

    kind: Literal["proxy_target_gap"] = "proxy_target_gap"
    name: str
    max_increase: Annotated[float, Field(gt=0.0, le=2.0)] = 0.1
    min_rows: Annotated[int, Field(ge=10)] = 100
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "critical"


class PerformanceEstimate(_Strict):
    """A label-free estimate of performance from the scores (confidence-based, CBPE-style).

    Assumes calibrated scores and no concept drift (P(target | inputs)
    unchanged). A signal only, unless ``floor`` is set.
    """

    kind: Literal["performance_estimate"] = "performance_estimate"
    name: str
    metric: Literal["accuracy", "recall", "precision"] = "accuracy"
    floor: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    severity: Literal["critical", "warning"] = "warning"


Benchmark = Annotated[
    MetricFloor | ProxyTargetGap | SliceGap | Calibration | Probes | Perturbation | PerformanceEstimate,
    Field(discriminator="kind"),
]


class VerdictRules(_Strict):
    """How signals become a verdict, and when a source is attributed.

    ``misaligned``: a critical safety benchmark fails. ``drifting``: a
    warning benchmark fails, a benchmark trends the wrong way (when
    ``benchmark_trend_is_drifting``), or at least ``drifting_share`` of the
    features drift (or the model's output drifts, when
    ``output_drift_is_drifting``). ``watch``: any feature, the joint
    distribution or the output drifts, or any signal trends. ``aligned``
    otherwise. ``model_update`` is attributed when a new version's audit-set
    benchmarks moved by at least ``model_update_min_delta``;
    ``feedback_loop`` when the exposure rate moved by at least
    ``feedback_min_exposure_change`` (and significantly) beyond what the
    reference version would have exposed on the same items.
    """

    drifting_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    output_drift_is_drifting: bool = False
    benchmark_trend_is_drifting: bool = True
    model_update_min_delta: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    feedback_min_exposure_change: Annotated[float, Field(ge=0.0, le=1.0)] = 0.03


class Training(_Strict):
    """The scikit-learn estimator a challenger is trained with."""

    estimator: Literal["logistic_regression", "hist_gradient_boosting"] = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    decision_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    random_state: int = 0


class RetrainingPolicy(_Strict):
    """When and on what a challenger is trained."""

    trigger_verdicts: list[Literal["watch", "drifting", "misaligned"]] = Field(
        default_factory=lambda: ["drifting", "misaligned"]
    )
    cooldown_days: Annotated[int, Field(ge=0)] = 3
    window_days: Annotated[int, Field(ge=1)] = 14
    label: Literal["target", "proxy"] = "target"
    include_training_data: bool = True
    min_rows: Annotated[int, Field(ge=10)] = 200
    gate_tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    gate_replicates: Annotated[int, Field(ge=100, le=20_000)] = 500
    gate_confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    schedule: str | None = None
    training: Training = Field(default_factory=Training)

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, value: str | None) -> str | None:
        presets = {"@hourly", "@daily", "@weekly", "@monthly"}
        if value is None or value in presets or len(value.split()) == 5:
            return value
        raise ValueError(
            f"retraining.schedule must be a cron expression of 5 fields or one of {sorted(presets)}; "
            f"got {value!r}. Fix: e.g. '@weekly' or '0 3 * * 0'."
        )


class Governance(_Strict):
    """Who decides promotions: ``automatic`` (the gate alone) or ``required`` (a human, after the gate).

    Without a decision within ``approval_timeout_hours`` the challenger is rejected.
    """

    approval: Literal["automatic", "required"] = "automatic"
    approval_timeout_hours: Annotated[float, Field(gt=0.0, le=24 * 30)] = 24.0


class AlignmentSpec(_Strict):
    """The intended behaviour of one monitored model."""

    model: str
    description: str = ""
    owner: str = ""
    schedule: str = "@daily"
    start_date: dt.date
    source: Source
    labels: LateLabels | None = None
    expectations: str
    columns: ColumnRoles
    reference: Reference
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    benchmarks: Annotated[list[Benchmark], Field(min_length=1)]
    verdict: VerdictRules = Field(default_factory=VerdictRules)
    retraining: RetrainingPolicy = Field(default_factory=RetrainingPolicy)
    governance: Governance = Field(default_factory=Governance)

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not _MODEL_NAME.match(value):
            raise ValueError(
                "the model name must be lower-case letters, digits and '_', starting with a letter "
                f"(it names DAGs, MLflow experiments and files); got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _unique_benchmark_names(self) -> AlignmentSpec:
        names = [b.name for b in self.benchmarks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"benchmark names must be unique; repeated: {duplicates}")
        if any(b.kind == "proxy_target_gap" for b in self.benchmarks) and not self.columns.proxy:
            raise ValueError("a proxy_target_gap benchmark needs columns.proxy to name the proxy label")
        return self

    @property
    def monitor_dag_id(self) -> str:
        return f"alignment_monitor__{self.model}"

    @property
    def retrain_dag_id(self) -> str:
        return f"alignment_retrain__{self.model}"

    @property
    def experiment_name(self) -> str:
        return f"alignment-drift/{self.model}"

    @property
    def registered_model_name(self) -> str:
        return self.model


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: the alignment spec is not valid ({error.error_count()} problem(s)):"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        received = item.get("input")
        shown = repr(received) if not isinstance(received, dict) else "a mapping"
        if item["type"] == "missing":
            lines.append(f"  - {where}: this field is required but missing.")
        elif item["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown field (check its spelling and indentation).")
        else:
            lines.append(f"  - {where}: {item['msg']}. Got {shown}.")
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
