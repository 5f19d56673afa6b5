"""A small simulated world shared by the end-to-end DAG tests.

The first champion is trained through the retrain DAG itself (as the demo
does), on the real metadata DB and the real MLflow store of the session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest


@dataclass
class World:
    """The simulated platform, its spec and settings, and helpers to run nights through the DAGs."""

    spec: Any
    settings: Any
    platform: Any
    monitor: Any
    retrain: Any

    def night_start(self, night: int) -> dt.datetime:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night)

    def batch_path(self, night: int) -> Path:
        start = self.night_start(night)
        relative = self.spec.source.path.format(date=f"{start:%Y-%m-%d}", model=self.spec.model, start="", end="")
        return self.settings.resolve_data(relative)

    def write_night(self, night: int, frame: pd.DataFrame) -> Path:
        path = self.batch_path(night)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        return path

    def serve_night(self, night: int, *, version: str | None = None) -> pd.DataFrame:
        """Simulate night ``night`` with the champion (or ``version``) and write its prediction log."""
        from alignment_drift.integrations.mlflow import registry

        version = version or registry.champion(self.settings, self.spec.model).version
        model = registry.load_model(self.settings, self.spec.model, version)
        log = self.platform.night(night, model, model_version=version)
        self.write_night(night, log)
        return log

    def run_monitor(self, night: int) -> Any:
        # dag.test() infers the data interval as the one ending at the logical date
        return self.monitor.test(logical_date=self.night_start(night) + dt.timedelta(days=1))

    def run_retrain(self, night: int, **conf: Any) -> Any:
        return self.retrain.test(run_conf=conf, logical_date=self.night_start(night) + dt.timedelta(days=1, hours=1))

    def check_runs(self, night: int) -> list[Any]:
        from alignment_drift.integrations.mlflow.store import client, experiment_id

        return client(self.settings).search_runs(
            [experiment_id(self.settings, self.spec.model)],
            filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{self.night_start(night).isoformat()}'",
        )


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def retrain_events(asset_uri: str) -> list[dict[str, Any]]:
    """Every retrain-request asset event in the metadata DB, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == asset_uri)
            .order_by(AssetEvent.id)
        ).all()
    return [dict(extra or {}) for (extra,) in rows]


@pytest.fixture(scope="session")
def world(airflow_db: Path, root: Path) -> World:
    from alignment_drift.airflow.factory import monitor_dag, retrain_dag
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.settings import Settings

    settings = Settings.from_env(root)
    spec = load_spec(settings.specs_dir / "content_safety.yaml")
    platform = ContentPlatform("stable", seed=11, rows_per_night=1500, start_date=spec.start_date)
    prepare_data(settings, spec, platform)
    w = World(spec, settings, platform, monitor_dag(spec, root), retrain_dag(spec, root))
    dag_run = w.run_retrain(0, reason="initial champion", as_of=w.night_start(1).isoformat())
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert registry.champion(settings, spec.model) is not None
    return w
