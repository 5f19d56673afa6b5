"""The schema and support half of a runtime policy: what the reference saw, and a request checked against it.

:func:`support_from_profile` turns a version's reference profile into a
small JSON document of its *support*: per numeric feature the reference
quantiles and scale, per categorical feature its categories, and whether the
reference ever had the feature missing (if not, the feature is *required*).
:func:`prepare` checks a request's rows against the enforced support: values
of the wrong type, missing values, and the feature columns as the model gets
them (numbers as float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alignment_drift.core.drift.profile import ReferenceProfile

__all__ = ["SUPPORT_SCHEMA", "Feature", "Prepared", "feature_from_support", "prepare", "support_from_profile"]

SUPPORT_SCHEMA = "alignment-drift/support@1"
_OTHER = "__other__"  # the profile's fold of rare categories (core.drift.profile.OTHER)
# the scalar types a categorical value may have (JSON gives str, int, float, bool)
_SCALARS = (str, int, float, bool, np.str_, np.int64, np.float64, np.bool_)


def support_from_profile(
    profile: ReferenceProfile, columns: Sequence[str], *, quantiles: tuple[float, float] = (0.001, 0.999)
) -> dict[str, Any]:
    """The reference's support of ``columns``: a small JSON-able document (schema ``alignment-drift/support@1``).

    Numeric columns get ``low``/``high`` (the reference's ``quantiles``) and
    ``scale`` (its IQR, else std, else 1); categorical columns their sorted
    ``categories`` and ``complete`` (false when the profile folded rare
    categories into ``__other__``: a rare one then cannot be told from an
    unseen one, so that column is not checked for unseen categories). Every
    column says whether the reference had it ``missing_allowed``.

    Examples
    --------
    >>> from alignment_drift.core.drift.profile import ReferenceProfile
    >>> frame = pd.DataFrame({"x": np.arange(1001.0), "c": ["a", "b", "c"] * 333 + ["a", "b"]})
    >>> doc = support_from_profile(ReferenceProfile.fit(frame, numeric=["x"], categorical=["c"]), ["x", "c"])
    >>> doc["columns"]["x"]["low"], doc["columns"]["x"]["high"], doc["columns"]["c"]["categories"]
    (1.0, 999.0, ['a', 'b', 'c'])
    """
    low_q, high_q = quantiles
    if not 0.0 <= low_q < 0.5 < high_q <= 1.0:
        raise ValueError(
            f"The 'quantiles' parameter must be (q_low, q_high) with 0 <= q_low < 0.5 < q_high <= 1. "
            f"Got {quantiles!r} instead."
        )
    absent = [c for c in columns if c not in profile.columns]
    if absent:
        raise ValueError(
            f"The reference profile has no column(s) {absent}; it covers {sorted(profile.columns)}. "
            "Fix: profile every feature of the spec (the retrain DAG does)."
        )
    doc: dict[str, Any] = {}
    for name in columns:
        col = profile.columns[name]
        info: dict[str, Any] = {"kind": col.kind, "missing_allowed": col.missing > 0, "n": col.present}
        if col.kind == "numeric":
            summary = col.summary
            if summary is None or summary.n == 0:
                info.update(low=None, high=None, scale=1.0)
            else:
                low, high = summary.quantiles(np.array([low_q, high_q]))
                info.update(low=float(low), high=float(high), scale=float(col.scale()[0]))
        else:
            info.update(categories=sorted(k for k in col.counts if k != _OTHER), complete=_OTHER not in col.counts)
        doc[name] = info
    return {"schema": SUPPORT_SCHEMA, "n_rows": profile.n_rows, "quantiles": [low_q, high_q], "columns": doc}


@dataclass(frozen=True)
class Feature:
    """One feature's support, as enforced: numeric ``lower``/``upper`` are already widened by the tolerance."""

    name: str
    kind: Literal["numeric", "categorical"]
    required: bool
    lower: float | None = None
    upper: float | None = None
    scale: float = 1.0
    categories: tuple[str, ...] = ()
    complete: bool = True


@dataclass(frozen=True)
class Prepared:
    """The request checked against the schema: feature columns as the model gets them, and what cannot be scored."""

    frame: pd.DataFrame
    missing: dict[str, np.ndarray]
    wrong_type: dict[str, np.ndarray]
    text: dict[str, pd.Series]
    scoreable: np.ndarray


def prepare(features: Sequence[Feature], frame: pd.DataFrame) -> Prepared:
    """Check ``frame`` against the schema; numeric features coerced to float64 (text that is not a number: NaN).

    A row is scoreable unless a value has the wrong type or a required
    feature (one the reference never had missing) is missing.

    Raises
    ------
    ValueError
        When a feature's column appears more than once (no row can be read).
    """
    names = {f.name for f in features}
    repeated = sorted({c for c in frame.columns[frame.columns.duplicated()] if c in names})
    if repeated:
        raise ValueError(f"The request has the feature column(s) {repeated} more than once; send each once.")
    n = len(frame)
    columns: dict[str, Any] = {}
    missing: dict[str, np.ndarray] = {}
    wrong: dict[str, np.ndarray] = {}
    text: dict[str, pd.Series] = {}
    scoreable = np.ones(n, dtype=bool)
    for feat in features:
        if feat.name in frame.columns:
            raw = frame[feat.name]
        else:  # absent from the request: missing in every row
            raw = pd.Series(np.full(n, np.nan if feat.kind == "numeric" else None, dtype=object), index=frame.index)
        if feat.kind == "numeric":
            if pd.api.types.is_numeric_dtype(raw.dtype):
                values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
                bad = np.zeros(n, dtype=bool)
            else:
                values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                bad = raw.notna().to_numpy() & np.isnan(values)
            absent = ~np.isfinite(values) & ~bad
            values = np.where(np.isfinite(values), values, np.nan)
            columns[feat.name] = values
        else:
            absent = raw.isna().to_numpy()
            if raw.dtype == object:
                kinds = raw.map(type)
                bad = ~kinds.isin(_SCALARS).to_numpy()
                bad &= ~absent
            else:
                bad = np.zeros(n, dtype=bool)
            columns[feat.name] = raw.where(~bad, None).to_numpy() if bad.any() else raw.to_numpy()
            text[feat.name] = raw.astype("str").where(~(absent | bad), None)
        missing[feat.name] = absent
        wrong[feat.name] = bad
        scoreable &= ~bad
        if feat.required:
            scoreable &= ~absent
    model_frame = pd.DataFrame(columns, index=frame.index)
    return Prepared(model_frame, missing, wrong, text, scoreable)


def feature_from_support(name: str, kind: str, support: dict[str, Any], tolerance: float) -> Feature:
    """The enforced support of feature ``name`` (numeric bounds widened by ``tolerance`` times their width)."""
    info = support["columns"].get(name)
    if info is None:
        raise ValueError(
            f"The reference support has no feature {name!r}; it covers {sorted(support['columns'])}. "
            "Fix: build it with support_from_profile(profile, spec.columns.feature_names)."
        )
    if info["kind"] != kind:
        raise ValueError(f"Feature {name!r} is {kind} in the spec but {info['kind']} in the reference profile.")
    required = not info["missing_allowed"]
    if kind == "categorical":
        return Feature(name, "categorical", required, categories=tuple(info["categories"]), complete=info["complete"])
    low, high, scale = info["low"], info["high"], float(info["scale"])
    if low is None:
        return Feature(name, "numeric", required, scale=scale)
    width = (high - low) if high > low else scale
    return Feature(name, "numeric", required, low - tolerance * width, high + tolerance * width, scale)
