"""Deployment simulators used by the demo, the tests and the benchmarks."""

from alignment_drift.demo.simulate.content import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from alignment_drift.demo.simulate.labels import defer_labels
from alignment_drift.demo.simulate.scenarios import SCENARIOS, ContentPlatform, PlatformUpdate, Scenario

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "NUMERIC_FEATURES",
    "SCENARIOS",
    "ContentPlatform",
    "PlatformUpdate",
    "Scenario",
    "defer_labels",
]
