"""How input, output and joint drift are tested, and the trend detector over nights."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from alignment_drift.core.spec.base import Strict

__all__ = ["DriftPolicy", "MultivariatePolicy", "TrendPolicy"]


class MultivariatePolicy(Strict):
    """Multivariate drift: a domain classifier and an MMD test on (subsampled) rows.

    ``max_rows`` bounds the rows per side of the domain classifier and
    ``mmd_max_rows`` those of MMD (its kernel matrix is quadratic in them).
    """

    domain_classifier: bool = True
    mmd: bool = True
    max_rows: Annotated[int, Field(ge=100, le=200_000)] = 10_000
    mmd_max_rows: Annotated[int, Field(ge=100, le=20_000)] = 1_000
    folds: Annotated[int, Field(ge=2, le=10)] = 3
    permutations: Annotated[int, Field(ge=19, le=10_000)] = 999


class TrendPolicy(Strict):
    """A sequential detector over each night's signals, for gradual drift no single night shows.

    The history is the nights since the current reference was promoted and, if
    an incident of the model was resolved since, since that incident (see
    ``pipeline/steps/trend.py``). After an alarm night the detector starts a new
    warm-up. ``method``: ``robust_scan`` (default), a self-starting scan robust
    to autocorrelation, heavy tails and skew, whose default thresholds (None:
    3.1 with both sides watched, 2.85 with one, as z-scores) keep false alarms
    at or below 1 per 100 stationary nights; or the older ``cusum`` and
    ``page_hinkley``, whose defaults (None: 22 and 12) assume independent
    N(0, 1) nights (``bench/trend_far.py``). ``slack`` applies to those two only.
    ``warmup_nights`` None: 10 for ``robust_scan``, 7 for the others.
    """

    enabled: bool = True
    method: Literal["robust_scan", "cusum", "page_hinkley"] = "robust_scan"
    warmup_nights: Annotated[int, Field(ge=3)] | None = None
    threshold: Annotated[float, Field(gt=0.0)] | None = None
    slack: Annotated[float, Field(ge=0.0)] = 0.25


class DriftPolicy(Strict):
    """How input and output drift are tested."""

    categorical_test: Literal["cressie_read", "chi2", "g_test"] = "cressie_read"
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
