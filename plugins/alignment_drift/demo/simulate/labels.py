"""Delayed labels: a night's prediction log without its labels, and the labels as they arrive later.

>>> import pandas as pd
>>> log = pd.DataFrame({"prediction_id": ["a", "b", "c", "d"], "unsafe": [1.0, None, 0.0, 1.0]})
>>> bare, arrivals = defer_labels(log, columns=["unsafe"], delays=(2, 3), seed=0)
>>> bare["unsafe"].isna().all(), sorted(arrivals), sum(len(f) for f in arrivals.values())
(np.True_, [2, 3], 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["defer_labels"]


def defer_labels(
    log: pd.DataFrame,
    *,
    columns: Sequence[str],
    delays: Sequence[int] = (1, 2, 3),
    id_column: str = "prediction_id",
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """Split a log into the log as written on the night (labels unknown) and its labels by arrival delay.

    Parameters
    ----------
    log : DataFrame
        A night's prediction log with its labels.
    columns : sequence of str
        The label columns to hold back.
    delays : sequence of int
        Each labelled row arrives after one of these many days, drawn uniformly.
    id_column : str
        The id column the labels carry.
    seed : int
        Seed of the delay draw.

    Returns
    -------
    (DataFrame, dict)
        The log with ``columns`` all missing, and per delay (days) the labels
        arriving then: ``id_column`` and the known values of ``columns``.
    """
    if not delays or min(delays) < 0:
        raise ValueError(f"The 'delays' parameter must be non-empty days >= 0. Got {list(delays)} instead.")
    missing = [c for c in (id_column, *columns) if c not in log.columns]
    if missing:
        raise ValueError(f"The log has no column(s) {missing}. Fix: pass the log's id and label columns.")
    known = log[list(columns)].notna().any(axis=1).to_numpy()
    rng = np.random.default_rng(seed)
    delay = rng.choice(np.asarray(delays), size=len(log))
    arrivals = {
        int(d): log.loc[known & (delay == d), [id_column, *columns]].reset_index(drop=True)
        for d in sorted(set(int(x) for x in delays))
        if (known & (delay == d)).any()
    }
    bare = log.copy()
    for column in columns:
        bare[column] = np.nan
    return bare, arrivals
