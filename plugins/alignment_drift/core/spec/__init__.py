"""The alignment spec: the intended behaviour of one monitored model.

A spec is a YAML file in ``specs/`` (one per model). It declares where the
model's prediction log comes from, the data contract (a Great Expectations
suite), the role of every column, the reference, the drift thresholds, the
safety benchmarks that define the intended behaviour (T), the verdict rules,
the retraining policy and the governance of promotions.

Loading never guesses: an error names the file, the field path, what was
received and what is allowed.
"""

from alignment_drift.core.spec.base import TASKS, VERDICTS, SpecError, Task, Verdict
from alignment_drift.core.spec.benchmarks import (
    Benchmark,
    Calibration,
    MetricFloor,
    PerformanceEstimate,
    Perturbation,
    Probes,
    ProxyTargetGap,
    SliceGap,
)
from alignment_drift.core.spec.columns import ColumnRoles, Feature, Interval, Reference, label_key
from alignment_drift.core.spec.drift import DriftPolicy, MultivariatePolicy, TrendPolicy
from alignment_drift.core.spec.exposure import Exposure
from alignment_drift.core.spec.fingerprint import objective_fingerprint
from alignment_drift.core.spec.model import (
    AlignmentSpec,
    SpecFailure,
    SpecFolder,
    load_spec,
    load_spec_folder,
    load_specs,
    parse_spec,
)
from alignment_drift.core.spec.notify import EmailRoute, NotifyRoute, SlackRoute, WebhookRoute
from alignment_drift.core.spec.policies import Governance, RetrainingPolicy, Training, VerdictRules
from alignment_drift.core.spec.runtime import Runtime, RuntimeCondition, RuntimeProbes, RuntimeRule, RuntimeSupport
from alignment_drift.core.spec.sources import FilesSource, LateLabels, ObjectStoreSource, Source, SqlSource

__all__ = [
    "TASKS",
    "VERDICTS",
    "AlignmentSpec",
    "Benchmark",
    "Calibration",
    "ColumnRoles",
    "DriftPolicy",
    "EmailRoute",
    "Exposure",
    "Feature",
    "FilesSource",
    "Governance",
    "Interval",
    "LateLabels",
    "MetricFloor",
    "MultivariatePolicy",
    "NotifyRoute",
    "ObjectStoreSource",
    "PerformanceEstimate",
    "Perturbation",
    "Probes",
    "ProxyTargetGap",
    "Reference",
    "RetrainingPolicy",
    "Runtime",
    "RuntimeCondition",
    "RuntimeProbes",
    "RuntimeRule",
    "RuntimeSupport",
    "SlackRoute",
    "SliceGap",
    "Source",
    "SpecError",
    "SpecFailure",
    "SpecFolder",
    "SqlSource",
    "Task",
    "Training",
    "TrendPolicy",
    "Verdict",
    "VerdictRules",
    "WebhookRoute",
    "label_key",
    "load_spec",
    "load_spec_folder",
    "load_specs",
    "objective_fingerprint",
    "parse_spec",
]
