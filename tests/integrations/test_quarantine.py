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


def test_a_corrupt_copy_is_recorded_and_keeps_the_previous_quarantine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, files = _single_file(tmp_path / "src")
    good = _quarantine(source, tmp_path / "quarantine", reason="good")
    from alignment_drift.integrations import quarantine_copy

    real_write = quarantine_copy.write_all

    def corrupting_write(fd: int, data: bytes) -> None:  # a disk that flips the last byte it is given
        real_write(fd, data[:-1] + b"\x00")

    monkeypatch.setattr(quarantine_copy, "write_all", corrupting_write)
    bad = _quarantine(source, tmp_path / "quarantine", reason="bad")
    assert bad.copy_error is not None and "does not match" in bad.copy_error and "Fix:" in bad.copy_error
    manifest = json.loads(good.manifest_path.read_text(encoding="utf-8"))
    assert manifest["reason"] == "bad" and manifest["copy"]["status"] == "failed"
    assert manifest["history"][0]["reason"] == "good"
    assert (good.path / "predictions.parquet").read_bytes() == files["predictions.parquet"]
    assert q.verify_quarantine(good.path) == []  # the earlier copy is kept, and described by the manifest
    assert _siblings(good) == [NIGHT]


def _enospc_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes to files below ``folder`` fail as on a full disk (os.write, the file layer); other writes work."""
    import errno
    import os

    real = os.write

    def write(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_leaves_nothing_partial_and_the_night_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = _partition_folder(tmp_path / "src")
    _enospc_in(tmp_path / "quarantine", monkeypatch)
    record = _quarantine(folder, tmp_path / "quarantine", reason="duplicate ids")
    assert record.copy_error is not None
    assert "No space left on device" in record.copy_error and "Fix: free space" in record.copy_error
    left = sorted(p.relative_to(record.path).as_posix() for p in record.path.rglob("*"))
    assert left == [q.MANIFEST_NAME]  # no partial copy
    manifest = json.loads(record.manifest_path.read_text(encoding="utf-8"))
    assert (manifest["status"], manifest["reason"], manifest["files"]) == ("quarantined", "duplicate ids", [])
    assert manifest["copy"] == {"status": "failed", "error": record.copy_error}
    assert _siblings(record) == [NIGHT]
    json.dumps(record.to_dict(), allow_nan=False)


def test_quarantine_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    folder, files = _partition_folder(tmp_path / "src")
    for path in folder.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    old = os.umask(0)
    try:
        record = _quarantine(folder, tmp_path / "quarantine")
    finally:
        os.umask(old)
    made = [tmp_path / "quarantine", record.path.parent, *record.path.rglob("*"), record.path]
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in made}
    assert modes == {k: 0o700 if (tmp_path / k).is_dir() else 0o600 for k in modes}
    assert len([m for k, m in modes.items() if m == 0o600]) == len(files) + 1  # the copies and the manifest


def test_a_batch_folder_with_its_own_manifest_is_kept_below_batch(tmp_path: Path) -> None:
    folder, files = _partition_folder(tmp_path / "src")
    _put(folder, "manifest.json", b'{"writer": "spark"}')
    record = _quarantine(folder, tmp_path / "quarantine")
    assert record.copy_error is None
    assert (record.path / "batch" / "manifest.json").read_bytes() == b'{"writer": "spark"}'
    assert sorted(f.path for f in record.files) == sorted(f"batch/{rel}" for rel in [*files, "manifest.json"])
    assert json.loads(record.manifest_path.read_text())["schema"] == q.SCHEMA
    assert q.verify_quarantine(record.path) == []


def test_a_file_still_being_written_is_not_copied_half(tmp_path: Path) -> None:
    import threading

    source, _ = _single_file(tmp_path / "src")
    started, stop = threading.Event(), threading.Event()

    def writer() -> None:
        with source.open("ab") as out:
            while not stop.is_set():
                out.write(b"x" * 4096)
                out.flush()
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(10)
    try:
        record = _quarantine(source, tmp_path / "quarantine")
    finally:
        stop.set()
        thread.join()
    assert record.copy_error is not None and "changed while it was copied" in record.copy_error
    assert sorted(p.name for p in record.path.iterdir()) == [q.MANIFEST_NAME]


def test_a_named_pipe_is_never_opened_for_reading(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe")  # opening it blocking would wait forever for a writer
    with pytest.raises(OSError, match="not a regular file"):
        q.sha256_file(tmp_path / "pipe")
    record = q.quarantine_batch(
        "pipe",
        quarantine_root=tmp_path / "quarantine",
        model="m",
        interval_start="2026-01-01",
        reason="x",
        details={},
        members=[("pipe", tmp_path / "pipe")],
    )
    assert record.copy_error is not None and "not a regular file" in record.copy_error and record.files == ()


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
