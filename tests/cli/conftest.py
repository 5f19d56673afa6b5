"""A model with a real champion, MLflow record and data root, for the commands that check a night.

:func:`trained` copies the demo's spec under a model name of the test module's
own, trains a champion with the retrain pipeline's steps and points
``ALIGNMENT_DRIFT_DATA_DIR`` at a fresh data root while the module runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml


@dataclass
class Setup:
    """A trained model: its spec (file and object), settings, simulator, champion and its version."""

    model_name: str
    spec_path: Path
    spec: Any
    settings: Any
    platform: Any
    model: Any
    version: str

    def night_path(self, day: dt.date) -> Path:
        return self.settings.data_dir / self.model_name / "predictions" / f"{day:%Y-%m-%d}.parquet"

    def log(self, night: int) -> tuple[dt.date, pd.DataFrame]:
        """Night ``night``'s prediction log as the champion serves it, and its date."""
        from alignment_drift.demo.simulate.content import night_start

        log = self.platform.night(night, self.model, model_version=self.version)
        return night_start(self.spec.start_date, night).date(), log

    def serve(self, night: int) -> tuple[dt.date, pd.DataFrame]:
        """Write night ``night``'s log where the spec's source reads it."""
        day, log = self.log(night)
        path = self.night_path(day)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        return day, log


@contextlib.contextmanager
def trained(root: Path, tmp: Path, model: str) -> Iterator[Setup]:
    """A champion for ``model`` (a copy of the demo's spec) and a data root in ``tmp``, while the block runs."""
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = model
    data["source"]["path"] = f"{model}/predictions/{{date}}.parquet"
    data["reference"].update(training_data=f"{model}/training.parquet", audit_set=f"{model}/audit.parquet")
    spec_path = tmp / f"{model}.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp / "data"))
        settings = Settings.from_env(root)
        spec = load_spec(spec_path)
        platform = ContentPlatform("stable", seed=21, rows_per_night=600, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        key = f"{model}/initial"
        assembled = retrain.assemble(spec, settings, as_of=night_start(spec.start_date, 1), key=key)
        trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
        decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
        assert decided["decision"] == "promoted", decided
        version = registry.champion(settings, model).version
        champion = registry.load_model(settings, model, version)
        yield Setup(model, spec_path, spec, settings, platform, champion, version)
