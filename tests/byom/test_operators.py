"""The check operator on an owner's multiclass model (a RandomForest on wine), its spec given by file."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.byom.conftest import OwnedModel, Project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # init, adopt and one check: about 30 s


def test_the_check_operator_checks_a_multiclass_night(owned_models: dict[str, OwnedModel], project: Project) -> None:
    from alignment_drift.airflow.operators import AlignmentCheckOperator
    from alignment_drift.cli import main
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.pipeline.adopt import adopt
    from tests.byom.test_nights import START, Owner

    owned = owned_models["multiclass"]
    name = "ops_wine"
    reference = project.home / "wine-reference.parquet"
    owned.reference.to_parquet(reference, index=False)
    args = ["init", "--model-uri", owned.uri, "--reference", str(reference), "--target", owned.target]
    assert main([*args, "--name", name, "--start-date", START.isoformat(), *owned.init_options]) == 0
    spec_path = project.settings.specs_dir / f"{name}.yaml"
    spec = load_spec(spec_path)
    version = adopt(spec, project.settings, owned.uri, reason="operators test").version
    owner = Owner(owned, spec_path, spec, project.settings, project.home, version)
    owner.serve(1)
    start = owner.night_start(1)
    context: Any = {"data_interval_start": start, "data_interval_end": start + dt.timedelta(days=1), "run_id": "r1"}
    summary = AlignmentCheckOperator(task_id="check", spec=str(spec_path), fail_on=[]).execute(context)
    (run,) = client(project.settings).search_runs(
        [experiment_id(project.settings, name)], filter_string="tags.kind = 'check'"
    )
    assert summary["mlflow_run_id"] == run.info.run_id and summary["verdict"] == run.data.tags["verdict"]
    assert summary["verdict"] in ("aligned", "watch") and run.data.tags["model_version"] == version
