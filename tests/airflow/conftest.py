"""A project of its own for the operator tests: the demo's spec as ``ops_demo``, its data and a first champion.

Built once per module (the champion is trained by the retrain pipeline's own
steps, on the session's MLflow store); the environment points every operator
and DAG at it while the module runs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MODEL = "ops_demo"


@dataclass
class Ops:
    """The project: its home, settings, spec and simulated platform."""

    home: Path
    settings: Any
    spec: Any
    platform: Any

    def start(self, night: int) -> dt.datetime:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night)

    def champion(self) -> str:
        from alignment_drift.integrations.mlflow import registry

        return registry.champion(self.settings, MODEL).version

    def serve(self, night: int) -> Any:
        """Night ``night`` served by the champion, written where the spec's source reads it."""
        from alignment_drift.integrations.mlflow import registry

        version = self.champion()
        log = self.platform.night(night, registry.load_model(self.settings, MODEL, version), model_version=version)
        return self.write(night, log)

    def write(self, night: int, log: Any) -> Any:
        relative = self.spec.source.path.format(date=f"{self.start(night):%Y-%m-%d}", model=MODEL, start="", end="")
        path = self.settings.resolve_data(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        return log


@pytest.fixture(scope="module")
def ops(airflow_db: Path, root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    from tests.byom.helpers import content_project

    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.pipeline import retrain as steps
    from alignment_drift.settings import Settings

    home = tmp_path_factory.mktemp("operators")
    with pytest.MonkeyPatch.context() as patch:
        for sub in ("specs", "data"):
            (home / sub).mkdir()
        shutil.copytree(root / "expectations", home / "expectations")
        env = {
            "ALIGNMENT_DRIFT_HOME": str(home),
            "ALIGNMENT_DRIFT_SPECS_DIR": str(home / "specs"),
            "ALIGNMENT_DRIFT_EXPECTATIONS_DIR": str(home / "expectations"),
            "ALIGNMENT_DRIFT_DATA_DIR": str(home / "data"),
        }
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("ALIGNMENT_DRIFT_QUARANTINE_DIR", raising=False)
        settings = Settings.from_env(home)
        spec = content_project(settings, root, model=MODEL)
        platform = ContentPlatform("stable", seed=5, rows_per_night=500, start_date=spec.start_date)
        ops = Ops(home, settings, spec, platform)
        key = f"{MODEL}/initial"
        assembled = steps.assemble(spec, settings, as_of=ops.start(1), key=key)
        trained = steps.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
        decided = steps.decide_promotion(spec, settings, trained, steps.gate(spec, settings, trained))
        assert decided["decision"] == "promoted", decided
        yield ops
