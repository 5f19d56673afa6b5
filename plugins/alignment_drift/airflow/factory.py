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
previous champion. A spec with ``schedule: on_arrival`` also gets
``alignment_arrival__<model>``, which waits for each night's batch and
emits the asset its monitor DAG is scheduled on (see
:mod:`alignment_drift.airflow.arrival`). A spec with a ``labels`` section also gets
``alignment_labels__<model>`` (one run per label arrival), which joins late
labels to the nights they complete and updates those nights' records.

One broken spec never costs the other models their DAGs: the factory builds
the DAGs of every spec that loads, and ``dags/alignment_spec_errors.py`` (a
DAG file of its own, defining no DAG) fails with one entry per spec that does
not, so Airflow lists it under its DAG import errors, naming each broken spec
file, while ``alignment_dags.py`` stays clean.

Task bodies call :mod:`alignment_drift.pipeline`; heavy imports (pandas,
scikit-learn, MLflow, Great Expectations) happen inside them, so parsing a
DAG file stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

from airflow.sdk import DAG

from alignment_drift.airflow.arrival import arrival_dag
from alignment_drift.airflow.common import retrain_request_asset
from alignment_drift.airflow.external_dag import external_retrain_dag
from alignment_drift.airflow.labels_dag import labels_dag
from alignment_drift.airflow.monitor_dag import monitor_dag
from alignment_drift.airflow.retrain_dag import retrain_dag, rollback_dag
from alignment_drift.core.spec import AlignmentSpec, SpecError, load_spec_folder
from alignment_drift.settings import Settings

__all__ = [
    "build_dags",
    "labels_dag",
    "monitor_dag",
    "raise_spec_failures",
    "retrain_dag",
    "retrain_dag_for",
    "retrain_request_asset",
    "rollback_dag",
]

_LOG = logging.getLogger(__name__)


def retrain_dag_for(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """The retrain DAG of a spec: it trains (``retraining.mode: builtin``) or gates what the owner trained."""
    if spec.retraining.mode == "external":
        return external_retrain_dag(spec, home)
    return retrain_dag(spec, home)


def build_dags(home: Path | str | None = None) -> dict[str, DAG]:
    """The monitor, retrain and rollback DAGs of every spec of the specs folder that loads, by DAG id.

    A spec that does not load is skipped (and logged): its model has no DAGs
    until it is fixed, every other model keeps its own. Airflow shows why
    through :func:`raise_spec_failures` (``dags/alignment_spec_errors.py``).

    Raises
    ------
    SpecError
        When the specs folder does not exist (Airflow shows it as the DAG
        file's import error).
    """
    settings = Settings.from_env(home)
    dags: dict[str, DAG] = {}
    folder = load_spec_folder(settings.specs_dir)
    for failure in folder.failures:
        _LOG.error("Skipping the DAGs of %s: %s", failure.path, failure.message)
    for spec in folder.specs:
        dags[spec.monitor_dag_id] = monitor_dag(spec, home)
        dags[spec.retrain_dag_id] = retrain_dag_for(spec, home)
        dags[f"alignment_rollback__{spec.model}"] = rollback_dag(spec, home)
        if spec.labels is not None:
            dags[f"alignment_labels__{spec.model}"] = labels_dag(spec, home)
        if spec.on_arrival:
            dags[spec.arrival_dag_id] = arrival_dag(spec, home)
    return dags


def raise_spec_failures(home: Path | str | None = None) -> None:
    """Fail with one entry per spec of the specs folder that does not load; nothing when all load.

    Called by ``dags/alignment_spec_errors.py``, a DAG file that defines no
    DAG, so the failure is Airflow's import error of that file alone, naming
    every broken spec, and disappears once they are fixed. A missing specs
    folder is left to :func:`build_dags`, which reports it.

    Raises
    ------
    SpecError
        Naming each spec file that does not load, and why.
    """
    settings = Settings.from_env(home)
    try:
        failures = load_spec_folder(settings.specs_dir).failures
    except SpecError:
        return
    if failures:
        lines = [f"- {f.message}" for f in failures]
        raise SpecError(
            f"{len(failures)} alignment spec(s) do not load, so their models have no DAGs until fixed "
            "(every other model keeps its DAGs):\n" + "\n".join(lines)
        )
