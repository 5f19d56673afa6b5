"""Many models: 100 specs parse from the one DAG file well within Airflow's timeouts, in the configured pool."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

MODELS = 100


@pytest.fixture(scope="module")
def many(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, float]:
    """The DagBag of ``dags/`` over 100 copies of the demo spec, with the pool set, and its parse seconds."""
    from airflow.models import DagBag

    specs = tmp_path_factory.mktemp("specs")
    text = (root / "specs" / "content_safety.yaml").read_text()
    shutil.copytree(root / "specs" / "content_safety", specs / "content_safety")
    for i in range(MODELS):
        name = f"model_{i:03d}"
        (specs / f"{name}.yaml").write_text(re.sub(r"^model: content_safety$", f"model: {name}", text, flags=re.M))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        patch.setenv("ALIGNMENT_DRIFT_POOL", "alignment_drift")
        began = time.perf_counter()
        bag = DagBag(dag_folder=str(root / "dags"))
        seconds = time.perf_counter() - began
    return bag, seconds


def test_100_specs_parse_within_airflows_timeouts_with_margin(many: tuple[Any, float]) -> None:
    from airflow.configuration import conf

    bag, seconds = many
    assert bag.import_errors == {}
    assert len([d for d in bag.dag_ids if d.startswith("alignment_monitor__model_")]) == MODELS
    assert len(bag.dag_ids) == 3 * MODELS
    import_timeout = conf.getfloat("core", "dagbag_import_timeout")  # 30 s by default
    processor_timeout = conf.getfloat("dag_processor", "dag_file_processor_timeout")  # 50 s by default
    parse = max(stat.duration.total_seconds() for stat in bag.dagbag_stats)
    assert parse < import_timeout / 2, f"100 specs took {parse:.1f} s to parse (timeout {import_timeout} s)"
    assert seconds < processor_timeout / 2


def test_every_task_runs_in_the_configured_pool_with_the_tail_first(many: tuple[Any, float]) -> None:
    bag, _ = many
    for dag in bag.dags.values():
        assert {task.pool for task in dag.tasks} == {"alignment_drift"}, dag.dag_id
    monitor = bag.dags["alignment_monitor__model_000"]
    weight = {task.task_id: task.priority_weight for task in monitor.tasks}
    assert {task.weight_rule for task in monitor.tasks} == {"absolute"} or all(
        str(getattr(task.weight_rule, "value", task.weight_rule)).endswith("absolute") for task in monitor.tasks
    )
    heavy = ("pull", "validate", "partitions", "profile_partition", "drift", "benchmarks")
    for tail in ("record", "finish", "request_retrain"):
        assert all(weight[tail] > weight[step] for step in heavy), weight


def test_the_default_pool_is_airflows_own(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.airflow.common import task_defaults

    monkeypatch.delenv("ALIGNMENT_DRIFT_POOL", raising=False)
    assert task_defaults()["pool"] == "default_pool"


def test_the_statistics_are_mapped_over_partition_groups(many: tuple[Any, float]) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    monitor = many[0].dags["alignment_monitor__model_000"]
    mapped = monitor.get_task("profile_partition")
    assert isinstance(mapped, MappedOperator)
    assert monitor.get_task("drift").upstream_task_ids == {"pull", "validate", "profile_partition"}
    # the ordering of concurrent nights is kept
    trend = monitor.get_task("trend")
    assert trend.depends_on_past and trend.wait_for_downstream
    assert "record" in trend.downstream_task_ids
