"""Resuming a run with MLflow's fluent API works whatever experiment the process made active before."""

from __future__ import annotations

import pytest


def test_in_run_resumes_a_run_of_another_experiment_than_the_active_one() -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from alignment_drift.integrations.mlflow.store import client, experiment_id, in_run
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    run = client(settings).create_run(experiment_id(settings, "store_resume"))
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment("someone-elses-experiment")  # e.g. an owner's training code in the same process
    with pytest.raises(MlflowException, match="active experiment ID does not match"):
        mlflow.start_run(run_id=run.info.run_id)
    with in_run(settings, run.info.run_id):
        mlflow.log_param("resumed", "yes")
    assert client(settings).get_run(run.info.run_id).data.params == {"resumed": "yes"}


def test_the_experiment_opens_on_the_model_development_view_new_or_made_by_an_earlier_release() -> None:
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    mlflow_client = client(settings)
    made = mlflow_client.get_experiment(experiment_id(settings, "store_kind_new"))
    assert made.tags["mlflow.experimentKind"] == "custom_model_development"

    # an experiment created without the tag (as earlier releases did) gets it on its next use
    old = mlflow_client.create_experiment("alignment-drift/store_kind_old", tags={"model": "store_kind_old"})
    assert "mlflow.experimentKind" not in mlflow_client.get_experiment(old).tags
    assert experiment_id(settings, "store_kind_old") == old
    assert mlflow_client.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"
