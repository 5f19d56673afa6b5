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
