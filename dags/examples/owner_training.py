"""An owner's own training DAG for a spec with ``retraining.mode: external`` (the contract, as runnable code).

Copy it into your DAG folder and put your training code in ``train``. The
contract with alignment-drift (docs/byom.md):

- schedule on the retrain-request asset: name ``alignment_drift.<model>.retrain_request``,
  uri ``alignment-drift://<model>/retrain-request``; each event's ``extra``
  has ``model``, ``verdict``, ``reason``, ``data_interval_start``,
  ``data_interval_end`` and ``mlflow_run_id`` (the check that asked);
- register a version of the spec's registered model (the spec's ``model``),
  give it alias ``challenger`` and the tag ``alignment_drift.request`` =
  ``<data_interval_start>/<data_interval_end>`` of the event it answers;
- emit ``alignment_drift.<model>.challenger_registered`` (uri
  ``alignment-drift://<model>/challenger-registered``) from the task that
  registered it, with ``extra`` ``{"version": ..., "request": ...}``.

alignment-drift's ``alignment_retrain__<model>`` then gates that version
(never trains) and promotes or rejects it. Only the asset names and tags are
shared: this file needs nothing from alignment-drift.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import Asset, dag, task

# the spec's model (its file is specs/<MODEL>.yaml, with retraining.mode: external)
MODEL = os.environ.get("OWNER_TRAINING_MODEL", "credit_risk")
RETRAIN_REQUEST = Asset(
    name=f"alignment_drift.{MODEL}.retrain_request", uri=f"alignment-drift://{MODEL}/retrain-request"
)
CHALLENGER_REGISTERED = Asset(
    name=f"alignment_drift.{MODEL}.challenger_registered", uri=f"alignment-drift://{MODEL}/challenger-registered"
)


def train(request: dict[str, Any]) -> tuple[Any, Any]:
    """Your training code: an estimator fitted on data of your choice, and a few input rows (for its signature).

    This example learns the spec's target from its reference data with a
    gradient-boosting Pipeline.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from alignment_drift.core.spec import load_spec  # your own code would know its columns
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    spec = load_spec(settings.specs_dir / f"{MODEL}.yaml")
    data = pd.read_parquet(settings.resolve_data(spec.reference.training_data))
    roles = spec.columns
    features = ColumnTransformer(
        [
            ("numeric", "passthrough", roles.numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), roles.categorical),
        ]
    )
    model = Pipeline([("features", features), ("classifier", HistGradientBoostingClassifier(random_state=0))])
    model.fit(data[roles.feature_names], data[roles.target].astype(int))
    return model, data[roles.feature_names].head(5)


@dag(
    dag_id=f"owner_training__{MODEL}",
    schedule=[RETRAIN_REQUEST],
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["owner", MODEL],
)
def owner_training() -> None:
    @task(outlets=[CHALLENGER_REGISTERED])
    def train_and_register(*, triggering_asset_events: Any = None, outlet_events: Any = None) -> dict[str, str]:
        import mlflow
        import mlflow.sklearn

        events = list((triggering_asset_events or {}).get(RETRAIN_REQUEST, []))
        extra = dict(events[-1].extra or {}) if events else {}
        request = f"{extra.get('data_interval_start', 'manual')}/{extra.get('data_interval_end', 'manual')}"
        model, example = train(extra)
        mlflow.set_experiment(f"owner-training/{MODEL}")
        with mlflow.start_run(run_name=f"retrain for {request}"):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL,
                input_example=example,
                serialization_format="skops",
                skops_trusted_types=["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"],
            )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_model_version_tag(MODEL, version, "alignment_drift.request", request)
        client.set_registered_model_alias(MODEL, "challenger", version)
        outlet_events[CHALLENGER_REGISTERED].extra = {"version": version, "request": request}
        return {"version": version, "request": request}

    train_and_register()


owner_training()
