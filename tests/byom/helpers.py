"""Helpers shared by the bring-your-own-model tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tests.byom.conftest import OwnedModel


def write_reference(tmp: Path, owned: OwnedModel) -> Path:
    """The owner's reference data as a parquet file outside the project (what they pass to ``init``)."""
    path = tmp / f"{owned.name}-reference.parquet"
    owned.reference.to_parquet(path, index=False)
    return path


def spec_for(owned: OwnedModel, settings: Any, *, name: str) -> Any:
    """A spec for ``owned`` planned by ``init``'s planner, with its data split written below the data root."""
    from alignment_drift.core.spec import parse_spec
    from alignment_drift.integrations.mlflow.models import load_from_registry
    from alignment_drift.integrations.scaffold import plan_spec

    loaded = load_from_registry(settings, owned.uri, trusted_types=owned.trusted_types)
    plan = plan_spec(
        loaded.model,
        loaded.inputs,
        owned.reference,
        name=name,
        target=owned.target,
        trusted_types=owned.trusted_types,
        audit_fraction=owned.audit_fraction,
        inputs_from=loaded.inputs_from,
    )
    for relative, frame in (
        (plan.spec["reference"]["training_data"], plan.training),
        (plan.spec["reference"]["audit_set"], plan.audit),
    ):
        path = settings.resolve_data(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    return parse_spec(plan.spec)


def reference_frame(owned: OwnedModel) -> pd.DataFrame:
    return owned.reference.copy()


def content_project(settings: Any, root: Path, *, model: str, seed: int = 5, **changes: Any) -> Any:
    """The demo's spec renamed ``model`` (with ``changes`` per section), its probes and simulated data, in a project.

    ``changes`` maps a top-level section to the fields to set in it, e.g.
    ``retraining={"training": {"estimator": "hist_gradient_boosting"}}`` (``None`` removes a field).
    """
    import datetime as dt
    import shutil

    import yaml

    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform

    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = model
    data["reference"] = {"training_data": f"{model}/training.parquet", "audit_set": f"{model}/audit.parquet"}
    for section, fields in changes.items():
        if isinstance(data.get(section), dict) and isinstance(fields, dict):
            for key, value in fields.items():
                if isinstance(value, dict) and isinstance(data[section].get(key), dict):
                    merged = {**data[section][key], **value}
                    data[section][key] = {k: v for k, v in merged.items() if v is not None}
                else:
                    data[section][key] = value
        else:
            data[section] = fields
    path = settings.specs_dir / f"{model}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    shutil.copytree(root / "specs" / "content_safety", settings.specs_dir / "content_safety", dirs_exist_ok=True)
    spec = load_spec(path)
    platform = ContentPlatform("stable", seed=seed, rows_per_night=500, start_date=dt.date(2026, 1, 1))
    prepare_data(settings, spec, platform)
    return spec
