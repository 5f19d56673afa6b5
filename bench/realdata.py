"""Real public data for the calibration benchmark: the RAND Health Insurance Experiment table.

``statsmodels.datasets.randhie`` ships 20,190 person-years of the RAND Health
Insurance Experiment (public domain; Cameron and Trivedi 2005). statsmodels is
installed into its own environment (``bench/peers.py --only datasets``), never
into ours, and the table is exported once to ``bench/results/data/randhie.parquet``.

Columns as the benchmark uses them (a model that predicts whether a person sees
a doctor in the year, from what an insurer knows):

* numeric: ``lpi`` (log of the annual participation incentive), ``fmde`` (log of
  the maximum medical expense), ``disea`` (number of chronic diseases),
  ``physlm`` (physical limitation; 11 distinct values, mostly 0);
* categorical: ``idp`` ("yes"/"no": individual deductible plan), ``health``
  (self-rated: excellent / good / fair / poor, from hlthg/hlthf/hlthp), ``plan``
  (coinsurance rate 0/10/25/50/95 %, from lncoins);
* ``visited``: ``mdvis > 0`` (the label; the knock-out shift removes half of its
  positives; it is not tested itself).

Heavy ties, zero inflation and a rare level (``health == "poor"``, 1.5 %) make
it a harder calibration case than Gaussian data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402

TABLE = BENCH / "results" / "data" / "randhie.parquet"
NUMERIC = ["lpi", "fmde", "disea", "physlm"]
CATEGORICAL = ["idp", "health", "plan"]
LABEL = "visited"

_EXPORT = "import sys\nfrom statsmodels.datasets import randhie\nrandhie.load_pandas().data.to_parquet(sys.argv[1])\n"


def load() -> pd.DataFrame:
    """The benchmark's table (exported on first use; statsmodels runs in its own environment)."""
    if not TABLE.exists():
        peers.ensure("datasets")
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        raw = TABLE.with_suffix(".raw.parquet")
        subprocess.run([str(peers.python_of("datasets")), "-c", _EXPORT, str(raw)], check=True)
        frame = pd.read_parquet(raw)
        raw.unlink()
        health = np.select(
            [frame["hlthp"] == 1, frame["hlthf"] == 1, frame["hlthg"] == 1], ["poor", "fair", "good"], "excellent"
        )
        coinsurance = np.rint(np.expm1(frame["lncoins"].to_numpy())).astype(int)
        out = pd.DataFrame(
            {
                "lpi": frame["lpi"].astype(float),
                "fmde": frame["fmde"].astype(float),
                "disea": frame["disea"].astype(float),
                "physlm": frame["physlm"].astype(float),
                "idp": np.where(frame["idp"] == 1, "yes", "no"),
                "health": health,
                "plan": [f"coins_{c}" for c in coinsurance],
                LABEL: (frame["mdvis"] > 0).astype(int),
            }
        )
        out.to_parquet(TABLE)
    return pd.read_parquet(TABLE)


if __name__ == "__main__":
    table = load()
    print(table.describe(include="all").T.to_string())
