"""The bad-input corpus: malformed nights through ``pull`` + ``validate``, each ending as documented.

Every case builds a batch (from a valid simulated night, then corrupted) where
the spec's source reads it, runs the two ingest steps the DAG runs, and checks
the documented outcome: ``quarantined`` with a clear reason, ``accepted``, or
``warning`` (accepted, with the warning surfaced). Never an unhandled
exception. For every quarantined case the quarantined bytes are compared with
the original, byte for byte and by sha256; a refused batch (it escapes the data
root) is quarantined without a single byte of it being read or copied.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.conftest import END, NOW, ROWS, START, Workspace

Case = tuple[str, Callable[[Workspace], Any], str, str]


def _parquet(ws: Workspace, frame: pd.DataFrame) -> None:
    frame.to_parquet(ws.batch_path(), index=False)


def _mutated(change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Callable[[Workspace], Any]:
    """A case that writes the valid night as parquet after ``change`` (in place or returning a new frame)."""

    def build(ws: Workspace) -> Any:
        frame = ws.log
        changed = change(frame)
        _parquet(ws, frame if changed is None else changed)
        return ws.spec

    return build


def _raw(data: bytes | Callable[[Workspace], bytes], suffix: str = "parquet") -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        ws.batch_path(suffix).write_bytes(data(ws) if callable(data) else data)
        return ws.spec if suffix == "parquet" else ws.csv_spec()

    return build


def _csv_text(ws: Workspace) -> str:
    return ws.log.to_csv(index=False)


def _set(column: str, value: Any, rows: slice | None = None, *, dtype: Any = None) -> Callable[[Workspace], Any]:
    """A case that sets ``column`` to ``value`` on ``rows`` (all rows by default)."""

    def change(frame: pd.DataFrame) -> None:
        if dtype is not None:
            frame[column] = frame[column].astype(dtype)
        frame.loc[frame.index[rows] if rows is not None else frame.index, column] = value

    return _mutated(change)


def _parquet_bytes(ws: Workspace) -> bytes:
    path = ws.tmp / "valid.parquet"
    ws.log.to_parquet(path, index=False)
    return path.read_bytes()


# ---- builders of the cases that need more than one mutation --------------------------------------------------


def _valid_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_text(_csv_text(ws), encoding="utf-8")
    return ws.csv_spec()


def _csv_with(ws: Workspace, column: str, value: str) -> Any:
    frame = ws.log.astype({column: object})
    frame.loc[frame.index[5], column] = value
    ws.batch_path("csv").write_text(frame.to_csv(index=False), encoding="utf-8")
    return ws.csv_spec()


def _bom_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_bytes(b"\xef\xbb\xbf" + _csv_text(ws).encode())
    return ws.csv_spec()


def _broken_quote(ws: Workspace) -> Any:
    lines = _csv_text(ws).splitlines()
    lines[50] = lines[50].replace(",", ',"', 1)  # a field opens a quote that never closes
    ws.batch_path("csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ws.csv_spec()


def _latin1(ws: Workspace) -> Any:
    frame = ws.log
    frame.loc[frame.index[:20], "region"] = "café"
    ws.batch_path("csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    return ws.csv_spec()


def _header_only_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_text(",".join(ws.log.columns) + "\n", encoding="utf-8")
    return ws.csv_spec()


def _huge(frame: pd.DataFrame) -> pd.DataFrame:
    big = frame.iloc[np.tile(np.arange(len(frame)), 100)].reset_index(drop=True)
    big["prediction_id"] = np.char.add("big-", np.arange(len(big)).astype(str)).astype(object)
    return big


def _symlink_outside(ws: Workspace) -> Any:
    outside = ws.tmp / "elsewhere" / "secret.parquet"
    outside.parent.mkdir()
    ws.log.to_parquet(outside, index=False)
    ws.batch_path().symlink_to(outside)
    return ws.spec


def _symlink_inside(ws: Workspace) -> Any:
    real = ws.data / "content_safety" / "archive" / "night.parquet"
    real.parent.mkdir(parents=True)
    ws.log.to_parquet(real, index=False)
    ws.batch_path().symlink_to(real)
    return ws.spec


def _symlinked_folder_outside(ws: Workspace) -> Any:
    outside = ws.tmp / "elsewhere"
    outside.mkdir()
    ws.log.to_parquet(outside / f"{START:%Y-%m-%d}.parquet", index=False)
    (ws.data / "content_safety").mkdir()
    (ws.data / "content_safety" / "predictions").symlink_to(outside, target_is_directory=True)
    return ws.spec


def _template_escape(ws: Workspace) -> Any:
    outside = ws.tmp / "outside" / f"{START:%Y-%m-%d}.parquet"
    outside.parent.mkdir()
    ws.log.to_parquet(outside, index=False)
    return ws.with_path("../outside/{date}.parquet")


def _partitions(ws: Workspace, corrupt: bool = False) -> Any:
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    for i, part in enumerate(np.array_split(np.arange(len(ws.log)), 3)):
        target = folder / f"hour={i:02d}" / "part-0000.parquet"
        target.parent.mkdir(parents=True)
        ws.log.iloc[part].to_parquet(target, index=False)
    (folder / "_SUCCESS").write_bytes(b"")
    if corrupt:
        (folder / "hour=01" / "part-0000.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    return ws.with_path("content_safety/predictions/{date}")


def _empty_folder(ws: Workspace) -> Any:
    (ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}").mkdir(parents=True)
    return ws.with_path("content_safety/predictions/{date}")


def _glob(ws: Workspace, *, matches: bool = True, escape: bool = False) -> Any:
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    folder.mkdir(parents=True)
    if matches:
        for i, part in enumerate(np.array_split(np.arange(len(ws.log)), 2)):
            ws.log.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    if escape:
        outside = ws.tmp / "outside.parquet"
        ws.log.head(5).to_parquet(outside, index=False)
        (folder / "part-9.parquet").symlink_to(outside)
    return ws.with_path("content_safety/predictions/{date}/part-*.parquet")


def _duplicate_ids(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[1:11], "prediction_id"] = frame["prediction_id"].iloc[0]


def _shift_time(rows: slice, delta: pd.Timedelta | None = None, to: pd.Timestamp | None = None) -> Callable:
    def change(frame: pd.DataFrame) -> None:
        idx = frame.index[rows]
        frame.loc[idx, "timestamp"] = to if to is not None else frame.loc[idx, "timestamp"] + delta

    return change


def _nan_storm(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    for column in ("toxicity", "sensationalism", "report_rate", "author_reputation"):
        frame.loc[rng.random(len(frame)) < 0.5, column] = np.nan


def _report_rate_nulls(frame: pd.DataFrame) -> None:
    rate = frame["report_rate"].fillna(0.01)
    frame["report_rate"] = rate.where(np.arange(len(frame)) % 12 != 0)  # 8.25 % missing, 10 % tolerated


def _bulk(column: str, value: str, share: float) -> Callable[[Workspace], Any]:
    return _set(column, value, slice(0, int(ROWS * share)))


def _ten_mb_cell(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[7], "category"] = "x" * (10 * 1024 * 1024)


def _engaged_not_shown(frame: pd.DataFrame) -> None:
    hidden = frame.index[frame["shown"] == 0][:5]
    frame.loc[hidden, "engaged"] = 1.0


# id, build, outcome (quarantined | accepted | warning), what the reason or the warning names
CASES: list[Case] = [
    ("valid-parquet", _mutated(lambda f: None), "accepted", ""),
    ("valid-csv", _valid_csv, "accepted", ""),
    ("csv-with-utf8-bom", _bom_csv, "accepted", ""),
    ("zero-byte-parquet", _raw(b""), "quarantined", "unreadable batch"),
    ("zero-byte-csv", _raw(b"", "csv"), "quarantined", "unreadable batch"),
    ("truncated-parquet", _raw(lambda ws: _parquet_bytes(ws)[:-200]), "quarantined", "unreadable batch"),
    ("corrupt-parquet-garbage", _raw(b"PAR1" + bytes(range(256)) * 40 + b"PAR1"), "quarantined", "unreadable batch"),
    ("parquet-bytes-declared-csv", _raw(_parquet_bytes, "csv"), "quarantined", "unreadable batch"),
    ("csv-broken-quote", _broken_quote, "quarantined", "unreadable batch"),
    ("csv-latin1-bytes-in-utf8", _latin1, "quarantined", "unreadable batch"),
    ("empty-table", _mutated(lambda f: f.iloc[:0]), "quarantined", "empty"),
    ("empty-csv-header-only", _header_only_csv, "quarantined", "empty"),
    ("missing-required-column", _mutated(lambda f: f.drop(columns="score")), "quarantined", "'score'"),
    ("missing-id-column", _mutated(lambda f: f.drop(columns="prediction_id")), "quarantined", "prediction_id"),
    ("missing-timestamp-column", _mutated(lambda f: f.drop(columns="timestamp")), "quarantined", "timestamp"),
    ("extra-columns", _mutated(lambda f: f.assign(debug=1, note="x")), "accepted", ""),
    ("renamed-column", _mutated(lambda f: f.rename(columns={"score": "model_score"})), "quarantined", "'score'"),
    ("strings-in-numeric", _mutated(lambda f: f.assign(toxicity=f["toxicity"].map(str))), "quarantined", "toxicity"),
    ("csv-text-in-numeric-column", lambda ws: _csv_with(ws, "toxicity", "high"), "quarantined", "toxicity"),
    ("integer-ids", _mutated(lambda f: f.assign(prediction_id=np.arange(len(f)))), "quarantined", "prediction_id"),
    ("fractional-text-length", _mutated(lambda f: f.assign(text_length=f["text_length"] + 0.5)), "quarantined",
     "text_length"),
    ("all-null-feature", _set("toxicity", np.nan), "quarantined", "toxicity"),
    ("all-null-target-label", _set("unsafe", np.nan), "accepted", ""),
    ("nan-storm", _mutated(_nan_storm), "quarantined", "toxicity"),
    ("report-rate-nulls-within-tolerance", _mutated(_report_rate_nulls), "accepted", ""),
    ("plus-inf-storm", _set("toxicity", np.inf, slice(0, 120)), "quarantined", "toxicity"),
    ("minus-inf-storm", _set("report_rate", -np.inf, slice(0, 120)), "quarantined", "report_rate"),
    ("null-scores", _set("score", np.nan, slice(0, 3)), "quarantined", "'score'"),
    ("duplicate-ids", _mutated(_duplicate_ids), "quarantined", "unique"),
    ("double-export", _mutated(lambda f: pd.concat([f, f], ignore_index=True)), "quarantined", "unique"),
    ("null-ids", _set("prediction_id", None, slice(0, 2)), "quarantined", "prediction_id"),
    ("timestamps-outside-interval", _mutated(_shift_time(slice(0, 80), pd.Timedelta(days=-1))), "quarantined",
     "inside the data interval"),
    ("few-timestamps-outside-interval", _mutated(_shift_time(slice(0, 2), pd.Timedelta(hours=-1))), "warning",
     "inside the data interval"),
    ("timestamps-in-future", _mutated(_shift_time(slice(0, 3), to=pd.Timestamp(NOW) + pd.Timedelta(days=1))),
     "quarantined", "later than now"),
    ("epoch-zero-timestamps", _mutated(_shift_time(slice(0, 5), to=pd.Timestamp(0, tz="UTC"))), "quarantined",
     "timestamp"),
    ("tz-naive-timestamps", _mutated(lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None))),
     "quarantined", "timestamp"),
    ("timestamps-as-text", _mutated(lambda f: f.assign(timestamp=f["timestamp"].astype(str))), "quarantined",
     "timestamp"),
    ("null-timestamps", _set("timestamp", pd.NaT, slice(0, 4)), "quarantined", "timestamp"),
    ("negative-scores", _set("score", -0.2, slice(0, 10)), "quarantined", "'score'"),
    ("scores-above-one", _set("score", 1.7, slice(0, 10)), "quarantined", "'score'"),
    ("prediction-outside-0-1", _set("prediction", 2, slice(0, 3)), "quarantined", "'prediction'"),
    ("exposure-outside-0-1", _set("shown", -1, slice(0, 3)), "quarantined", "'shown'"),
    ("unseen-categories-in-bulk", _bulk("category", "crypto", 0.4), "warning", "'category'"),
    ("unseen-categories-few", _bulk("category", "crypto", 0.01), "accepted", ""),
    ("new-region-rollout", _bulk("region", "mena", 0.3), "warning", "'region'"),
    ("unseen-source-type", _bulk("source_type", "bot", 0.1), "quarantined", "source_type"),
    ("engagement-when-not-shown", _mutated(_engaged_not_shown), "warning", "'engaged'"),
    ("ten-mb-string-cell", _mutated(_ten_mb_cell), "accepted", ""),
    ("unicode-column-name", _mutated(lambda f: f.assign(**{"ñandú_🚀_列": 1})), "accepted", ""),
    ("script-column-name", _mutated(lambda f: f.assign(**{"<script>alert(1)</script>": "x"})), "accepted", ""),
    ("script-values-in-bulk", _bulk("category", "<script>alert('x')</script>", 0.4), "warning",
     "<script>alert('x')</script>"),
    ("unicode-values-in-bulk", _bulk("category", "ニュース 📰", 0.4), "warning", "ニュース 📰"),
    ("huge-batch-100x", _mutated(_huge), "accepted", ""),
    ("single-row", _mutated(lambda f: f.head(1)), "accepted", ""),
    ("symlink-outside-root", _symlink_outside, "quarantined", "not followed"),
    ("symlink-inside-root", _symlink_inside, "accepted", ""),
    ("symlinked-folder-outside-root", _symlinked_folder_outside, "quarantined", "not followed"),
    ("path-template-escapes-root", _template_escape, "quarantined", "leaves its root"),
    ("missing-file", lambda ws: ws.spec, "quarantined", "no batch"),
    ("partitioned-folder", _partitions, "accepted", ""),
    ("partitioned-folder-one-corrupt-part", lambda ws: _partitions(ws, corrupt=True), "quarantined",
     "unreadable batch"),
    ("empty-partition-folder", _empty_folder, "quarantined", "batch"),
    ("glob-of-parts", _glob, "accepted", ""),
    ("glob-matching-nothing", lambda ws: _glob(ws, matches=False), "quarantined", "no batch"),
    ("glob-with-symlink-outside-root", lambda ws: _glob(ws, escape=True), "quarantined", "not followed"),
]  # fmt: skip

REFUSED = {
    "symlink-outside-root",
    "symlinked-folder-outside-root",
    "path-template-escapes-root",
    "glob-with-symlink-outside-root",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _assert_quarantine_is_faithful(case_id: str, pulled: dict[str, Any], out: dict[str, Any], ws: Workspace) -> None:
    from alignment_drift.integrations.quarantine import MANIFEST_NAME, verify_quarantine

    record = out["quarantine"]
    folder = Path(record["path"])
    assert folder == ws.settings.quarantine_dir / "content_safety" / f"{START:%Y-%m-%d}"
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["reason"] == out["reason"]
    assert manifest["data_interval"] == {"start": START.isoformat(), "end": END.isoformat()}
    assert manifest["details"]["counts"]["rows"] == out["rows"]
    assert verify_quarantine(folder) == []
    copied = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.name != MANIFEST_NAME)
    copied = [c for c in copied if (folder / c).is_file()]
    if case_id in REFUSED or not pulled["files"]:
        assert copied == [] and manifest["files"] == [] and record["sha256"] is None
        return
    assert [f["path"] for f in manifest["files"]] == list(pulled["files"]) == sorted(copied, key=lambda r: r.split("/"))
    sources = (
        [Path(pulled["path"])] if pulled["layout"] == "file" else [Path(pulled["path"]) / r for r in pulled["files"]]
    )
    whole = hashlib.sha256()
    for entry, source in zip(manifest["files"], sources, strict=True):
        original, copy = source.read_bytes(), (folder / entry["path"]).read_bytes()
        assert copy == original
        assert entry["sha256"] == _sha(copy) == _sha(original)
        whole.update(original)
    assert record["sha256"] == manifest["sha256"] == whole.hexdigest() == pulled["sha256"]
    assert record["matches_pull"] is True


def test_the_corpus_is_big_and_well_named() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    assert {c[2] for c in CASES} == {"quarantined", "accepted", "warning"}


@pytest.mark.parametrize(("build", "outcome", "names"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_batch(request: pytest.FixtureRequest, ws: Workspace, build: Callable, outcome: str, names: str) -> None:
    case_id = request.node.callspec.id
    spec = build(ws)
    outside_before = {p: p.read_bytes() for p in ws.tmp.rglob("*") if p.is_file() and not p.is_symlink()}
    pulled, out = ws.run(spec)

    json.dumps(pulled, allow_nan=False)
    encoded = json.dumps(out, allow_nan=False)
    assert len(encoded) < 200_000, "the validation result must stay XCom-sized"
    if outcome == "quarantined":
        assert out["status"] == "quarantined", out
        assert names in out["reason"], out["reason"]
        _assert_quarantine_is_faithful(case_id, pulled, out, ws)
    else:
        assert out["status"] == "valid", out["reason"]
        assert out["reason"] is None and out["quarantine"] is None
        assert not ws.settings.quarantine_dir.exists()
        if outcome == "warning":
            assert out["warnings"], out
            assert any(names in w for w in out["warnings"]), out["warnings"]
            assert out["validation"]["warnings"]
        else:
            assert out["warnings"] == [], out["warnings"]
    if case_id in REFUSED:
        assert pulled["refused"] and pulled["sha256"] is None
    for path, data in outside_before.items():  # nothing is ever changed at the source
        assert path.read_bytes() == data, f"{path} changed"


def test_evidence_is_written_and_a_rerun_is_identical(ws: Workspace) -> None:
    from alignment_drift.integrations.evidence import evidence_dir

    _bulk("category", "crypto", 0.4)(ws)
    first_pulled, first = ws.run()
    evidence = evidence_dir(ws.settings, ws.spec.model, START, END) / "validation.json"
    gx_result = json.loads(evidence.read_text())
    checks = {c["type"] for c in gx_result["alignment_drift_checks"]}
    assert checks == {"alignment_drift:timestamps_inside_data_interval", "alignment_drift:timestamps_not_in_the_future"}
    again_pulled, again = ws.run()
    assert again_pulled == first_pulled and again == first


def test_rerun_replaces_the_quarantine_atomically_never_duplicates_it(ws: Workspace) -> None:
    _mutated(_duplicate_ids)(ws)
    _, first = ws.run()
    _, again = ws.run()
    night = ws.settings.quarantine_dir / "content_safety"
    assert sorted(p.name for p in night.iterdir()) == [f"{START:%Y-%m-%d}"]
    assert {k: v for k, v in again.items() if k != "quarantine"} == {
        k: v for k, v in first.items() if k != "quarantine"
    }
    assert again["quarantine"]["sha256"] == first["quarantine"]["sha256"]
    manifest = json.loads(Path(again["quarantine"]["manifest_path"]).read_text())
    assert [h["reason"] for h in manifest["history"]] == [first["reason"]]


def test_a_read_failure_after_a_valid_run_removes_the_stale_evidence(ws: Workspace) -> None:
    from alignment_drift.integrations.evidence import evidence_dir

    _mutated(lambda f: None)(ws)
    ws.run()
    evidence = evidence_dir(ws.settings, ws.spec.model, START, END) / "validation.json"
    assert evidence.exists()
    ws.batch_path().write_bytes(b"")
    _, out = ws.run()
    assert out["status"] == "quarantined" and not evidence.exists()


def test_a_broken_suite_is_a_configuration_error_not_a_quarantine(ws: Workspace, tmp_path: Path) -> None:
    import dataclasses

    from alignment_drift.integrations.gx import SuiteLoadError

    _mutated(lambda f: None)(ws)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "content_safety_predictions.json").write_text("{")
    ws.settings = dataclasses.replace(ws.settings, expectations_dir=tmp_path / "suites")
    with pytest.raises(SuiteLoadError, match="Fix:"):
        ws.run()
    assert not ws.settings.quarantine_dir.exists()


def test_check_batch_override_reads_a_file_elsewhere(ws: Workspace) -> None:
    other = ws.tmp / "candidate.csv"
    other.write_text(_csv_text(ws), encoding="utf-8")
    pulled, out = ws.run(batch=other)
    assert pulled["format"] == "csv" and pulled["path"] == str(other)
    assert out["status"] == "valid"
    assert os.path.exists(other)


def test_every_partition_is_read_and_its_folder_keys_become_columns(ws: Workspace) -> None:
    from alignment_drift.integrations.sources import read_batch
    from alignment_drift.pipeline.steps.pull import pull

    spec = _partitions(ws)
    pulled = pull(spec, ws.settings, start=START, end=END)
    assert pulled.layout == "folder" and pulled.files[0] == "_SUCCESS"
    frame = read_batch(pulled.batch())
    assert len(frame) == ROWS and sorted(frame["hour"].unique()) == ["00", "01", "02"]
    pd.testing.assert_frame_equal(frame.drop(columns="hour"), ws.log)
