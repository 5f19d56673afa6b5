"""Loading a registered model and scoring a batch raise no warning, in a fresh process as an Airflow task is.

A ``benchmarks`` task log once held 1,160 lines of deprecation warnings from
model loading: skops, first imported in a process that has Airflow loaded, reads
every deprecated name of Airflow's compatibility modules. The model here is a real version in the session's SQLite
store, saved as the retrain DAG saves it; a new process opens the store,
loads it and scores a batch three times, recording every warning with the
filter ``always``. Only the third-party warnings named in
:data:`alignment_drift.integrations.known_warnings.KNOWN` may be dropped, and
a log line names them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from tests.integrations.mlflow.conftest import ROOT, Owner

SCRIPT = """
import json, logging, sys, warnings

import airflow.models, airflow.sdk  # what an Airflow task has loaded before it loads a model (it shows warnings)

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="LOG %(name)s: %(message)s", force=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pandas as pd

    from alignment_drift.core.scoring import score_model
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.settings import Settings

    model, version, batch, features = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    estimator = registry.load_model(Settings.from_env(), model, version, trusted_types=())
    frame = pd.read_parquet(batch)
    for _ in range(3):
        scored = score_model(estimator, frame, task="binary", features=features)
print(json.dumps({
    "rows": len(scored),
    "warnings": [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught],
}))
"""


def test_loading_a_model_and_scoring_a_batch_raise_no_warning(
    settings: Any, content_owner: Owner, tmp_path: Path
) -> None:
    from alignment_drift.integrations.known_warnings import KNOWN

    batch = tmp_path / "batch.parquet"
    content_owner.reference.to_parquet(batch, index=False)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "PYTHONWARNINGS": "always",
    }
    features = json.dumps(content_owner.spec.columns.feature_names)
    args = [sys.executable, "-c", SCRIPT, content_owner.spec.model, content_owner.version, str(batch), features]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == len(content_owner.reference)
    assert result["warnings"] == []
    said = [line for line in done.stderr.splitlines() if "ignored the known third-party warning" in line]
    assert len(said) <= 3  # opening the store, importing skops, loading the model: one line each at most
    for line in said:
        named = line.split("warning(s) ", 1)[1].split(" (listed in", 1)[0].split(", ")
        assert set(named) <= {k.name for k in KNOWN}, line


def test_an_unknown_warning_in_the_block_is_passed_on_and_a_known_one_dropped_with_one_line(caplog: Any) -> None:
    import logging

    import mlflow.store.tracking.sqlalchemy_store as sqlalchemy_store
    from sqlalchemy.exc import SADeprecationWarning

    from alignment_drift.integrations import known_warnings

    noload = "The ``noload`` loader strategy is deprecated and will be removed in a future release."
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO, known_warnings.__name__):
        warnings.simplefilter("always")
        with known_warnings.known_warnings("opening a store"):
            for _ in range(2):  # raised as MLflow's store raises it: from the store's module
                warnings.warn_explicit(noload, SADeprecationWarning, sqlalchemy_store.__file__, 327)
            warnings.warn("a notice of our own", FutureWarning, stacklevel=1)
            warnings.warn_explicit(noload, SADeprecationWarning, __file__, 10)  # same text, another module
    passed_on = [(w.category, str(w.message), w.filename) for w in caught]
    assert passed_on == [(FutureWarning, "a notice of our own", __file__), (SADeprecationWarning, noload, __file__)]
    lines = [r.getMessage() for r in caplog.records if r.name == known_warnings.__name__]
    assert lines == [
        "opening a store: ignored the known third-party warning(s) SQLAlchemy noload "
        "(listed in alignment_drift.integrations.known_warnings)"
    ]


def test_a_block_of_many_warnings_looks_the_loaded_modules_up_once_not_once_per_warning(
    monkeypatch: Any, caplog: Any
) -> None:
    """skops' first import records 1,160 warnings in an Airflow task with thousands of modules loaded.

    Looking each warning's module up in ``sys.modules`` took about 8 s of a retrain task on Airflow 3.2. Here a
    loaded module counts how often its ``__file__`` is read while 1,000 known warnings are dropped and 1,000
    others, from a file no loaded module has (the whole of ``sys.modules`` is searched for it), are passed
    on; the result is the same: the known ones dropped with one line, the others passed on as raised.
    """
    import logging
    import sys
    import types

    import mlflow.store.tracking.sqlalchemy_store as sqlalchemy_store
    from sqlalchemy.exc import SADeprecationWarning

    from alignment_drift.integrations import known_warnings

    reads = []

    class Counted(types.ModuleType):
        @property
        def __file__(self) -> str:  # type: ignore[override]
            reads.append(1)
            return "/nowhere/counted.py"

    monkeypatch.setitem(sys.modules, "counted_module", Counted("counted_module"))
    noload = "The ``noload`` loader strategy is deprecated and will be removed in a future release."
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO, known_warnings.__name__):
        warnings.simplefilter("always")
        with known_warnings.known_warnings("saving a model"):
            for line in range(1000):
                warnings.warn_explicit(noload, SADeprecationWarning, sqlalchemy_store.__file__, line)
                warnings.warn_explicit("a notice", FutureWarning, "/elsewhere/generated.py", line)
    assert [(w.category, w.filename) for w in caught] == [(FutureWarning, "/elsewhere/generated.py")] * 1000
    assert [r.getMessage() for r in caplog.records if r.name == known_warnings.__name__] == [
        "saving a model: ignored the known third-party warning(s) SQLAlchemy noload "
        "(listed in alignment_drift.integrations.known_warnings)"
    ]
    assert len(reads) <= 2, f"the loaded modules were looked up {len(reads)} times for 2,000 warnings"
