"""The README's "Monitor your own model" commands, run verbatim, give a first verdict for a registered model.

The owner's binary model is registered as ``content_moderation`` (what the
README names), its reference data exported where the README reads it, and two
nights of its prediction log written where the spec ``init`` writes will look
for them; then every line of the section's ``bash`` blocks runs in a shell, in
the project folder, exactly as written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.byom.conftest import OwnedModel


def readme_commands(readme: Path, section: str = "## Monitor your own model") -> list[str]:
    """Every command line of the ``bash`` blocks of a README section."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    body = text[start : end if end != -1 else None]
    blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_section_has_the_five_commands(root: Path) -> None:
    commands = readme_commands(root / "README.md")
    assert [c.split()[:2] for c in commands] == [
        ["alignment-drift", "init"],
        ["alignment-drift", "spec"],
        ["alignment-drift", "adopt"],
        ["alignment-drift", "check"],
        ["airflow", "dags"],
    ]


def _prepare(home: Path, owned: OwnedModel, settings: Any) -> None:
    """What the team has before the README: the model in MLflow, an export of its data, its prediction logs."""
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.models import load_from_registry
    from alignment_drift.integrations.mlflow.store import client

    source = client(settings).get_model_version(owned.name, owned.version).source
    if not registry.find_versions(settings, "content_moderation", "origin", "readme"):
        registry.register_source(settings, "content_moderation", source=source, run_id=None, tags={"origin": "readme"})
    (home / "exports").mkdir()
    owned.reference.to_parquet(home / "exports" / "content_moderation.parquet", index=False)
    model = load_from_registry(settings, owned.uri).model
    platform = ContentPlatform("stable", seed=17, rows_per_night=800, start_date=dt.date(2026, 1, 1))
    for night in (1, 2):
        log = platform.night(night, model, model_version="1")
        path = home / "data" / "content_moderation" / "predictions" / f"2026-01-0{night}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)


@pytest.mark.e2e
@pytest.mark.slow  # about 3 minutes: five commands in fresh processes, one of them a DAG run
def test_the_readme_commands_run_verbatim_to_a_verdict(
    root: Path, tmp_path: Path, airflow_db: Path, owned_models: dict[str, OwnedModel]
) -> None:
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.settings import Settings

    home = tmp_path / "project"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIGNMENT_DRIFT_")}
    env.update(
        ALIGNMENT_DRIFT_HOME=str(home),
        PYTHONPATH=os.pathsep.join([str(root / "plugins"), str(root)]),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    settings = Settings.from_env(home)
    _prepare(home, owned_models["binary"], settings)
    for command in readme_commands(root / "README.md"):
        done = subprocess.run(command, shell=True, cwd=home, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    champion = registry.champion(settings, "content_moderation")
    assert champion is not None and champion.tags["gate"] == "adopted"
    checks = client(settings).search_runs(
        [experiment_id(settings, "content_moderation")], filter_string="tags.kind = 'check'"
    )
    nights = {run.data.tags["data_interval_start"][:10]: run.data.tags for run in checks}
    # check --date 2026-01-01 checked that night; airflow dags test ... 2026-01-03 the night of 2026-01-02
    assert set(nights) == {"2026-01-01", "2026-01-02"}
    assert nights["2026-01-02"]["airflow_dag_id"] == "alignment_monitor__content_moderation"
    for tags in nights.values():
        assert tags["verdict"] in ("aligned", "watch") and tags["model_version"] == champion.version
