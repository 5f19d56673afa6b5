"""Matching class labels at 1M rows: keying every row against keying each distinct label once.

A spec names classes as its owner writes them (``1``, ``"1"``, ``True``, ``"spam"``);
logged predictions and targets hold them in whatever type the log has. Both are
compared by :func:`alignment_drift.core.spec.label_key`. This script times, in one
process and on the same arrays, the row-by-row definition against
:func:`alignment_drift.core.scoring.label_matches` (what a ``class_in`` exposure rule
and a string-labelled binary target use), checks the two answers are identical,
and prints the ratio.

    .venv/bin/python bench/labels.py               # 1M rows
    .venv/bin/python bench/labels.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from alignment_drift.core.scoring import label_key, label_matches


def row_by_row(labels: object, keys: set[str]) -> np.ndarray:
    return np.array([np.nan if (k := label_key(v)) is None else float(k in keys) for v in labels], dtype=float)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    cases = {
        "multiclass predictions, int64, 10 classes": rng.integers(0, 10, n),
        "binary target, pyarrow strings, 5 % missing": pd.Series(
            rng.choice(np.array(["spam", "ham", None], dtype=object), n, p=[0.3, 0.65, 0.05]), dtype="string[pyarrow]"
        ),
        "multiclass predictions, object strings, 4 classes": np.array(
            rng.choice(["a", "b", "c", "d"], n), dtype=object
        ),
    }
    keys = {"1", "3", "spam", "a"}
    print(f"| labels ({n:,} rows) | row by row s | distinct labels s | ratio |")
    print("|---|---|---|---|")
    for name, labels in cases.items():
        began = time.perf_counter()
        old = row_by_row(labels, keys)
        t_old = time.perf_counter() - began
        began = time.perf_counter()
        new = label_matches(labels, keys)  # type: ignore[arg-type]
        t_new = time.perf_counter() - began
        if not np.array_equal(old, new, equal_nan=True):
            raise SystemExit(f"{name}: the two answers differ")
        print(f"| {name} | {t_old:.3f} | {t_new:.3f} | {t_new / t_old:.3f}x |")


if __name__ == "__main__":
    main()
