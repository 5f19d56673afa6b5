"""One alpha budget for a drift check, shared by every entry point.

A check runs up to three families of tests: the per-column tests of the
inputs, those of the model's outputs, and the joint (multivariate) tests.
Each family is corrected inside (BH by default, see
:class:`~alignment_drift.core.drift.DriftDetector`); the families share the
check's ``alpha`` by Bonferroni, and the joint family is split again, by
Bonferroni, between the domain classifier and the MMD test. A check with no
drift then raises any drift signal with probability at most ``alpha``
(the sum of the families' levels), whatever the dependence between them.

``alignment-drift drift`` (raw data or a saved profile), ``alignment-drift
check`` and the monitor DAG all take their levels from :func:`alpha_budget`;
the rule is documented once, in ``docs/drift.md``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FAMILIES", "JOINT_TESTS", "AlphaBudget", "Family", "JointTest", "alpha_budget"]

Family = Literal["inputs", "outputs", "joint"]
JointTest = Literal["domain_classifier", "mmd"]
#: The families of a check, in the order they are reported.
FAMILIES: tuple[Family, ...] = ("inputs", "outputs", "joint")
#: The joint tests, in the order they are reported.
JOINT_TESTS: tuple[JointTest, ...] = ("domain_classifier", "mmd")


@dataclass(frozen=True)
class AlphaBudget:
    """The level of each family of a check, and of each joint test.

    Attributes
    ----------
    alpha : float
        The check's level: the bound on the probability that a drift-free
        check raises any drift signal.
    families : dict of str to float
        The level of each family that runs (``"inputs"``, ``"outputs"``,
        ``"joint"``): ``alpha / len(families)``.
    joint_tests : dict of str to float
        The level of each joint test that runs: the joint family's level over
        their number. Empty when the joint family does not run.
    """

    alpha: float
    families: dict[str, float] = field(default_factory=dict)
    joint_tests: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict: ``alpha``, ``method`` ("bonferroni"), ``families`` and ``joint_tests``."""
        return {
            "alpha": float(self.alpha),
            "method": "bonferroni",
            "families": {k: float(v) for k, v in self.families.items()},
            "joint_tests": {k: float(v) for k, v in self.joint_tests.items()},
        }


def alpha_budget(alpha: float, families: Sequence[str], *, joint_tests: Sequence[str] = JOINT_TESTS) -> AlphaBudget:
    """Split a check's ``alpha`` between the families that run, then between the joint tests.

    Parameters
    ----------
    alpha : float
        The check's level, in (0, 1).
    families : sequence of {"inputs", "outputs", "joint"}
        The families that run, at least one, none repeated.
    joint_tests : sequence of {"domain_classifier", "mmd"}, default=("domain_classifier", "mmd")
        The joint tests that run; at least one when ``"joint"`` is among the
        families, ignored otherwise.

    Returns
    -------
    AlphaBudget

    Raises
    ------
    ValueError
        When ``alpha`` is outside (0, 1), or a family or joint test is unknown,
        repeated or missing.

    Examples
    --------
    >>> budget = alpha_budget(0.05, ["inputs", "joint"])
    >>> budget.families, budget.joint_tests
    ({'inputs': 0.025, 'joint': 0.025}, {'domain_classifier': 0.0125, 'mmd': 0.0125})
    >>> alpha_budget(0.05, ["inputs", "outputs"]).families
    {'inputs': 0.025, 'outputs': 0.025}
    """
    is_real = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
    if not (is_real and math.isfinite(float(alpha)) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r} instead.")
    chosen = _names("families", families, FAMILIES)
    tests = _names("joint_tests", joint_tests, JOINT_TESTS) if "joint" in chosen else []
    family_alpha = float(alpha) / len(chosen)
    return AlphaBudget(
        alpha=float(alpha),
        families={name: family_alpha for name in chosen},
        joint_tests={name: family_alpha / len(tests) for name in tests},
    )


def _names(parameter: str, given: Sequence[str], allowed: Sequence[str]) -> list[str]:
    names = [] if isinstance(given, str) else list(given)
    if not names or len(set(names)) != len(names) or any(n not in allowed for n in names):
        raise ValueError(
            f"The '{parameter}' parameter must list at least one of {list(allowed)}, none repeated. "
            f"Got {given!r} instead."
        )
    return [n for n in allowed if n in names]
