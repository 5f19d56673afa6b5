"""``governance.runtime``: the policy enforced around the served model, row by row.

Every version the gate promotes is also registered as an MLflow pyfunc model
(``<model>_policy``) that wraps the owner's model with this policy and returns,
per row, the model's ``prediction`` and ``score`` plus a ``policy_action``
(``allow`` | ``review`` | ``block``) and the ``policy_reasons``. The checks:

- **schema**: a feature the reference never saw missing (a *required* one) that
  is absent from the request or null → ``support.missing`` (``block``); a value
  of the wrong type (text in a numeric feature) → ``block``, and the row is not scored;
- **support**: a numeric value outside the reference's ``[q_low, q_high]``
  (``support.quantiles``) widened on each side by ``support.tolerance`` times
  that width → ``support.out_of_range`` (``review``); a category the reference
  never had → ``support.unseen_category`` (``review``);
- **abstain band** (binary): a score within ``abstain_band`` of the decision
  threshold → ``review``; (multiclass) a top probability less than
  ``min_margin`` above the runner-up → ``review``; (regression) none;
- **rules**: hard constraints in a small expression language (no ``eval``):
  ``{when: {feature: toxicity, op: ">", value: 0.9}, action: block, reason: "..."}``;
  ``when`` may be a list of conditions (all must hold); a condition names a
  ``feature`` of the spec or an ``output`` (``score`` or ``prediction``);
- **probes** (binary): every ``minimum_functionality`` case of the spec's
  ``probes`` benchmarks becomes a constraint: a served row within
  ``probes.tolerance`` (times the reference IQR of each numeric feature, with
  every categorical feature equal) of one of the case's items must get the
  case's expected decision (``blocked``: score at or above the threshold;
  ``shown``: below), else ``probes.action`` (``block``).

The most severe action of a row wins (``block`` over ``review`` over ``allow``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from alignment_drift.core.spec.base import Strict

if TYPE_CHECKING:
    from alignment_drift.core.spec.columns import ColumnRoles

__all__ = ["Runtime", "RuntimeCondition", "RuntimeProbes", "RuntimeRule", "RuntimeSupport"]

Scalar = float | int | str | bool
Action = Literal["allow", "review", "block"]
_ORDERING = ("<", "<=", ">", ">=")
_MAX_LIST = 1_000


class RuntimeCondition(Strict):
    """One comparison of a row's feature (or of the model's output) with a constant.

    ``op``: ``<``, ``<=``, ``>``, ``>=`` (numbers only), ``==``, ``!=``,
    ``in``, ``not_in`` (a list of up to 1000 values), ``is_missing``,
    ``not_missing`` (no value). A missing value satisfies only ``is_missing``.
    Categorical features are compared as text.
    """

    feature: str | None = None
    output: Literal["score", "prediction"] | None = None
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in", "is_missing", "not_missing"]
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> RuntimeCondition:
        if (self.feature is None) == (self.output is None):
            raise ValueError(
                "a condition names exactly one of 'feature' (a feature of the spec) or 'output' "
                f"('score' or 'prediction'); got feature={self.feature!r}, output={self.output!r}"
            )
        if self.op in ("is_missing", "not_missing"):
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no 'value'; got {self.value!r}. Fix: remove 'value'.")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not 1 <= len(self.value) <= _MAX_LIST:
                raise ValueError(
                    f"op {self.op!r} needs 'value' to be a list of 1 to {_MAX_LIST} values; got {self.value!r}"
                )
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs one 'value' (not a list, not empty); got {self.value!r}")
        elif self.op in _ORDERING and (isinstance(self.value, bool) or not isinstance(self.value, int | float)):
            raise ValueError(f"op {self.op!r} compares numbers; 'value' must be a number, got {self.value!r}")
        if self.output == "score" and self.op not in (*_ORDERING, "is_missing", "not_missing"):
            raise ValueError(f"the score is a probability: compare it with <, <=, > or >=; got op {self.op!r}")
        return self

    @property
    def subject(self) -> str:
        """What the condition reads: the feature's name, or ``output:score`` / ``output:prediction``."""
        return self.feature if self.feature is not None else f"output:{self.output}"


class RuntimeRule(Strict):
    """A hard constraint: rows where every condition of ``when`` holds get ``action``, with ``reason``."""

    when: Annotated[list[RuntimeCondition], Field(min_length=1, max_length=10)]
    action: Literal["review", "block"]
    reason: Annotated[str, Field(min_length=1, max_length=200)]

    @field_validator("when", mode="before")
    @classmethod
    def _one_is_a_list_of_one(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    @property
    def conditions(self) -> list[RuntimeCondition]:
        return self.when


class RuntimeSupport(Strict):
    """What counts as inside the reference's support, and the action for each way out of it."""

    quantiles: tuple[float, float] = (0.001, 0.999)
    tolerance: Annotated[float, Field(ge=0.0, le=10.0)] = 0.1
    out_of_range: Action = "review"
    unseen_category: Action = "review"
    missing: Action = "block"

    @field_validator("quantiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (0.0 <= low < 0.5 < high <= 1.0):
            raise ValueError(
                "quantiles must be [q_low, q_high] with 0 <= q_low < 0.5 < q_high <= 1, "
                f"e.g. [0.001, 0.999]; got {list(value)}"
            )
        return value


class RuntimeProbes(Strict):
    """Whether the spec's minimum-functionality probe cases are enforced on served rows (binary models)."""

    enabled: bool = True
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    action: Literal["review", "block"] = "block"


class Runtime(Strict):
    """The runtime policy of the served model (``governance.runtime``); see the module docstring."""

    enabled: bool = True
    abstain_band: Annotated[float, Field(ge=0.0, lt=0.5)] | None = 0.05
    min_margin: Annotated[float, Field(ge=0.0, lt=1.0)] | None = 0.1
    support: RuntimeSupport = Field(default_factory=RuntimeSupport)
    rules: Annotated[list[RuntimeRule], Field(max_length=100)] = Field(default_factory=list)
    probes: RuntimeProbes = Field(default_factory=RuntimeProbes)

    def check_columns(self, columns: ColumnRoles) -> None:
        """Refuse rules on names that are not features of the spec, or ops that do not fit the feature's kind.

        Raises
        ------
        ValueError
            Naming the rule (``governance.runtime.rules[i]``), the feature and the fix.
        """
        kinds = {f.name: f.kind for f in columns.features}
        for i, rule in enumerate(self.rules):
            for condition in rule.conditions:
                where = f"governance.runtime.rules[{i}]"
                if condition.feature is None:
                    continue
                kind = kinds.get(condition.feature)
                if kind is None:
                    raise ValueError(
                        f"{where}: feature {condition.feature!r} is not a feature of the spec; "
                        f"use one of {sorted(kinds)} (or 'output: score|prediction')"
                    )
                values = condition.value if isinstance(condition.value, list) else [condition.value]
                if kind == "categorical" and condition.op in _ORDERING:
                    raise ValueError(
                        f"{where}: feature {condition.feature!r} is categorical; compare it with ==, !=, in or "
                        f"not_in, not {condition.op!r}"
                    )
                if kind == "numeric" and condition.value is not None and any(isinstance(v, bool | str) for v in values):
                    raise ValueError(
                        f"{where}: feature {condition.feature!r} is numeric; its value(s) must be numbers, "
                        f"got {condition.value!r}"
                    )
