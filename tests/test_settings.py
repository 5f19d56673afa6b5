"""Where things live: the artifact root follows the tracking store."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignment_drift.settings import Settings


@pytest.mark.parametrize(
    ("tracking", "root", "expected"),
    [
        pytest.param("sqlite:///x.db", None, "file://", id="local-store-local-folder"),
        pytest.param("http://mlflow:5000", None, "", id="server-decides"),
        pytest.param("https://mlflow.example", None, "", id="tls-server-decides"),
        pytest.param("http://mlflow:5000", "s3://bucket/mlflow", "s3://bucket/mlflow", id="explicit-s3"),
        pytest.param("http://mlflow:5000", "mlflow-artifacts:/ad", "mlflow-artifacts:/ad", id="proxied"),
        pytest.param("sqlite:///x.db", "relative/arts", "file://", id="plain-path-resolved"),
    ],
)
def test_artifact_root(
    tracking: str, root: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    if root is None:
        monkeypatch.delenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", raising=False)
    else:
        monkeypatch.setenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", root)
    artifacts = Settings.from_env(tmp_path).artifact_root
    if expected == "file://":
        assert artifacts.startswith("file://") and Path(artifacts.removeprefix("file://")).is_absolute()
    else:
        assert artifacts == expected


def test_source_roots_are_absolute_folders_besides_the_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ALIGNMENT_DRIFT_SOURCE_ROOTS", raising=False)
    assert Settings.from_env(tmp_path).allowed_roots == (tmp_path / "data",)
    monkeypatch.setenv("ALIGNMENT_DRIFT_SOURCE_ROOTS", os.pathsep.join([str(tmp_path / "mnt"), "", "/srv/x/../y"]))
    settings = Settings.from_env(tmp_path)
    assert settings.source_roots == (tmp_path / "mnt", Path("/srv/y"))
    assert settings.allowed_roots == (tmp_path / "data", tmp_path / "mnt", Path("/srv/y"))


@pytest.mark.parametrize("value", ["relative/logs", "/", "/etc/.."])
def test_a_source_root_that_is_relative_or_the_whole_disk_is_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_SOURCE_ROOTS", value)
    with pytest.raises(ValueError, match=r"ALIGNMENT_DRIFT_SOURCE_ROOTS.*Fix:"):
        Settings.from_env(tmp_path)


@pytest.mark.parametrize(("value", "expected"), [("", True), ("1", True), ("true", True), ("0", False), ("off", False)])
def test_the_data_docs_switch(value: str, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_GX_DATA_DOCS", value)
    assert Settings.from_env().data_docs is expected


def test_a_data_docs_switch_that_is_not_a_switch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_GX_DATA_DOCS", "sometimes")
    with pytest.raises(ValueError, match="ALIGNMENT_DRIFT_GX_DATA_DOCS must be 1 or 0"):
        Settings.from_env()
