"""Building the command's parser (``alignment-drift --help``, any usage error) imports none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "sklearn", "scipy", "mlflow", "great_expectations", "airflow", "pyarrow", "pydantic")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from alignment_drift.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('IMPORTED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "usage: alignment-drift" in done.stdout
    assert done.stdout.splitlines()[-1] == "IMPORTED="


def test_drift_against_a_profile_imports_no_model_library(tmp_path) -> None:
    """A column test of a Parquet batch against a saved profile needs no pandas, scikit-learn, scipy.stats,
    MLflow, GX or the spec.

    70,000 rows: beyond ``DRIFT_BINS`` distinct values, so the batch's summary is compressed and tested
    through Kolmogorov's distribution (an exact small batch is tested as rows, by ``scipy.stats``).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=70_000), "c": rng.choice(["a", "b", "c"], size=70_000)})
    frame.to_parquet(tmp_path / "ref.parquet", index=False)
    frame.assign(x=frame["x"] + 1.0).to_parquet(tmp_path / "cur.parquet", index=False)
    from alignment_drift.cli import main

    assert main(["profile", str(tmp_path / "ref.parquet"), "-o", str(tmp_path / "ref.profile.parquet")]) == 0
    code = (
        "import sys\n"
        "from alignment_drift.cli import main\n"
        f"code = main(['drift', {str(tmp_path / 'ref.profile.parquet')!r}, {str(tmp_path / 'cur.parquet')!r}, "
        "'--multivariate', 'off', '--format', 'json', '--output', " + repr(str(tmp_path / "out.json")) + "])\n"
        "heavy = ('pandas', 'sklearn', 'scipy.stats', 'mlflow', 'great_expectations', 'airflow', "
        "'alignment_drift.core.spec')\n"
        "print('IMPORTED=' + ','.join(m for m in heavy if m in sys.modules), code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines()[-1] == "IMPORTED= 0"
    import json

    result = json.loads((tmp_path / "out.json").read_text())
    assert result["drift"] is True  # a one-sd shift of x is found on this lean path
    assert "KS" in {c["name"]: c["note"] for c in result["columns"]}["x"]  # through the summaries' bound
    assert {c["name"]: c["drift"] for c in result["columns"]}["x"] is True


def test_reading_and_summarising_a_batch_against_a_profile_needs_neither_pandas_nor_scipy(tmp_path) -> None:
    """What the drift command does before its tests run (load the profile's statistics, stream CURRENT and
    summarise it) imports neither pandas nor scipy, so those load beside it, in the background, not before it."""
    import numpy as np
    import pandas as pd

    from alignment_drift.core.drift.profile import ReferenceProfile

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=5_000), "c": rng.choice(["a", "b", None], size=5_000)})
    frame.loc[rng.random(5_000) < 0.1, "x"] = np.nan  # nulls in both kinds of column
    frame.to_parquet(tmp_path / "cur.parquet", index=False)
    ReferenceProfile.fit(frame, numeric=["x"], categorical=["c"]).save(tmp_path / "ref.profile.parquet")
    code = (
        "import sys\n"
        "from alignment_drift.cli.drift import _load_reference, _stream_current\n"
        f"profile, rows, numeric, cats = _load_reference({str(tmp_path / 'ref.profile.parquet')!r}, [], [], "
        "rows=False)\n"
        f"current, _ = _stream_current({str(tmp_path / 'cur.parquet')!r}, numeric, cats, joint=False)\n"
        "print('IMPORTED=' + ','.join(m for m in ('pandas', 'scipy', 'sklearn') if m in sys.modules), "
        "current.n_rows, current.columns['c'].missing, rows)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines()[-1] == f"IMPORTED= 5000 {int(frame['c'].isna().sum())} None"
