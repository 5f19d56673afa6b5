"""The retrain DAG of a spec with ``retraining.mode: external``: scheduled on the challenger asset, never trains."""

from __future__ import annotations

from pathlib import Path

import yaml


def _spec(root: Path, tmp_path: Path, **retraining: object):
    from alignment_drift.core.spec import load_spec

    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = "content_ext"
    data["retraining"].update(retraining)
    path = tmp_path / "content_ext.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_spec(path)


def test_external_mode_gates_what_the_owner_registered(root: Path, tmp_path: Path) -> None:
    from alignment_drift.airflow.factory import retrain_dag_for

    dag = retrain_dag_for(_spec(root, tmp_path, mode="external"), root)
    assert dag.dag_id == "alignment_retrain__content_ext"
    assert set(dag.task_ids) == {"request", "collect_challenger", "gate", "decide", "notify_gate_rejected"}
    condition = str(dag.timetable.asset_condition)
    assert "alignment-drift://content_ext/challenger-registered" in condition
    assert "retrain-request" not in condition  # the owner's DAG consumes the request, not this one


def test_external_mode_with_approval_keeps_the_human_in_the_loop(root: Path, tmp_path: Path) -> None:
    from alignment_drift.airflow.factory import retrain_dag_for

    spec = _spec(root, tmp_path, mode="external")
    spec = spec.model_copy(update={"governance": spec.governance.model_copy(update={"approval": "required"})})
    assert {"needs_approval", "approve", "apply_approval"} <= set(retrain_dag_for(spec, root).task_ids)


def test_builtin_mode_is_unchanged(root: Path, tmp_path: Path) -> None:
    from alignment_drift.airflow.factory import retrain_dag_for

    dag = retrain_dag_for(_spec(root, tmp_path), root)
    assert set(dag.task_ids) == {"request", "assemble", "train", "gate", "decide", "notify_gate_rejected"}
