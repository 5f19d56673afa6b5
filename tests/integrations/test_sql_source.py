"""The ``sql`` source against the machine's real PostgreSQL, through an Airflow connection.

Each test writes prediction logs to a uniquely named table (dropped after). The
data interval is bound as ``:start``/``:end``; rows are streamed in chunks and
snapshotted once as parquet in the night's evidence folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.integrations.conftest import PG_CONN
from tests.pipeline.conftest import END, NOW, START, Workspace


@pytest.fixture(scope="module")
def airflow_connections() -> Any:
    from alignment_drift.airflow.connections import AirflowConnections

    return AirflowConnections()


def _store(engine: Any, table: str, frame: pd.DataFrame) -> None:
    frame.to_sql(table, engine, index=False, method="multi", chunksize=1000)


def _spec(ws: Workspace, table: str, chunk_size: int = 1000) -> Any:
    from alignment_drift.core.spec import SqlSource

    query = f'SELECT * FROM "{table}" WHERE "timestamp" >= :start AND "timestamp" < :end ORDER BY prediction_id'
    return ws.spec.model_copy(update={"source": SqlSource(conn_id=PG_CONN, query=query, chunk_size=chunk_size)})


def _run(ws: Workspace, spec: Any, connections: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import validate

    pulled = pull(spec, ws.settings, start=START, end=END, connections=connections)
    return pulled.to_xcom(), validate(spec, ws.settings, pulled, connections=connections, now=NOW).to_xcom()


def _nights(ws: Workspace, copies: int) -> pd.DataFrame:
    """``copies`` versions of the night inside the interval, and one of the day before (which must not be read)."""
    frames = []
    for i in range(copies):
        night = ws.log.copy()
        night["prediction_id"] = f"c{i}-" + night["prediction_id"]
        frames.append(night)
    before = ws.log.copy()
    before["prediction_id"] = "before-" + before["prediction_id"]
    before["timestamp"] = before["timestamp"] - pd.Timedelta(days=1)
    return pd.concat([*frames, before], ignore_index=True)


def test_the_interval_is_bound_read_in_chunks_and_snapshotted(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.evidence import evidence_dir
    from alignment_drift.integrations.sources import Batch, read_batch

    _store(pg_engine, pg_table, _nights(ws, copies=6))  # 2400 rows in the interval, 400 before it
    pulled, out = _run(ws, _spec(ws, pg_table), airflow_connections)

    snapshot = evidence_dir(ws.settings, ws.spec.model, START, END) / "batch.parquet"
    assert pulled["kind"] == "sql" and pulled["path"] == str(snapshot) and pulled["uri"] == snapshot.as_uri()
    assert pulled["origin"]["rows"] == 2400 and pulled["origin"]["chunks"] == 3
    assert pulled["sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()
    assert "postgres@" not in json.dumps(pulled)  # the URL (with any password) is never stored
    assert out["status"] == "valid", out["reason"]
    frame = read_batch(Batch.from_dict(pulled))
    assert len(frame) == 2400 and not frame["prediction_id"].str.startswith("before-").any()
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    expected = ws.log.sort_values("prediction_id").reset_index(drop=True)
    got = frame[frame["prediction_id"].str.startswith("c0-")].reset_index(drop=True)
    got["prediction_id"] = got["prediction_id"].str.removeprefix("c0-")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_pulling_the_same_night_again_gives_the_same_bytes(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    _store(pg_engine, pg_table, _nights(ws, copies=1))
    first, _ = _run(ws, _spec(ws, pg_table), airflow_connections)
    again, _ = _run(ws, _spec(ws, pg_table), airflow_connections)
    assert again == first


def test_a_label_null_in_the_first_chunk_only_keeps_its_numeric_type(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.sources import Batch, read_batch

    frame = _nights(ws, copies=3).iloc[:-400].sort_values("prediction_id").reset_index(drop=True)
    frame.loc[:1099, "unsafe"] = None  # the whole first chunk has no target label
    _store(pg_engine, pg_table, frame)
    pulled, out = _run(ws, _spec(ws, pg_table), airflow_connections)
    assert out["status"] == "valid", out["reason"]
    assert pulled["origin"]["chunks"] == 2
    assert str(read_batch(Batch.from_dict(pulled))["unsafe"].dtype) == "float64"


def test_an_empty_result_is_quarantined_with_its_snapshot(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    _store(pg_engine, pg_table, _nights(ws, copies=1).tail(400))  # only the day before
    pulled, out = _run(ws, _spec(ws, pg_table), airflow_connections)
    assert out["status"] == "quarantined" and "empty" in out["reason"]
    copy = Path(out["quarantine"]["path"]) / "batch.parquet"
    assert copy.read_bytes() == Path(pulled["path"]).read_bytes()
    assert out["quarantine"]["sha256"] == pulled["sha256"]


def test_bad_rows_quarantine_the_snapshot_byte_for_byte(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    bad = _nights(ws, copies=1)
    bad.loc[:9, "score"] = 1.5
    _store(pg_engine, pg_table, bad)
    pulled, out = _run(ws, _spec(ws, pg_table), airflow_connections)
    assert out["status"] == "quarantined" and "'score'" in out["reason"]
    record = out["quarantine"]
    assert (Path(record["path"]) / "batch.parquet").read_bytes() == Path(pulled["path"]).read_bytes()
    assert record["sha256"] == pulled["sha256"] and record["matches_pull"] is True
    manifest = json.loads(Path(record["manifest_path"]).read_text())
    assert manifest["details"]["batch"]["origin"]["conn_id"] == PG_CONN


def test_a_failing_query_is_a_source_error_not_a_quarantine(
    ws: Workspace, pg_engine: Any, airflow_connections: Any
) -> None:
    # pg_engine defines the connection (AIRFLOW_CONN_...), so the query reaches PostgreSQL and fails there
    from alignment_drift.integrations.sources import SourceError

    with pytest.raises(SourceError, match=PG_CONN) as caught:
        _run(ws, _spec(ws, "ad_test_no_such_table"), airflow_connections)
    assert "Fix:" in str(caught.value)
    assert not ws.settings.quarantine_dir.exists()


def test_interval_parameters_are_bound_never_formatted(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    from alignment_drift.integrations.sources.sql import snapshot_query

    _store(pg_engine, pg_table, _nights(ws, copies=1))
    query = f'SELECT count(*) AS n, min("timestamp") AS first FROM "{pg_table}" WHERE "timestamp" >= :start AND "timestamp" < :end'  # noqa: E501
    url = airflow_connections.sqlalchemy_url(PG_CONN)
    batch = snapshot_query(url, query, start=START, end=END, chunk_size=1000, dest=ws.tmp / "n.parquet",
                           conn_id=PG_CONN, read={})  # fmt: skip
    counted = pd.read_parquet(batch.path)
    assert int(counted["n"].iloc[0]) == 400
    assert counted["first"].iloc[0] >= pd.Timestamp(START) and counted["first"].iloc[0] < pd.Timestamp(END)
    with pytest.raises(ValueError, match=":start and :end"):
        snapshot_query(url, "SELECT 1", start=START, end=END, chunk_size=1000, dest=ws.tmp / "x.parquet",
                       conn_id=PG_CONN, read={})  # fmt: skip
    assert dt.datetime.now(dt.UTC) > END


def test_a_late_sql_batch_is_awaited_and_a_missing_one_is_not_read(
    ws: Workspace, pg_engine: Any, pg_table: str, airflow_connections: Any
) -> None:
    """``source.wait`` on PostgreSQL: the probe sees no row before the night's rows land, then sees them; the
    bounded poll returns as soon as they are there, and gives up at the deadline (no row read either way)."""
    from alignment_drift.integrations.sources import SourceError, batch_landed
    from alignment_drift.pipeline.steps.pull import await_batch

    spec = _spec(ws, pg_table)
    spec = spec.model_copy(update={"source": spec.source.model_copy(update={"wait": 120})})
    _store(pg_engine, pg_table, ws.log.iloc[:0])  # the table exists, the night has not landed
    assert not batch_landed(spec, ws.settings, start=START, end=END, connections=airflow_connections)

    landed_rows: list[int] = []
    now = [END]  # a clock the poll advances by the pauses it takes: the wait's bound is exercised, not slept

    def sleep(seconds: float) -> None:
        now[0] += dt.timedelta(seconds=seconds)
        if now[0] > END + dt.timedelta(seconds=30) and not landed_rows:  # the rows land 30 s after the night
            ws.log.to_sql(pg_table, pg_engine, index=False, if_exists="append", method="multi", chunksize=1000)
            landed_rows.append(len(ws.log))

    landed = await_batch(
        spec, ws.settings, start=START, end=END, connections=airflow_connections, clock=lambda: now[0], sleep=sleep
    )
    assert landed and END + dt.timedelta(seconds=30) < now[0] <= END + dt.timedelta(seconds=120)

    gone = _spec(ws, pg_table).model_copy(update={"source": spec.source.model_copy(update={"wait": 60})})
    later = [END + dt.timedelta(days=2)]
    assert await_batch(gone, ws.settings, start=END, end=END + dt.timedelta(days=1), connections=airflow_connections,
                       clock=lambda: later[0], sleep=lambda s: None) is False  # fmt: skip
    missing_table = 'SELECT * FROM "ad_test_no_such_table" WHERE :start < :end'
    broken = spec.model_copy(update={"source": spec.source.model_copy(update={"query": missing_table})})
    with pytest.raises(SourceError, match="Fix:"):
        batch_landed(broken, ws.settings, start=START, end=END, connections=airflow_connections)
