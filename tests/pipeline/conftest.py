"""A valid night of the simulated content platform, and a throw-away data root per test."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ROWS = 400


@pytest.fixture(scope="session")
def content_spec() -> Any:
    from alignment_drift.core.spec import load_spec

    return load_spec(ROOT / "specs" / "content_safety.yaml")


@pytest.fixture(scope="session")
def valid_log(content_spec: Any) -> pd.DataFrame:
    """One valid night (``ROWS`` rows), served by a champion fitted on the simulator's training data."""
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.simulate import ContentPlatform

    platform = ContentPlatform("stable", seed=5, rows_per_night=ROWS, start_date=content_spec.start_date)
    model = fit_pipeline(platform.training_data(), content_spec.columns, content_spec.retraining.training)
    return platform.night(1, model, model_version="1")


@dataclass
class Workspace:
    """A data root of its own, the repository's spec and suite, and a fresh copy of the valid night."""

    tmp: Path
    settings: Any
    spec: Any
    log: pd.DataFrame
    monkeypatch: Any = None
    cleanups: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.settings.data_dir

    def batch_path(self, suffix: str = "parquet") -> Path:
        path = self.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def with_path(self, template: str, fmt: str = "parquet") -> Any:
        from alignment_drift.core.spec import FilesSource

        return self.spec.model_copy(update={"source": FilesSource(path=template, format=fmt)})

    def csv_spec(self) -> Any:
        return self.with_path("content_safety/predictions/{date}.csv", "csv")

    def run(self, spec: Any | None = None, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``pull`` then ``validate`` for the night, as the DAG runs them; their results as XCom carries them."""
        from alignment_drift.pipeline.steps.pull import pull
        from alignment_drift.pipeline.steps.validate import validate

        spec = spec or self.spec
        pulled = pull(spec, self.settings, start=START, end=END, **kwargs)
        return pulled.to_xcom(), validate(spec, self.settings, pulled, now=NOW).to_xcom()


@pytest.fixture
def ws(
    tmp_path: Path, content_spec: Any, valid_log: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    from alignment_drift.settings import Settings

    base = Settings.from_env(ROOT)
    data = tmp_path / "data"
    data.mkdir()
    settings = dataclasses.replace(base, data_dir=data, quarantine_dir=data / "quarantine")
    workspace = Workspace(tmp_path, settings, content_spec, valid_log.copy(), monkeypatch)
    yield workspace
    for cleanup in reversed(workspace.cleanups):
        cleanup()
