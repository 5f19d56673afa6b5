"""Binned distributions of the reference and the batch, read from their profiles (never from rows).

The report plots every column from two :class:`~alignment_drift.core.drift.profile.ColumnProfile`:
the reference profile stored with the model version, and the batch's own
profile fitted the same way. A profile is a bounded summary (at most
``profile_bins`` quantile points, ``max_categories`` categories), so what the
report holds is the same size for a thousand rows or a billion.

Per column (JSON-able, schema ``alignment-drift/report-distributions@1``):

- numeric: ``edges`` of ``bins`` equal-width bins spanning the 0.5–99.5 %
  quantiles of both sides (the tails are counted in the outer bins),
  ``reference``/``current`` shares per bin from the summaries' CDFs, and
  ``quantiles`` of both sides on a 101-point grid (the ECDF);
- categorical: the ``top`` categories by their larger share on either side,
  the rest folded into one ``(other)`` bar, shares of the present values;
- both: ``missing_rate`` and ``n`` of each side.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from alignment_drift.core.drift.profile import ReferenceProfile
>>> frame = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
>>> ref = ReferenceProfile.fit(frame, numeric=["x"], categorical=["c"])
>>> cur = ReferenceProfile.fit(frame.assign(x=frame["x"] + 500), numeric=["x"], categorical=["c"])
>>> out = distributions(ref, cur, ["x", "c"], bins=3)  # the batch moved up by half the reference's range
>>> out["columns"]["x"]["reference"], out["columns"]["x"]["current"]
([0.501, 0.497, 0.002], [0.001, 0.497, 0.502])
>>> out["columns"]["c"]["categories"], out["columns"]["c"]["reference"]
(['a', 'b'], [0.5, 0.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.drift.profile import ColumnProfile, ReferenceProfile

__all__ = ["DISTRIBUTIONS_SCHEMA", "OTHER_LABEL", "batch_profile", "column_distribution", "distributions"]

DISTRIBUTIONS_SCHEMA = "alignment-drift/report-distributions@1"
OTHER_LABEL = "(other)"
_GRID = np.linspace(0.0, 1.0, 101)
_TAIL = 0.005


def _round(values: np.ndarray | Sequence[float], digits: int = 6) -> list[float]:
    return [float(v) for v in np.round(np.asarray(values, dtype=float), digits)]


def _side(col: ColumnProfile | None) -> dict[str, Any] | None:
    return None if col is None else {"n": int(col.n), "missing_rate": float(col.missing_rate)}


def _shares(col: ColumnProfile, inner: np.ndarray) -> list[float]:
    """Share of the column's present values in each bin; the outer bins take the tails."""
    summary = col.summary
    assert summary is not None
    cdf = np.concatenate(([0.0], summary.cdf(inner), [1.0]))
    return _round(np.diff(cdf))


def _numeric(reference: ColumnProfile, current: ColumnProfile | None, bins: int) -> dict[str, Any]:
    sides = [c for c in (reference, current) if c is not None and c.summary is not None and c.summary.n > 0]
    out: dict[str, Any] = {"kind": "numeric", "reference_stats": _side(reference), "current_stats": _side(current)}
    if not sides:
        return {**out, "edges": [], "reference": [], "current": None, "quantiles": None}
    low = min(float(c.summary.quantiles(np.array([_TAIL]))[0]) for c in sides)  # type: ignore[union-attr]
    high = max(float(c.summary.quantiles(np.array([1 - _TAIL]))[0]) for c in sides)  # type: ignore[union-attr]
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    present = {id(c) for c in sides}
    ref_ok = id(reference) in present
    cur_ok = current is not None and id(current) in present
    out.update(
        edges=_round(edges, 9),
        reference=_shares(reference, edges[1:-1]) if ref_ok else [],
        current=_shares(current, edges[1:-1]) if cur_ok else None,  # type: ignore[arg-type]
        quantiles={
            "p": _round(_GRID, 3),
            "reference": _round(reference.summary.quantiles(_GRID), 9) if ref_ok else [],  # type: ignore[union-attr]
            "current": _round(current.summary.quantiles(_GRID), 9) if cur_ok else None,  # type: ignore[union-attr]
        },
    )
    return out


def _categorical(reference: ColumnProfile, current: ColumnProfile | None, top: int) -> dict[str, Any]:
    def shares(col: ColumnProfile | None) -> dict[str, float]:
        if col is None:
            return {}
        total = sum(col.counts.values())
        return {k: v / total for k, v in col.counts.items()} if total else {}

    ref, cur = shares(reference), shares(current)
    ranked = sorted(set(ref) | set(cur), key=lambda k: (-max(ref.get(k, 0.0), cur.get(k, 0.0)), k))
    kept, folded = ranked[:top], ranked[top:]
    categories = list(kept) + ([OTHER_LABEL] if folded else [])

    def values(side: dict[str, float]) -> list[float]:
        row = [side.get(k, 0.0) for k in kept] + ([sum(side.get(k, 0.0) for k in folded)] if folded else [])
        return _round(row)

    return {
        "kind": "categorical",
        "categories": categories,
        "folded": len(folded),
        "reference": values(ref),
        "current": values(cur) if current is not None else None,
        "reference_stats": _side(reference),
        "current_stats": _side(current),
    }


def column_distribution(
    reference: ColumnProfile, current: ColumnProfile | None, *, bins: int = 40, top: int = 12
) -> dict[str, Any]:
    """The binned distribution of one column on both sides (``current`` None: the reference only).

    Parameters
    ----------
    reference : ColumnProfile
        The column in the reference profile.
    current : ColumnProfile or None
        The same column in the batch's profile; None when the batch could not be read.
    bins : int, default=40
        Equal-width bins of a numeric column, >= 2.
    top : int, default=12
        Categories kept by name, >= 1; the rest are one ``(other)`` bar.
    """
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 2:
        raise ValueError(f"The 'bins' parameter must be an int >= 2. Got {bins!r} instead.")
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise ValueError(f"The 'top' parameter must be an int >= 1. Got {top!r} instead.")
    if current is not None and current.kind != reference.kind:
        raise ValueError(
            f"Column {reference.name!r} is {reference.kind} in the reference but {current.kind} in the batch "
            "profile; fit the batch profile with the reference's column kinds (see batch_profile)."
        )
    if reference.kind == "numeric":
        return _numeric(reference, current, bins)
    return _categorical(reference, current, top)


def distributions(
    reference: ReferenceProfile,
    current: ReferenceProfile | None,
    columns: Sequence[str],
    *,
    bins: int = 40,
    top: int = 12,
) -> dict[str, Any]:
    """The report's distributions of ``columns`` (those the reference profile has), JSON-able.

    Returns
    -------
    dict
        ``schema``, ``n_reference``, ``n_current`` (None without a batch profile) and ``columns``:
        name -> :func:`column_distribution`.
    """
    out: dict[str, Any] = {
        "schema": DISTRIBUTIONS_SCHEMA,
        "n_reference": int(reference.n_rows),
        "n_current": None if current is None else int(current.n_rows),
        "columns": {},
    }
    for name in columns:
        ref = reference.columns.get(name)
        if ref is None:
            continue
        cur = None if current is None else current.columns.get(name)
        out["columns"][name] = column_distribution(ref, cur, bins=bins, top=top)
    return out


def batch_profile(
    frame: pd.DataFrame, reference: ReferenceProfile, columns: Sequence[str], **kwargs: Any
) -> ReferenceProfile:
    """The batch's own profile of ``columns``, each with the kind the reference profiled it as.

    Columns the batch lacks are left out (the report then shows the reference side only).
    ``kwargs`` go to :meth:`ReferenceProfile.fit` (``bins``, ``max_categories``).
    """
    present = [c for c in columns if c in frame.columns and c in reference.columns]
    numeric = [c for c in present if reference.columns[c].kind == "numeric"]
    categorical = [c for c in present if reference.columns[c].kind == "categorical"]
    return ReferenceProfile.fit(frame, numeric=numeric, categorical=categorical, **kwargs)
