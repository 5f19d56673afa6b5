"""The example owner's training DAG: out of the default DAG folder parse, clean on its own, on the contract's assets."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_default_dag_folder_ignores_the_examples(root: Path) -> None:
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(root / "dags"))
    assert bag.import_errors == {}
    assert not [d for d in bag.dag_ids if d.startswith(("owner_training__", "my_training__", "my_alignment_check__"))]


def test_the_example_parses_and_uses_the_plugins_asset_names(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models import DagBag

    from alignment_drift.airflow.external_dag import challenger_registered_asset

    monkeypatch.setenv("OWNER_TRAINING_MODEL", "credit_risk")
    bag = DagBag(dag_folder=str(root / "dags" / "examples"))
    assert bag.import_errors == {}
    dag = bag.dags["owner_training__credit_risk"]
    # the contract's names, as docs/byom.md documents them (the monitor emits the first, the plugin awaits the second)
    assert "alignment-drift://credit_risk/retrain-request" in str(dag.timetable.asset_condition)
    (outlet,) = dag.get_task("train_and_register").outlets
    assert (outlet.name, outlet.uri) == (
        "alignment_drift.credit_risk.challenger_registered",
        "alignment-drift://credit_risk/challenger-registered",
    )
    expected = challenger_registered_asset("credit_risk")
    assert (outlet.name, outlet.uri) == (expected.name, expected.uri)


def test_the_monitor_emits_the_request_the_example_waits_for(root: Path) -> None:
    from alignment_drift.airflow.factory import build_dags

    monitor = build_dags(root)["alignment_monitor__content_safety"]
    uris = {o.uri for t in monitor.tasks for o in t.outlets}
    assert "alignment-drift://content_safety/retrain-request" in uris


def test_the_operators_example_parses(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models import DagBag

    monkeypatch.setenv("ALIGNMENT_EXAMPLE_MODEL", "content_safety")
    bag = DagBag(dag_folder=str(root / "dags" / "examples"))
    assert bag.import_errors == {}
    training = bag.dags["my_training__content_safety"]
    assert [t.task_id for t in training.topological_sort()] == [
        "validate_batch",
        "train_and_register",
        "alignment_gate",
        "promote",
    ]
    assert bag.dags["my_alignment_check__content_safety"].get_task("alignment_check").spec == "content_safety"
