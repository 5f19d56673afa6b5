"""The ``object_store`` source against a real S3 HTTP API (moto server on loopback) and file:// URIs.

Credentials come from an Airflow connection (``AIRFLOW_CONN_AD_TEST_S3``),
resolved at the edge by :mod:`alignment_drift.airflow.connections`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.integrations.conftest import S3_CONN, s3_connection
from tests.pipeline.conftest import END, NOW, START, Workspace


@pytest.fixture(scope="module")
def airflow_connections() -> Any:
    from alignment_drift.airflow.connections import AirflowConnections

    return AirflowConnections()


def _spec(ws: Workspace, uri: str, fmt: str = "parquet", conn_id: str | None = S3_CONN) -> Any:
    from alignment_drift.core.spec import ObjectStoreSource

    return ws.spec.model_copy(update={"source": ObjectStoreSource(uri=uri, conn_id=conn_id, format=fmt)})


def _run(ws: Workspace, spec: Any, connections: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import validate

    pulled = pull(spec, ws.settings, start=START, end=END, connections=connections)
    return pulled.to_xcom(), validate(spec, ws.settings, pulled, connections=connections, now=NOW).to_xcom()


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _key(bucket: str, name: str = f"{START:%Y-%m-%d}.parquet") -> str:
    return f"{bucket}/content_safety/{name}"


def test_a_valid_night_on_s3_is_pulled_fingerprinted_and_read(
    ws: Workspace, bucket: str, s3fs_client: Any, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.sources import Batch, read_batch

    data = _parquet_bytes(ws.log)
    s3fs_client.pipe(_key(bucket), data)
    spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}.parquet")
    pulled, out = _run(ws, spec, airflow_connections)

    assert pulled["kind"] == "object_store" and pulled["layout"] == "file"
    assert pulled["uri"] == f"s3://{_key(bucket)}" and pulled["protocol"] == "s3"
    assert pulled["sha256"] == hashlib.sha256(data).hexdigest() and pulled["bytes"] == len(data)
    assert pulled["conn_id"] == S3_CONN
    assert "testing-secret" not in json.dumps(pulled) and "testing-secret" not in json.dumps(out)
    assert out["status"] == "valid", out["reason"]
    # later steps call read_batch(Batch.from_dict(pulled)) without a resolver: importing the edge module registered one
    frame = read_batch(Batch.from_dict(pulled))
    pd.testing.assert_frame_equal(frame, ws.log)


def test_a_corrupt_object_is_downloaded_into_quarantine_byte_for_byte(
    ws: Workspace, bucket: str, s3fs_client: Any, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.quarantine import verify_quarantine

    data = _parquet_bytes(ws.log)[:-300]
    s3fs_client.pipe(_key(bucket), data)
    spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}.parquet")
    pulled, out = _run(ws, spec, airflow_connections)

    assert out["status"] == "quarantined" and "unreadable batch" in out["reason"]
    record = out["quarantine"]
    copy = Path(record["path"]) / f"{START:%Y-%m-%d}.parquet"
    assert copy.read_bytes() == data == s3fs_client.cat(_key(bucket))
    assert record["sha256"] == hashlib.sha256(data).hexdigest() == pulled["sha256"]
    assert record["matches_pull"] is True and verify_quarantine(Path(record["path"])) == []
    manifest = json.loads(Path(record["manifest_path"]).read_text())
    assert manifest["source"] == f"s3://{_key(bucket)}"
    assert manifest["details"]["batch"]["conn_id"] == S3_CONN

    _, again = _run(ws, spec, airflow_connections)  # a rerun replaces the quarantine, never duplicates it
    assert again["quarantine"]["path"] == record["path"] and again["quarantine"]["sha256"] == record["sha256"]
    assert [p.name for p in Path(record["path"]).parent.iterdir()] == [f"{START:%Y-%m-%d}"]


def test_a_missing_object_is_quarantined_with_nothing_to_copy(
    ws: Workspace, bucket: str, airflow_connections: Any
) -> None:
    spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}.parquet")
    pulled, out = _run(ws, spec, airflow_connections)
    assert pulled["layout"] == "missing" and pulled["sha256"] is None
    assert out["status"] == "quarantined" and out["reason"].startswith("no batch")
    assert out["quarantine"]["files"] == []


def test_a_prefix_of_partitions_and_a_glob_are_read_and_quarantined_whole(
    ws: Workspace, bucket: str, s3fs_client: Any, airflow_connections: Any
) -> None:
    night = f"{bucket}/content_safety/{START:%Y-%m-%d}"
    halves = [ws.log.iloc[:200], ws.log.iloc[200:]]
    for i, half in enumerate(halves):
        s3fs_client.pipe(f"{night}/hour={i:02d}/part-0.parquet", _parquet_bytes(half))
    s3fs_client.pipe(f"{night}/_SUCCESS", b"")

    folder_spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}")
    pulled, out = _run(ws, folder_spec, airflow_connections)
    assert pulled["layout"] == "folder" and pulled["files"] == ["_SUCCESS", "hour=00/part-0.parquet",
                                                                 "hour=01/part-0.parquet"]  # fmt: skip
    assert out["status"] == "valid", out["reason"]

    glob_spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}/hour=*/part-*.parquet")
    pulled, out = _run(ws, glob_spec, airflow_connections)
    assert pulled["layout"] == "glob" and pulled["files"] == ["hour=00/part-0.parquet", "hour=01/part-0.parquet"]
    assert out["status"] == "valid", out["reason"]

    broken = b"PAR1 broken PAR1"
    s3fs_client.pipe(f"{night}/hour=01/part-0.parquet", broken)
    pulled, out = _run(ws, folder_spec, airflow_connections)
    assert out["status"] == "quarantined"
    folder = Path(out["quarantine"]["path"])
    for rel in pulled["files"]:
        assert (folder / rel).read_bytes() == s3fs_client.cat(f"{night}/{rel}")
    assert out["quarantine"]["sha256"] == pulled["sha256"]


def test_csv_on_s3_is_parsed_like_a_local_csv(
    ws: Workspace, bucket: str, s3fs_client: Any, airflow_connections: Any
) -> None:
    s3fs_client.pipe(_key(bucket, f"{START:%Y-%m-%d}.csv"), ws.log.to_csv(index=False).encode())
    pulled, out = _run(ws, _spec(ws, f"s3://{bucket}/content_safety/{{date}}.csv", "csv"), airflow_connections)
    assert pulled["format"] == "csv" and out["status"] == "valid", out["reason"]


def test_a_uri_template_that_leaves_its_root_is_refused_unread(
    ws: Workspace, bucket: str, s3fs_client: Any, airflow_connections: Any
) -> None:
    s3fs_client.pipe(f"{bucket}/secrets/{START:%Y-%m-%d}.parquet", _parquet_bytes(ws.log))
    spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}/../../secrets/{{date}}.parquet")
    pulled, out = _run(ws, spec, airflow_connections)
    assert pulled["layout"] == "refused" and pulled["sha256"] is None
    assert out["status"] == "quarantined" and "leaves its root" in out["reason"]
    assert out["quarantine"]["files"] == []


def test_an_unreachable_store_is_a_source_error_naming_the_connection(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.sources import SourceError
    from tests.integrations.conftest import _free_port

    config = {"config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}}}
    dead = s3_connection(f"http://127.0.0.1:{_free_port()}", storage_options=config)
    monkeypatch.setenv("AIRFLOW_CONN_AD_TEST_DEAD", dead)
    spec = _spec(ws, "s3://nowhere/content_safety/{date}.parquet", conn_id="ad_test_dead")
    with pytest.raises(SourceError, match="ad_test_dead") as caught:
        _run(ws, spec, airflow_connections)
    assert "Fix:" in str(caught.value)
    assert not ws.settings.quarantine_dir.exists()


def test_an_undefined_connection_says_how_to_define_it(ws: Workspace, airflow_connections: Any) -> None:
    from alignment_drift.airflow.connections import ConnectionNotFound

    spec = _spec(ws, "s3://b/content_safety/{date}.parquet", conn_id="ad_test_never_defined")
    with pytest.raises(ConnectionNotFound, match="AIRFLOW_CONN_AD_TEST_NEVER_DEFINED"):
        _run(ws, spec, airflow_connections)


def test_file_uris_are_read_through_fsspec_and_symlinks_out_of_the_root_refused(
    ws: Workspace, airflow_connections: Any
) -> None:
    store = ws.tmp / "store"
    (store / "content_safety").mkdir(parents=True)
    ws.log.to_parquet(store / "content_safety" / f"{START:%Y-%m-%d}.parquet", index=False)
    spec = _spec(ws, f"file://{store}/content_safety/{{date}}.parquet", conn_id=None)
    pulled, out = _run(ws, spec, None)
    assert pulled["kind"] == "object_store" and pulled["protocol"] == "file"
    assert out["status"] == "valid", out["reason"]

    outside = ws.tmp / "outside.parquet"
    ws.log.to_parquet(outside, index=False)
    target = store / "content_safety" / f"{START:%Y-%m-%d}.parquet"
    os.remove(target)
    target.symlink_to(outside)
    pulled, out = _run(ws, spec, None)
    assert pulled["layout"] == "refused" and "not followed" in out["reason"]
    assert out["quarantine"]["files"] == []


def test_a_fixed_batch_is_uploaded_back_on_release(
    ws: Workspace,
    bucket: str,
    s3fs_client: Any,
    airflow_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    from alignment_drift.cli import main

    s3fs_client.pipe(_key(bucket), b"garbage")
    spec = _spec(ws, f"s3://{bucket}/content_safety/{{date}}.parquet")
    assert _run(ws, spec, airflow_connections)[1]["status"] == "quarantined"
    spec_path = ws.tmp / "content_safety.yaml"
    spec_path.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(ws.data))
    fixed = ws.tmp / "fixed.parquet"
    ws.log.to_parquet(fixed, index=False)
    argv = ["release-quarantine", "content_safety", "--date", f"{START:%Y-%m-%d}", "--spec", str(spec_path)]
    assert main([*argv, "--reason", "re-exported", "--batch", str(fixed)]) == 0, capsys.readouterr().err
    assert s3fs_client.cat(_key(bucket)) == fixed.read_bytes()
    assert _run(ws, spec, airflow_connections)[1]["status"] == "valid"
