"""The DAG factory: the DAGs of every alignment spec.

``alignment_monitor__<model>`` (the spec's schedule, with data intervals,
catch-up allowed) runs one check per interval::

    pull -> validate -> (partitions -> profile_partition[mapped] -> drift || benchmarks)
         -> trend -> verdict -> record -> (request_retrain, finish)

``alignment_retrain__<model>`` (scheduled on the model's retrain-request
asset; also triggerable by hand with a reason) trains and gates a challenger::

    request -> assemble -> train -> gate -> decide [-> needs_approval -> approve -> apply_approval]

or, for a spec with ``retraining.mode: external``, gates the challenger the
owner's own training DAG registered (scheduled on the model's
``challenger_registered`` asset; see :mod:`alignment_drift.airflow.external_dag`)::

    request -> collect_challenger -> gate -> decide [-> ...]

(scheduled also by ``retraining.schedule`` when set), and
``alignment_rollback__<model>`` (by hand, with a reason) restores the
previous champion. A spec with a ``labels`` section also gets
``alignment_labels__<model>`` (one run per label arrival), which joins late
labels to the nights they complete and updates those nights' records.

Task bodies call :mod:`alignment_drift.pipeline`; heavy imports (pandas,
scikit-learn, MLflow, Great Expectations) happen inside them, so parsing a
DAG file stays fast.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG

from alignment_drift.airflow.common import retrain_request_asset
from alignment_drift.airflow.external_dag import external_retrain_dag
from alignment_drift.airflow.labels_dag import labels_dag
from alignment_drift.airflow.monitor_dag import monitor_dag
from alignment_drift.airflow.retrain_dag import retrain_dag, rollback_dag
from alignment_drift.core.spec import AlignmentSpec, load_specs
from alignment_drift.settings import Settings

__all__ = [
    "build_dags",
    "labels_dag",
    "monitor_dag",
    "retrain_dag",
    "retrain_dag_for",
    "retrain_request_asset",
    "rollback_dag",
]


def retrain_dag_for(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """The retrain DAG of a spec: it trains (``retraining.mode: builtin``) or gates what the owner trained."""
    if spec.retraining.mode == "external":
        return external_retrain_dag(spec, home)
    return retrain_dag(spec, home)


def build_dags(home: Path | str | None = None) -> dict[str, DAG]:
    """The monitor, retrain and rollback DAGs of every spec in the specs folder, by DAG id.

    Raises
    ------
    SpecError
        When a spec does not validate: the message names the file and field,
        and Airflow shows it as the DAG file's import error.
    """
    settings = Settings.from_env(home)
    dags: dict[str, DAG] = {}
    for spec in load_specs(settings.specs_dir):
        dags[spec.monitor_dag_id] = monitor_dag(spec, home)
        dags[spec.retrain_dag_id] = retrain_dag_for(spec, home)
        dags[f"alignment_rollback__{spec.model}"] = rollback_dag(spec, home)
        if spec.labels is not None:
            dags[f"alignment_labels__{spec.model}"] = labels_dag(spec, home)
    return dags
