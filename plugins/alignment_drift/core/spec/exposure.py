"""Which rows a model's own output exposes: declared per spec, never assumed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alignment_drift.core.spec.base import Strict
from alignment_drift.core.spec.columns import ClassLabel

__all__ = ["Exposure"]


class Exposure(Strict):
    """The rule by which the model's output exposes an item (shows it, approves it, acts on it).

    Feedback loops run through exposure: the proxy (clicks, engagement) is
    observed only on exposed items, so the model chooses its own training
    signal. ``columns.exposure`` names the logged flag; this rule says which
    rows the model's *own output* exposes, so the deployed model and the
    reference version can be compared on the same items.

    - ``below_threshold``: exposed when the output is below ``threshold``
      (binary: P(positive) < the decision threshold, the default for a binary
      spec, e.g. a safety classifier shows what it does not block;
      regression: the predicted value, ``threshold`` required);
    - ``above_threshold``: exposed when the output is at or above it (a
      recommender's "show" score);
    - ``class_in``: multiclass, exposed when the predicted class is one of ``classes``;
    - ``none``: the model exposes nothing by its output (the default for
      multiclass and regression specs): no feedback loop is attributed from exposure.

    ``threshold`` defaults, for a binary spec, to ``retraining.training.decision_threshold``.
    """

    rule: Literal["below_threshold", "above_threshold", "class_in", "none"]
    classes: list[ClassLabel] = Field(default_factory=list)
    threshold: float | None = None
