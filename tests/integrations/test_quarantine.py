"""Behaviour of quarantining a batch's original bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alignment_drift.integrations import quarantine as q

NIGHT = "2024-05-01T00:00:00+00:00"
MIB = 1 << 20


def _blob(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _put(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _single_file(tmp: Path) -> tuple[Path, dict[str, bytes]]:
    files = {"predictions.parquet": _blob(3 * MIB + 17, seed=1)}
    _put(tmp, "predictions.parquet", files["predictions.parquet"])
    return tmp / "predictions.parquet", files


def _partition_folder(tmp: Path) -> tuple[Path, dict[str, bytes]]:
    files = {
        "hour=00/part-0000.parquet": _blob(70_000, seed=2),
        "hour=00/part-0001.parquet": _blob(MIB, seed=3),
        "hour=01/region=eu/part-0000.parquet": _blob(5, seed=4),
        "_SUCCESS": b"",
    }
    for rel, data in files.items():
        _put(tmp / "batch", rel, data)
    return tmp / "batch", files


def _empty_folder(tmp: Path) -> tuple[Path, dict[str, bytes]]:
    (tmp / "empty").mkdir(parents=True)
    return tmp / "empty", {}


def _missing(tmp: Path) -> tuple[Path, dict[str, bytes]]:
    return tmp / "never-written.parquet", {}


LAYOUTS: list[tuple[str, Callable[[Path], tuple[Path, dict[str, bytes]]], bool]] = [
    ("single-file", _single_file, True),
    ("folder-of-partitions", _partition_folder, True),
    ("empty-folder", _empty_folder, True),
    ("missing-source", _missing, False),
]


def _quarantine(source: Path, root: Path, **overrides: object) -> q.QuarantineRecord:
    kwargs: dict = {
        "quarantine_root": root,
        "model": "content-safety",
        "interval_start": NIGHT,
        "reason": "critical expectation failures",
        "details": {"critical_failures": 2, "columns": ["score", "prediction_id"]},
    }
    return q.quarantine_batch(source, **{**kwargs, **overrides})


def _siblings(record: q.QuarantineRecord) -> list[str]:
    return sorted(p.name for p in record.path.parent.iterdir())


@pytest.mark.parametrize(("layout", "exists"), [pytest.param(*c[1:], id=c[0]) for c in LAYOUTS])
def test_quarantine_copies_original_bytes_and_writes_manifest(tmp_path: Path, layout: Callable, exists: bool) -> None:
    source, files = layout(tmp_path / "src")
    record = _quarantine(source, tmp_path / "quarantine")

    assert record.path == tmp_path / "quarantine" / "content-safety" / NIGHT
    copied = {
        p.relative_to(record.path).as_posix()
        for p in record.path.rglob("*")
        if p.is_file() and p.name != q.MANIFEST_NAME
    }
    assert copied == set(files)
    for rel, data in files.items():
        assert (record.path / rel).read_bytes() == data
        original = source / rel if source.is_dir() else source
        assert (record.path / rel).read_bytes() == original.read_bytes()
        assert q.sha256_file(record.path / rel) == hashlib.sha256(data).hexdigest()

    manifest = json.loads(record.manifest_path.read_text(encoding="utf-8"))
    assert manifest["schema"] == "alignment-drift/quarantine@1"
    assert (manifest["model"], manifest["interval_start"]) == ("content-safety", NIGHT)
    assert manifest["reason"] == "critical expectation failures"
    assert manifest["details"]["columns"] == ["score", "prediction_id"]
    assert manifest["source_exists"] is exists
    assert manifest["files"] == [
        {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for rel, data in sorted(files.items())
    ]
    assert [f.to_dict() for f in record.files] == manifest["files"]
    stamp = dt.datetime.fromisoformat(manifest["quarantined_at"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=1)
    json.dumps(record.to_dict(), allow_nan=False)
    assert _siblings(record) == [NIGHT]  # no temporary folder left behind


def test_requarantine_of_the_same_night_replaces_the_contents(tmp_path: Path) -> None:
    folder, _ = _partition_folder(tmp_path / "first")
    _quarantine(folder, tmp_path / "quarantine", reason="first attempt")
    single, files = _single_file(tmp_path / "second")
    record = _quarantine(single, tmp_path / "quarantine", reason="second attempt")

    left = sorted(p.relative_to(record.path).as_posix() for p in record.path.rglob("*"))
    assert left == sorted([q.MANIFEST_NAME, *files])
    manifest = json.loads(record.manifest_path.read_text(encoding="utf-8"))
    assert manifest["reason"] == "second attempt"
    assert [f["path"] for f in manifest["files"]] == list(files)
    assert _siblings(record) == [NIGHT]


def test_a_corrupt_copy_raises_and_keeps_the_previous_quarantine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, files = _single_file(tmp_path / "src")
    good = _quarantine(source, tmp_path / "quarantine", reason="good")

    def corrupting_copy(src: Path, dst: Path) -> None:
        dst.write_bytes(src.read_bytes()[:-1] + b"\x00")

    monkeypatch.setattr(q, "_copy_bytes", corrupting_copy)
    with pytest.raises(q.QuarantineError, match="does not match") as caught:
        _quarantine(source, tmp_path / "quarantine", reason="bad")
    assert str(source) in str(caught.value) and "Fix:" in str(caught.value)
    manifest = json.loads(good.manifest_path.read_text(encoding="utf-8"))
    assert manifest["reason"] == "good"
    assert (good.path / "predictions.parquet").read_bytes() == files["predictions.parquet"]
    assert _siblings(good) == [NIGHT]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        pytest.param({"model": ""}, ValueError, id="empty-model"),
        pytest.param({"model": "../etc"}, ValueError, id="model-with-separator"),
        pytest.param({"interval_start": ".."}, ValueError, id="interval-dotdot"),
        pytest.param({"interval_start": "2024/05/01"}, ValueError, id="interval-slash"),
        pytest.param({"reason": "  "}, ValueError, id="blank-reason"),
        pytest.param({"details": ["not", "a", "dict"]}, TypeError, id="details-not-dict"),
    ],
)
def test_bad_arguments_are_rejected_before_anything_is_written(
    tmp_path: Path, overrides: dict, error: type[Exception]
) -> None:
    source, _ = _single_file(tmp_path / "src")
    with pytest.raises(error, match="Fix:"):
        _quarantine(source, tmp_path / "quarantine", **overrides)
    assert not (tmp_path / "quarantine").exists()


def test_details_with_numpy_and_nan_become_strict_json(tmp_path: Path) -> None:
    details = {
        "unexpected_percent": np.float64(2.5),
        "rows": np.int64(500),
        "not_measured": float("nan"),
        "flags": np.array([True, False]),
        "when": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    }
    record = _quarantine(tmp_path / "missing", tmp_path / "quarantine", details=details)
    manifest = json.loads(record.manifest_path.read_text(encoding="utf-8"))
    assert manifest["details"] == {
        "unexpected_percent": 2.5,
        "rows": 500,
        "not_measured": None,
        "flags": [True, False],
        "when": "2024-05-01T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    "size",
    [0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 5],
    ids=["empty", "one-byte", "just-under-1MiB", "1MiB", "just-over-1MiB", "3MiB+"],
)
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = _blob(size, seed=size)
    (tmp_path / "f").write_bytes(data)
    assert q.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
