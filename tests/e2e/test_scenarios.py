"""Each source of alignment drift alone, through the real DAGs: is it seen, and attributed to the right source?

One fresh model per scenario (a copy of the demo spec under its own model
name, data folder, MLflow experiment and registered model), run night by
night as the demo does: the platform (maybe) deploys its own update, the
champion serves the night, the monitor DAG runs, and every retrain request
it emits runs the retrain DAG. 1,500 rows a night; 8-10 nights each.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import task_states

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Night:
    night: int
    version: str
    platform_version: bool
    verdict: str
    sources: set[str]
    check: dict[str, Any] = field(repr=False)


SCENARIOS = ("stable", "model_update", "covariate_shift", "engagement_feedback")


@pytest.fixture(scope="module")
def specs_dir(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A specs folder with the demo spec and one copy per scenario, so the DAG file (dag.test syncs it) sees them."""
    import shutil

    import yaml

    folder = tmp_path_factory.mktemp("specs")
    shutil.copy(root / "specs" / "content_safety.yaml", folder)
    shutil.copytree(root / "specs" / "content_safety", folder / "content_safety")
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    for scenario in SCENARIOS:
        model = f"cs_{scenario}"
        copy = {**data, "model": model}
        copy["source"] = {**data["source"], "path": f"{model}/predictions/{{date}}.parquet"}
        copy["reference"] = {
            **data["reference"],
            "training_data": f"{model}/training.parquet",
            "audit_set": f"{model}/audit.parquet",
        }
        (folder / f"{model}.yaml").write_text(yaml.safe_dump(copy))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(folder))
        yield folder


def run_scenario(root: Path, scenario: str, nights: int, **platform_kwargs: Any) -> list[Night]:
    """Run ``nights`` nights of ``scenario`` through the real DAGs and read each night's check back."""
    from alignment_drift.airflow.factory import monitor_dag, retrain_dag
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import _new_events, deploy_platform_update, prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.checks import find_check_run
    from alignment_drift.integrations.mlflow.store import client
    from alignment_drift.settings import Settings

    settings = Settings.from_env(root)
    spec = load_spec(settings.specs_dir / f"cs_{scenario}.yaml")
    platform = ContentPlatform(scenario, seed=7, rows_per_night=1500, start_date=spec.start_date, **platform_kwargs)
    prepare_data(settings, spec, platform)
    monitor, retrain = monitor_dag(spec, root), retrain_dag(spec, root)
    asset_uri = spec.retrain_request_asset[1]
    seen = {i for i, _ in _new_events(asset_uri, set())}
    first = night_start(spec.start_date, 1)
    dag_run = retrain.test(run_conf={"reason": "initial champion", "as_of": first.isoformat()}, logical_date=first)
    assert str(dag_run.state) == "success", task_states(dag_run)
    platform_versions: set[str] = set()
    out = []
    for night in range(1, nights + 1):
        start = night_start(spec.start_date, night)
        update = platform.platform_update(night)
        if update is not None:
            platform_versions.add(deploy_platform_update(settings, spec, update))
        champion = registry.champion(settings, spec.model)
        model = registry.load_model(settings, spec.model, champion.version)
        log = platform.night(night, model, model_version=champion.version)
        path = settings.resolve_data(
            spec.source.path.format(date=f"{start:%Y-%m-%d}", model=spec.model, start="", end="")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        dag_run = monitor.test(logical_date=start + dt.timedelta(days=1))
        run_id = find_check_run(settings, spec.model, start.isoformat())
        with tempfile.TemporaryDirectory() as tmp:
            check = json.loads(Path(client(settings).download_artifacts(run_id, "check.json", tmp)).read_text())
        # the night is recorded either way; its run is red only for a verdict in governance.fail_run_on
        states = task_states(dag_run)
        red = check["verdict"] in spec.governance.fail_run_on
        assert str(dag_run.state) == ("failed" if red else "success"), states
        assert {s for t, s in states.items() if t != "finish"} <= {"success", "skipped"}, states
        out.append(
            Night(
                night,
                champion.version,
                champion.version in platform_versions,
                check["verdict"],
                {a["source"] for a in check["attribution"]},
                check,
            )
        )
        for event_id, extra in _new_events(asset_uri, seen):
            seen.add(event_id)
            conf = {
                "reason": extra.get("reason", ""),
                "as_of": extra.get("data_interval_end"),
                "verdict": extra.get("verdict"),
            }
            retrain.test(run_conf=conf, logical_date=start + dt.timedelta(days=1, hours=1))
    return out


def _table(nights: list[Night]) -> str:
    return "\n".join(f"{n.night} v{n.version} {n.verdict} {sorted(n.sources)}" for n in nights)


def test_stable_is_aligned_on_nearly_every_night(airflow_db: Path, root: Path, specs_dir: Path) -> None:
    nights = run_scenario(root, "stable", 10)
    aligned = sum(n.verdict == "aligned" for n in nights)
    # tolerance: at least 90 % of the nights (here 9 of 10) aligned
    assert aligned >= 9, _table(nights)
    assert not any({"model_update", "reward_misspecification"} & n.sources for n in nights), _table(nights)


def test_model_update_is_attributed_to_model_update_only(airflow_db: Path, root: Path, specs_dir: Path) -> None:
    nights = run_scenario(root, "model_update", 8, update_nights=(4,))
    updated = [n for n in nights if n.platform_version]
    assert updated, _table(nights)
    assert updated[0].sources == {"model_update"}, _table(nights)
    assert updated[0].verdict in ("drifting", "misaligned"), _table(nights)
    assert not any({"reward_misspecification", "feedback_loop"} & n.sources for n in nights), _table(nights)


def test_covariate_shift_is_attributed_to_distribution_shift_only(
    airflow_db: Path, root: Path, specs_dir: Path
) -> None:
    nights = run_scenario(root, "covariate_shift", 10)
    assert any("distribution_shift" in n.sources for n in nights), _table(nights)
    assert not any({"model_update", "reward_misspecification"} & n.sources for n in nights), _table(nights)


def test_engagement_feedback_names_reward_misspecification_and_model_update(
    airflow_db: Path, root: Path, specs_dir: Path
) -> None:
    nights = run_scenario(root, "engagement_feedback", 10, update_nights=(2, 4, 6, 8))
    sources = set().union(*(n.sources for n in nights if n.platform_version))
    assert {"reward_misspecification", "model_update"} <= sources, _table(nights)
    last = [n for n in nights if n.platform_version][-1]
    assert "model_update" in last.sources and last.verdict in ("drifting", "misaligned"), _table(nights)
    # the incident of a misaligned night validates against its schema and names the failing benchmarks
    bad = next(n for n in nights if n.verdict == "misaligned")
    from alignment_drift.integrations.incidents import build_incident

    incident = build_incident(bad.check, mlflow_run_id="x")
    assert incident["signals"] and all(
        s["threshold"] is not None for s in incident["signals"] if s["kind"] == "metric_floor"
    )
