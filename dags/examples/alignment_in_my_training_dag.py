"""alignment-drift inside DAGs you already have: your training DAG, gated, and a nightly check of your own.

Copy it into your DAG folder. ``my_training__<model>`` is an owner's existing
train -> register DAG with three operators added::

    validate_batch -> train_and_register -> alignment_gate -> promote

- ``ValidateBatchOperator`` validates the run's night of prediction log first:
  a quarantined batch fails the run before any training;
- ``AlignmentGateOperator`` gates the version just registered against the
  champion and the last gated version (it fails, so nothing promotes it, when
  the challenger is not shown at least as aligned);
- ``PromoteOperator`` makes it champion, refusing any version without a passing gate record.

``my_alignment_check__<model>`` runs the whole nightly check with
``AlignmentCheckOperator`` (recorded in MLflow as the monitor DAG records it).

It uses the demo's spec (``content_safety``; ``make demo`` writes its data) unless
``ALIGNMENT_EXAMPLE_MODEL`` names another spec of the specs folder.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from alignment_drift.airflow.operators import (
    AlignmentCheckOperator,
    AlignmentGateOperator,
    PromoteOperator,
    ValidateBatchOperator,
)

MODEL = os.environ.get("ALIGNMENT_EXAMPLE_MODEL", "content_safety")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def train(model_name: str) -> tuple[Any, Any]:
    """Your training code: a fitted estimator and a few input rows (for its signature).

    This example fits a logistic regression on the spec's training data, labelled with the target.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from alignment_drift.airflow.operators import resolve_spec  # your own code would know its data and columns
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    spec = resolve_spec(model_name, settings)
    data = pd.read_parquet(settings.resolve_data(spec.reference.training_data))
    roles = spec.columns
    features = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), roles.numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), roles.categorical),
        ]
    )
    model = Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])
    model.fit(data[roles.feature_names], data[roles.target].astype(int))
    return model, data[roles.feature_names].head(5)


@dag(
    dag_id=f"my_training__{MODEL}",
    schedule="@weekly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["owner", MODEL],
)
def my_training() -> None:
    # the night before the run (a templated interval; the default is the run's own data interval)
    validate_batch = ValidateBatchOperator(
        task_id="validate_batch",
        spec=MODEL,
        data_interval_start="{{ macros.ds_add(ds, -1) }}",
        data_interval_end="{{ ds }}",
    )

    @task
    def train_and_register() -> str:
        import mlflow
        import mlflow.sklearn

        model, example = train(MODEL)
        mlflow.set_experiment(f"owner-training/{MODEL}")
        with mlflow.start_run(run_name="weekly training"):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL,
                input_example=example,
                serialization_format="cloudpickle",
            )
        return str(info.registered_model_version)

    version = train_and_register()
    gate = AlignmentGateOperator(task_id="alignment_gate", spec=MODEL, challenger_version=version)
    promote = PromoteOperator(
        task_id="promote", spec=MODEL, version=version, reason="weekly training, gated in {{ dag.dag_id }}"
    )
    validate_batch >> version >> gate >> promote


@dag(
    dag_id=f"my_alignment_check__{MODEL}",
    # nights are data intervals: [midnight, next midnight)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["owner", MODEL],
)
def my_alignment_check() -> None:
    AlignmentCheckOperator(task_id="alignment_check", spec=MODEL, fail_on=["misaligned", "quarantined"])


my_training()
my_alignment_check()
