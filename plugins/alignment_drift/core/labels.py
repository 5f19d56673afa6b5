"""Late labels: target (and proxy) labels that arrive after their night, joined back to it by id.

A night's prediction log often carries no target label yet: a moderator, a
chargeback or a customer outcome decides it days later. The labels arrive as
their own batches (one per arrival interval), holding the log's id column and
the label columns. :func:`join_labels` joins them to a night's rows: a later
arrival wins over an earlier one, and a label that arrives replaces the one
the log carried (a correction), which is counted.

>>> import pandas as pd
>>> log = pd.DataFrame({"id": ["a", "b", "c"], "unsafe": [None, None, 1.0]})
>>> labels = pd.DataFrame({"id": ["a", "c", "z"], "unsafe": [1, 0, 1]})
>>> joined = join_labels(log, labels, id_column="id", columns=["unsafe"])
>>> joined.frame["unsafe"].tolist(), joined.matched, joined.filled, joined.changed
([1.0, nan, 0.0], 2, {'unsafe': 1}, {'unsafe': 1})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ARRIVAL_COLUMN", "LabelJoin", "LabelsError", "check_labels", "join_labels"]

ARRIVAL_COLUMN = "_label_arrival"


class LabelsError(ValueError):
    """A labels batch that cannot be joined: the message names the column and the fix."""


@dataclass(frozen=True)
class LabelJoin:
    """The night's rows with the arrived labels joined, and what the join changed.

    Attributes
    ----------
    frame : DataFrame
        The night's rows, label columns updated (row order and count unchanged).
    matched : int
        Rows of the night that received at least one label.
    filled : dict
        Per label column: values that were missing and are now known.
    changed : dict
        Per label column: known values that an arrived label replaced.
    labelled : dict
        Per label column: rows with a known value after the join.
    """

    frame: pd.DataFrame = field(repr=False)
    matched: int
    filled: dict[str, int]
    changed: dict[str, int]
    labelled: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (without the frame)."""
        out = asdict(self)
        out.pop("frame")
        return out


def check_labels(labels: pd.DataFrame, *, id_column: str, columns: Sequence[str], where: str) -> list[str]:
    """Validate a labels batch; return the label columns it carries.

    Raises
    ------
    LabelsError
        When the id column is missing or has nulls, no label column is present,
        or a label is not 0, 1 or missing.
    """
    if id_column not in labels.columns:
        raise LabelsError(
            f"The labels batch {where} has no id column {id_column!r} (columns: {list(labels.columns)[:20]}). "
            f"Fix: write the prediction log's id column ({id_column}) beside each label."
        )
    present = [c for c in columns if c in labels.columns]
    if not present:
        raise LabelsError(
            f"The labels batch {where} carries none of the label columns {list(columns)}. "
            "Fix: name the label columns as in the prediction log."
        )
    if labels[id_column].isna().any():
        raise LabelsError(
            f"The labels batch {where} has {int(labels[id_column].isna().sum())} rows without an id in "
            f"{id_column!r}. Fix: drop them or fill in the prediction id."
        )
    for column in present:
        values = pd.to_numeric(labels[column], errors="coerce")
        bad = labels[column].notna() & ~values.isin([0, 1])
        if bad.any():
            sample = labels.loc[bad, column].astype(str).head(3).tolist()
            raise LabelsError(
                f"The labels batch {where} has {int(bad.sum())} values in {column!r} that are not 0 or 1 "
                f"(e.g. {sample}). Fix: write binary labels (1 = the positive class, empty when unknown)."
            )
    return present


def join_labels(frame: pd.DataFrame, labels: pd.DataFrame, *, id_column: str, columns: Sequence[str]) -> LabelJoin:
    """Join arrived labels to a night's rows by id.

    Parameters
    ----------
    frame : DataFrame
        The night's prediction log (its ``id_column`` identifies rows).
    labels : DataFrame
        Arrived labels: ``id_column`` and any of ``columns``; rows in arrival
        order, or with an ``ARRIVAL_COLUMN`` to order them (a later arrival wins).
        A missing value in a label column never erases a known one.
    id_column : str
        The id column shared by both.
    columns : sequence of str
        The label columns (the target and, when the spec has one, the proxy).

    Returns
    -------
    LabelJoin
    """
    if id_column not in frame.columns:
        raise LabelsError(f"The prediction log has no id column {id_column!r}; labels cannot be joined to it.")
    out = frame.copy()
    present = [c for c in columns if c in labels.columns]
    if ARRIVAL_COLUMN in labels.columns:
        labels = labels.sort_values(ARRIVAL_COLUMN, kind="stable")
    filled: dict[str, int] = {}
    changed: dict[str, int] = {}
    matched = np.zeros(len(out), dtype=bool)
    ids = out[id_column].astype(str)
    for column in present:
        known = labels[[id_column, column]].dropna(subset=[column])
        latest = known.drop_duplicates(subset=[id_column], keep="last")
        mapping = pd.Series(
            pd.to_numeric(latest[column]).astype(float).to_numpy(), index=latest[id_column].astype(str).to_numpy()
        )
        arrived = ids.map(mapping)
        hit = arrived.notna().to_numpy()
        current = (
            pd.to_numeric(out[column], errors="coerce").astype(float)
            if column in out.columns
            else pd.Series(np.nan, index=out.index)
        )
        was_known = current.notna().to_numpy()
        differs = hit & was_known & (current.to_numpy() != arrived.to_numpy())
        filled[column] = int((hit & ~was_known).sum())
        changed[column] = int(differs.sum())
        out[column] = np.where(hit, arrived.to_numpy(), current.to_numpy())
        matched |= hit
    labelled = {c: int(out[c].notna().sum()) for c in columns if c in out.columns}
    return LabelJoin(out, int(matched.sum()), filled, changed, labelled)
